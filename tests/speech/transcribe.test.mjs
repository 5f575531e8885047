// `cadence transcribe`: the server's recognizer on WAV files, black box. Speech is made at test time
// (flite -> sox), so the transcript is a real round trip; the same file fed in different piece sizes
// must give the same transcript, and bad input must name the file at fault.
// Run: node --test tests/speech/transcribe.test.mjs   (CADENCE_BIN overrides build/cadence)
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { TempDir, WordErrors } from '../protocol/harness.mjs';

const kBinary = process.env.CADENCE_BIN || join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'cadence');
const kSentence = 'i would like a cup of coffee please';
let dir;
let wav;

function Transcribe(args) {
  const run = spawnSync(kBinary, ['transcribe', ...args], { encoding: 'utf8', timeout: 120000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

before(() => {
  dir = TempDir('cadence-transcribe-');
  const raw = join(dir, 'flite.wav');
  wav = join(dir, 'speech_24k.wav');
  execFileSync('flite', ['-voice', 'slt', '-t', kSentence, '-o', raw], { stdio: 'pipe' });
  execFileSync('sox', ['-R', raw, '-r', '24000', '-b', '16', '-c', '1', wav, 'pad', '0.3', '0.5'], { stdio: 'pipe' });
});
after(() => execFileSync('rm', ['-rf', dir]));

test('transcribes a 24 kHz WAV, one line per file, the same however the audio is cut into pieces', () => {
  const run = Transcribe([wav, '--stats']);
  assert.equal(run.code, 0, run.stderr);
  const [path, text] = run.stdout.trim().split('\t');
  assert.equal(path, wav);
  const { errors, words } = WordErrors(kSentence, text);
  assert.ok(errors <= 1, `"${text}": ${errors} of ${words} words wrong`);
  assert.match(run.stderr, /pocketsphinx: [\d.]+ s of audio in [\d.]+ s of CPU/);
  for (const chunk_ms of ['10', '37', '2000']) {
    const other = Transcribe([wav, '--chunk-ms', chunk_ms]);
    assert.equal(other.code, 0, other.stderr);
    assert.equal(other.stdout.trim().split('\t')[1], text, `--chunk-ms ${chunk_ms}`);
  }
});

test('a missing or unreadable file is named in the error; the others are still transcribed', () => {
  const junk = join(dir, 'notes.wav');
  writeFileSync(junk, 'this is not a wave file');
  const run = Transcribe(['/nonexistent/talk.wav', junk, wav]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /\/nonexistent\/talk\.wav/);
  assert.match(run.stderr, /notes\.wav/);
  assert.equal(run.stdout.trim().split('\n').length, 1, run.stdout);
  assert.ok(run.stdout.startsWith(wav));
  const none = Transcribe([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /one or more WAV files/);
});
