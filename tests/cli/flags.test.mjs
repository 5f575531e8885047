// Black-box: every command and benchmark refuses a malformed or out-of-range flag value with
// "error: --NAME must be ... (got 'VALUE')" and exit code 2, before doing any work (no model loaded,
// no port opened, nothing written to stdout).
// Run: node --test tests/cli/flags.test.mjs   (CADENCE_BIN overrides build/cadence)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const kRepo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const kBinary = process.env.CADENCE_BIN || join(kRepo, 'build', 'cadence');
const kModel = join(kRepo, 'tests', 'engine', 'data', 'qwen2-small-f32.gguf');

function Cadence(args) {
  // A command that ignored the bad value would go on to work (serve would listen until killed).
  return spawnSync(kBinary, args, { encoding: 'utf8', timeout: 20000 });
}

function AssertUsageError(run, message) {
  assert.equal(run.status, 2, `exit ${run.status} (signal ${run.signal}); stderr:\n${run.stderr}`);
  assert.ok(run.stderr.includes(message), `stderr lacks "${message}":\n${run.stderr}`);
  assert.equal(run.stdout, '', 'nothing is printed to stdout');
}

test('generate --temp hot: exit 2 naming the flag and the value', () => {
  AssertUsageError(Cadence(['generate', '--temp', 'hot', '--prompt', 'x', '--model', kModel]),
    "error: --temp must be a number from 0 to 100 (got 'hot')");
});

test('generate -n abc: exit 2 naming the flag and the value', () => {
  AssertUsageError(Cadence(['generate', '-n', 'abc', '--prompt', 'x', '--model', kModel]),
    "error: --n must be a whole number from 1 to 1048576 (got 'abc')");
});

test('generate --n=12abc (trailing garbage) and --top-p 1.5 (out of range) are usage errors', () => {
  AssertUsageError(Cadence(['generate', '--n=12abc', '--prompt', 'x', '--model', kModel]), "(got '12abc')");
  AssertUsageError(Cadence(['generate', '--top-p', '1.5', '--prompt', 'x', '--model', kModel]),
    "error: --top-p must be a number from 0 to 1 (got '1.5')");
});

test('serve --port abc: exit 2 before listening', () => {
  AssertUsageError(Cadence(['serve', '--port', 'abc']), "error: --port must be a whole number from 0 to 65535 (got 'abc')");
  AssertUsageError(Cadence(['serve', '--port', '70000']), "(got '70000')");
  AssertUsageError(Cadence(['serve', '--no-auth', '--threads', '0']), "error: --threads must be a whole number from 1 to 1024 (got '0')");
  AssertUsageError(Cadence(['serve', '--asr-window', 'half']), "error: --asr-window must be one of full, speech (got 'half')");
});

test('every other command and benchmark checks its numbers', () => {
  const cases = [
    [['say', '--speed', 'fast', '-o', '/dev/null', 'hi'], "error: --speed must be a number from 0.25 to 4 (got 'fast')"],
    [['transcribe', '--chunk-ms', '5', 'a.wav'], "error: --chunk-ms must be a whole number from 10 to 60000 (got '5')"],
    [['vad', '--threshold', '2', 'a.wav'], "error: --threshold must be a number from 0 to 1 (got '2')"],
    [['vad', '--rate', '44100', 'a.wav'], "error: --rate must be one of 16000, 8000 (got '44100')"],
    [['bench', 'engine', '--prompt-tokens', 'x'], "error: --prompt-tokens must be a whole number"],
    [['bench', 'asr', '--threads', '2x'], "error: --threads must be a whole number from 1 to 1024 (got '2x')"],
    [['bench', 'tts', '--repeat', '0'], "error: --repeat must be a whole number from 1 to 1000 (got '0')"],
    [['bench', 'vad', '--seconds', 'long'], "error: --seconds must be a number"],
    [['bench', 'paralinguistics', '--minutes', '-1'], "error: --minutes must be a number"],
    [['bench', 'persona', '--turns', '1.5'], "error: --turns must be a whole number"],
    [['bench', 'realtime', '--idle', 'many'], "error: --idle must be a whole number"],
  ];
  for (const [args, message] of cases) AssertUsageError(Cadence(args), message);
});

test('an unknown flag and a missing value are usage errors too', () => {
  AssertUsageError(Cadence(['generate', '--bogus', '1']), 'error: unknown option --bogus');
  AssertUsageError(Cadence(['generate', '--prompt', 'x', '--temp']), 'error: option --temp needs a value (T)');
});
