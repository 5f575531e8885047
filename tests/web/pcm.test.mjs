// Unit tests for web/pcm.js: the page's wire codec and resampler, checked against Node's own
// base64 and against signal properties (tone level kept, out-of-band tone removed).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  StreamResampler, base64Pcm16ToFloat, base64ToBytes, bytesToBase64, bytesToPcm16, floatToBase64Pcm16,
  floatToPcm16, pcm16ToBytes,
} from '../../web/pcm.js';

function Tone(freq_hz, rate_hz, seconds, amplitude = 0.5) {
  const n = Math.round(rate_hz * seconds);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amplitude * Math.sin((2 * Math.PI * freq_hz * i) / rate_hz);
  return out;
}

function Rms(x, skip = 0) {
  let s = 0;
  for (let i = skip; i < x.length - skip; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, x.length - 2 * skip));
}

test('base64 matches Node for every tail length', () => {
  for (let n = 0; n < 40; n++) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 97 + n * 13) & 0xff);
    const ours = bytesToBase64(bytes);
    assert.equal(ours, Buffer.from(bytes).toString('base64'), `length ${n}`);
    assert.deepEqual(Array.from(base64ToBytes(ours)), Array.from(bytes), `round trip length ${n}`);
  }
});

test('base64 decoder rejects garbage with a clear message', () => {
  assert.throws(() => base64ToBytes('AAA*'), /invalid character at offset 3/);
});

test('pcm16 is little-endian and clips instead of wrapping', () => {
  const pcm = floatToPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5]));
  assert.deepEqual(Array.from(pcm), [0, 32767, -32768, 32767, -32768, 16384]);
  const bytes = pcm16ToBytes(Int16Array.from([0x0102, -2]));
  assert.deepEqual(Array.from(bytes), [0x02, 0x01, 0xfe, 0xff]);
  assert.deepEqual(Array.from(bytesToPcm16(bytes)), [0x0102, -2]);
  assert.throws(() => bytesToPcm16(new Uint8Array(3)), /odd byte count \(3\)/);
});

test('float -> base64 pcm16 -> float round trip within one quantization step', () => {
  const x = Tone(440, 24000, 0.05);
  const y = base64Pcm16ToFloat(floatToBase64Pcm16(x));
  assert.equal(y.length, x.length);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= 1 / 32767, `sample ${i}`);
});

for (const [from, to] of [[48000, 24000], [44100, 24000], [24000, 48000], [24000, 44100]]) {
  test(`resampler ${from} -> ${to} Hz keeps a 1 kHz tone and its length`, () => {
    const r = new StreamResampler(from, to);
    const x = Tone(1000, from, 1.0);
    const y = r.process(x);
    const expected = Math.round(x.length * to / from);
    assert.ok(Math.abs(y.length - expected) <= r.half_width_ * to / from + 2,
      `got ${y.length} samples, expected about ${expected}`);
    const skip = Math.round(to * 0.01);
    assert.ok(Math.abs(Rms(y, skip) - 0.5 / Math.SQRT2) < 0.01, `rms ${Rms(y, skip)}`);
    // The tone's zero crossings must still be 1 kHz at the new rate.
    let crossings = 0;
    for (let i = skip + 1; i < y.length - skip; i++) if (y[i - 1] < 0 && y[i] >= 0) crossings++;
    const seconds = (y.length - 2 * skip) / to;
    assert.ok(Math.abs(crossings / seconds - 1000) < 5, `${crossings / seconds} Hz`);
  });
}

test('resampler 48 -> 24 kHz removes a 15 kHz tone (above the new Nyquist) by > 40 dB', () => {
  const y = new StreamResampler(48000, 24000).process(Tone(15000, 48000, 0.5));
  const attenuation_db = 20 * Math.log10(Rms(y, 200) / (0.5 / Math.SQRT2));
  assert.ok(attenuation_db < -40, `only ${attenuation_db.toFixed(1)} dB`);
});

test('resampler output does not depend on how the input is chunked', () => {
  const x = Tone(700, 48000, 0.3);
  const whole = new StreamResampler(48000, 24000).process(x);
  const r = new StreamResampler(48000, 24000);
  const parts = [];
  let i = 0;
  for (const size of [1, 127, 128, 3, 960, 5000, 17]) {
    parts.push(r.process(x.subarray(i, i + size)));
    i += size;
  }
  parts.push(r.process(x.subarray(i)));
  const joined = Float32Array.from(parts.flatMap((p) => Array.from(p)));
  assert.equal(joined.length, whole.length);
  for (let k = 0; k < whole.length; k++) assert.ok(Math.abs(joined[k] - whole[k]) < 1e-6, `sample ${k}`);
});

test('flush releases the lookahead so a reply ends with its last samples', () => {
  const r = new StreamResampler(24000, 48000);
  const x = Tone(500, 24000, 0.1);
  const head = r.process(x);
  const tail = r.flush();
  const total = head.length + tail.length;
  assert.ok(Math.abs(total - x.length * 2) <= 2, `${total} samples for ${x.length * 2} expected`);
});
