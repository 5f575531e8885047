// PCM helpers shared by the page, its AudioWorklets and the Node tests.
// Pure functions and one small stateful class; no DOM, no Web Audio, so Node can test them.
// Units: samples are float in [-1, 1] or signed 16-bit integers; rates in Hz; pcm16 is little-endian.

export const kWireRateHz = 24000;  // Realtime API pcm16 rate, both directions

// Float [-1, 1] -> Int16, clipping rather than wrapping on overload.
export function floatToPcm16(samples) {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out[i] = s < 0 ? Math.round(s * 32768) : Math.round(s * 32767);
  }
  return out;
}

export function pcm16ToFloat(pcm) {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = pcm[i] / 32768;
  return out;
}

// Little-endian bytes regardless of the host's byte order (the wire format says so).
export function pcm16ToBytes(pcm) {
  const bytes = new Uint8Array(pcm.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < pcm.length; i++) view.setInt16(i * 2, pcm[i], true);
  return bytes;
}

export function bytesToPcm16(bytes) {
  if (bytes.length % 2 !== 0) {
    throw new Error(`pcm16 audio has an odd byte count (${bytes.length}); expected 2 bytes per sample`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Int16Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

const kB64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const kB64Index = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < kB64.length; i++) t[kB64.charCodeAt(i)] = i;
  return t;
})();

// Own codec instead of btoa/atob: works in Node and worklets alike and avoids binary strings.
export function bytesToBase64(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += kB64[n >> 18] + kB64[(n >> 12) & 63] + kB64[(n >> 6) & 63] + kB64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += kB64[n >> 18] + kB64[(n >> 12) & 63] + '==';
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += kB64[n >> 18] + kB64[(n >> 12) & 63] + kB64[(n >> 6) & 63] + '=';
  }
  return out;
}

export function base64ToBytes(text) {
  const clean = text.replace(/[\s=]+/g, '');
  if (clean.length % 4 === 1) throw new Error(`base64 audio has a bad length (${text.length} characters)`);
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean.charCodeAt(i);
    const v = c < 128 ? kB64Index[c] : -1;
    if (v < 0) throw new Error(`base64 audio has an invalid character at offset ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

export function floatToBase64Pcm16(samples) {
  return bytesToBase64(pcm16ToBytes(floatToPcm16(samples)));
}

export function base64Pcm16ToFloat(text) {
  return pcm16ToFloat(bytesToPcm16(base64ToBytes(text)));
}

// Streaming band-limited resampler (windowed sinc, Blackman window). Chunk boundaries do not
// change the output: feeding a signal in any split gives the same samples as feeding it whole.
// Output lags input by kHalfTaps zero crossings; flush() pushes the tail out.
export class StreamResampler {
  constructor(input_rate_hz, output_rate_hz, zero_crossings = 8) {
    if (!(input_rate_hz > 0) || !(output_rate_hz > 0)) {
      throw new Error(`resampler rates must be positive (got ${input_rate_hz} -> ${output_rate_hz} Hz)`);
    }
    this.input_rate_hz = input_rate_hz;
    this.output_rate_hz = output_rate_hz;
    this.step_ = input_rate_hz / output_rate_hz;  // input samples per output sample
    // Cut a little below the lower Nyquist so the transition band does not alias.
    this.cutoff_ = Math.min(1, output_rate_hz / input_rate_hz) * 0.92;
    this.half_width_ = Math.ceil(zero_crossings / this.cutoff_);
    this.reset();
  }

  reset() {
    this.buf_ = new Float32Array(this.half_width_);  // left history starts as silence
    this.len_ = this.half_width_;
    this.pos_ = this.half_width_;  // fractional input index of the next output sample
    this.inputs_total_ = 0;
    this.outputs_total_ = 0;
  }

  Kernel(d) {
    const w = this.half_width_;
    if (d <= -w || d >= w) return 0;
    const x = this.cutoff_ * d;
    const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
    const t = (d + w) / (2 * w);  // 0..1 across the window
    const blackman = 0.42 - 0.5 * Math.cos(2 * Math.PI * t) + 0.08 * Math.cos(4 * Math.PI * t);
    return this.cutoff_ * sinc * blackman;
  }

  Append(input) {
    if (this.len_ + input.length > this.buf_.length) {
      const grown = new Float32Array(Math.max(this.buf_.length * 2, this.len_ + input.length));
      grown.set(this.buf_.subarray(0, this.len_));
      this.buf_ = grown;
    }
    this.buf_.set(input, this.len_);
    this.len_ += input.length;
  }

  process(input) {
    if (this.step_ === 1) return Float32Array.from(input);
    this.inputs_total_ += input.length;
    this.Append(input);
    const w = this.half_width_;
    const out = [];
    while (Math.floor(this.pos_) + w < this.len_) {
      const base = Math.floor(this.pos_);
      const frac = this.pos_ - base;
      let acc = 0;
      for (let k = base - w + 1; k <= base + w; k++) {
        if (k >= 0) acc += this.buf_[k] * this.Kernel(frac + base - k);
      }
      out.push(acc);
      this.pos_ += this.step_;
    }
    // Drop input no future output can reach.
    const drop = Math.max(0, Math.floor(this.pos_) - w + 1);
    if (drop > 0) {
      this.buf_.copyWithin(0, drop, this.len_);
      this.len_ -= drop;
      this.pos_ -= drop;
    }
    this.outputs_total_ += out.length;
    return Float32Array.from(out);
  }

  // Emits what the lookahead still holds (end of a reply), then starts fresh.
  flush() {
    if (this.step_ === 1) return new Float32Array(0);
    const owed = Math.round(this.inputs_total_ / this.step_) - this.outputs_total_;
    const tail = this.process(new Float32Array(this.half_width_ + 1));
    this.reset();
    return tail.subarray(0, Math.max(0, Math.min(owed, tail.length)));
  }
}
