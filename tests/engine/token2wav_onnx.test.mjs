// The tiny token2wav voice-prompt graphs (tests/engine/data/token2wav/) in onnxruntime-node, an
// independent runtime, against the PyTorch goldens the C++ interpreter is checked against
// (tests/engine/formats/onnx/voice_prompt_graphs_test.cc): if both agree with PyTorch, Cadence's
// interpreter agrees with onnxruntime on these graphs. CAM++ embedding within 1e-5, token ids
// equal, also for features padded past feats_length.
//
// Run: node --test tests/engine/token2wav_onnx.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const data = path.join(root, 'tests/engine/data/token2wav');

// CTEN: "CTEN", int32 dtype (1 float32, 7 int64), int32 rank, int64 dims, data.
function readCten(name) {
  const b = fs.readFileSync(path.join(data, name));
  assert.equal(b.toString('ascii', 0, 4), 'CTEN', `${name}: not CTEN`);
  const dtype = b.readInt32LE(4), rank = b.readInt32LE(8);
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(Number(b.readBigInt64LE(12 + 8 * i)));
  const at = 12 + 8 * rank, n = dims.reduce((a, d) => a * d, 1);
  const body = b.buffer.slice(b.byteOffset + at, b.byteOffset + at + n * (dtype === 1 ? 4 : 8));
  return { dims, values: dtype === 1 ? new Float32Array(body) : new BigInt64Array(body) };
}

test('campplus_tiny.onnx in onnxruntime matches PyTorch', async () => {
  const session = await ort.InferenceSession.create(path.join(data, 'campplus_tiny.onnx'));
  assert.deepEqual(session.inputNames, ['input']);
  assert.deepEqual(session.outputNames, ['output']);
  const fbank = readCten('fbank_cmn.cten');
  const want = readCten('campplus_tiny.embedding.cten');
  const out = await session.run({ input: new ort.Tensor('float32', fbank.values, [1, ...fbank.dims]) });
  const got = out.output.data;
  assert.equal(got.length, 192);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want.values[i]));
  assert.ok(worst < 1e-5, `max |ort - torch| = ${worst}`);
});

test('speech_tokenizer_v2_tiny.onnx in onnxruntime gives the PyTorch token ids', async () => {
  const session = await ort.InferenceSession.create(path.join(data, 'speech_tokenizer_v2_tiny.onnx'));
  assert.deepEqual(session.inputNames, ['feats', 'feats_length']);
  assert.deepEqual(session.outputNames, ['indices']);
  const mel = readCten('whisper_mel128.cten');
  const frames = mel.dims[1];
  const length = new ort.Tensor('int32', Int32Array.from([frames]), [1]);
  const ids = (t) => Array.from(t.data, Number);
  const out = await session.run({ feats: new ort.Tensor('float32', mel.values, [1, 128, frames]), feats_length: length });
  assert.deepEqual(ids(out.indices), Array.from(readCten('speech_tokenizer_v2_tiny.tokens.cten').values, Number));
  const padded = new Float32Array(128 * (frames + 40));
  for (let m = 0; m < 128; m++) padded.set(mel.values.subarray(m * frames, (m + 1) * frames), m * (frames + 40));
  const out2 = await session.run({ feats: new ort.Tensor('float32', padded, [1, 128, frames + 40]), feats_length: length });
  assert.deepEqual(ids(out2.indices), Array.from(readCten('speech_tokenizer_v2_tiny.tokens_padded.cten').values, Number));
});
