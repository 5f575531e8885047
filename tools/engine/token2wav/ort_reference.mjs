// onnxruntime-node outputs of a folder's campplus.onnx and speech_tokenizer_v2_25hz.onnx on the
// stored prompt features (tests/engine/data/token2wav/fbank_cmn.cten and whisper_mel128.cten), for
// checking Cadence's interpreter on graphs of the published sizes, which are too large to commit
// (make_voice_prompt_onnx.py --published-size DIR writes random ones). Writes DIR/ort_embedding.cten
// and DIR/ort_tokens.cten and prints onnxruntime's time per run (one thread).
//
// Run from the repository root:  node tools/engine/token2wav/ort_reference.mjs DIR
// then: CADENCE_VOICE_PROMPT_DIR=DIR build/tests/engine/engine_test --gtest_also_run_disabled_tests \
//         --gtest_filter='*PublishedSize*'
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const data = path.join(root, 'tests/engine/data/token2wav');
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node tools/engine/token2wav/ort_reference.mjs DIR');
  process.exit(2);
}

function readCten(file) {
  const b = fs.readFileSync(file);
  if (b.toString('ascii', 0, 4) !== 'CTEN') throw new Error(`${file}: not CTEN`);
  const rank = b.readInt32LE(8);
  const dims = [];
  for (let i = 0; i < rank; i++) dims.push(Number(b.readBigInt64LE(12 + 8 * i)));
  const at = 12 + 8 * rank, n = dims.reduce((a, d) => a * d, 1);
  return { dims, values: new Float32Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + at + 4 * n)) };
}

function writeCten(file, dims, values, dtype) {
  const width = dtype === 1 ? 4 : 8;
  const b = Buffer.alloc(12 + 8 * dims.length + width * values.length);
  b.write('CTEN', 0, 'ascii');
  b.writeInt32LE(dtype, 4);
  b.writeInt32LE(dims.length, 8);
  dims.forEach((d, i) => b.writeBigInt64LE(BigInt(d), 12 + 8 * i));
  const at = 12 + 8 * dims.length;
  values.forEach((v, i) => (dtype === 1 ? b.writeFloatLE(v, at + 4 * i) : b.writeBigInt64LE(BigInt(v), at + 8 * i)));
  fs.writeFileSync(file, b);
}

const options = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
const cam = await ort.InferenceSession.create(path.join(dir, 'campplus.onnx'), options);
const fbank = readCten(path.join(data, 'fbank_cmn.cten'));
let t = performance.now();
const emb = await cam.run({ [cam.inputNames[0]]: new ort.Tensor('float32', fbank.values, [1, ...fbank.dims]) });
console.log(`campplus: ${((performance.now() - t) / 1000).toFixed(3)} s for ${fbank.dims[0]} frames`);
const e = emb[cam.outputNames[0]];
writeCten(path.join(dir, 'ort_embedding.cten'), e.dims, Array.from(e.data), 1);

const tok = await ort.InferenceSession.create(path.join(dir, 'speech_tokenizer_v2_25hz.onnx'), options);
const mel = readCten(path.join(data, 'whisper_mel128.cten'));
t = performance.now();
const ids = await tok.run({
  [tok.inputNames[0]]: new ort.Tensor('float32', mel.values, [1, 128, mel.dims[1]]),
  [tok.inputNames[1]]: new ort.Tensor('int32', Int32Array.from([mel.dims[1]]), [1]),
});
console.log(`tokenizer: ${((performance.now() - t) / 1000).toFixed(3)} s for ${mel.dims[1]} frames`);
const out = ids[tok.outputNames[0]];
writeCten(path.join(dir, 'ort_tokens.cten'), out.dims, Array.from(out.data, Number), 7);
