// Black-box: `cadence generate` as a user runs it, on the repo's tiny generated models. Greedy
// output must match the independent reference's (tools/engine/make_tiny_models.py, NumPy) token
// for token on F32 and Q8_0 files, Qwen2 and Llama; a missing or corrupt file is a clear error.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { kBinary, kRepo, TempDir } from '../protocol/harness.mjs';

const kData = join(kRepo, 'tests', 'engine', 'data');

function Generate(args) {
  return spawnSync(kBinary, ['generate', ...args], { encoding: 'utf8' });
}

for (const name of ['qwen2-small-f32', 'qwen2-small-q8_0', 'llama-small-f32', 'llama-small-q8_0']) {
  test(`generate --raw --temp 0 on ${name} matches the reference's greedy tokens`, () => {
    const golden = JSON.parse(readFileSync(join(kData, `${name}.golden.json`), 'utf8'));
    const n = golden.greedy.length;
    const run = Generate(['--model', join(kData, `${name}.gguf`), '--raw', '--prompt', golden.prompt, '--temp', '0',
      '-n', String(n), '--tokens']);
    assert.equal(run.status, 0, run.stderr);
    const ids = run.stdout.trimEnd().split('\n').at(-1).split(' ').map(Number);
    const accepted = [golden.greedy, ...(golden.greedy_alternatives ?? [])];
    assert.ok(accepted.some((want) => JSON.stringify(want) === JSON.stringify(ids)),
      `${name}: got ${ids}, reference ${golden.greedy}`);
  });
}

test('generate: a missing or corrupt model file is a clear error naming it', () => {
  const missing = join(TempDir('cadence-gen-'), 'absent.gguf');
  let run = Generate(['--model', missing, '--prompt', 'hi']);
  assert.notEqual(run.status, 0);
  assert.ok(run.stderr.includes(missing), run.stderr);
  assert.match(run.stderr, /cannot open/);

  const corrupt = join(TempDir('cadence-gen-'), 'corrupt.gguf');
  writeFileSync(corrupt, Buffer.from('this is not a GGUF file at all, just text'));
  run = Generate(['--model', corrupt, '--prompt', 'hi']);
  assert.notEqual(run.status, 0);
  assert.ok(run.stderr.includes(corrupt), run.stderr);
  assert.match(run.stderr, /header\.magic/);
  assert.doesNotMatch(run.stderr, /Segmentation|Aborted|terminate called/);
});
