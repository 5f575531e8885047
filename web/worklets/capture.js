// AudioWorklet: microphone capture. Runs on the audio rendering thread; posts ~20 ms Float32 blocks
// (at the AudioContext's own rate, mono = channel 0) plus their RMS level to the main thread, which
// resamples to 24 kHz and sends them. Holds no state beyond the block being filled.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block_frames_ = Math.max(128, Math.round(sampleRate * 0.02));
    this.block_ = new Float32Array(this.block_frames_);
    this.filled_ = 0;
    this.enabled_ = true;
    this.port.onmessage = (e) => {
      if (e.data && e.data.type === 'enable') this.enabled_ = !!e.data.enabled;
    };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel || !this.enabled_) return true;
    let i = 0;
    while (i < channel.length) {
      const n = Math.min(channel.length - i, this.block_frames_ - this.filled_);
      this.block_.set(channel.subarray(i, i + n), this.filled_);
      this.filled_ += n;
      i += n;
      if (this.filled_ === this.block_frames_) {
        let sum = 0;
        for (let k = 0; k < this.block_frames_; k++) sum += this.block_[k] * this.block_[k];
        const samples = this.block_;
        this.port.postMessage({ type: 'audio', samples, rms: Math.sqrt(sum / this.block_frames_) },
          [samples.buffer]);
        this.block_ = new Float32Array(this.block_frames_);
        this.filled_ = 0;
      }
    }
    return true;
  }
}

registerProcessor('cadence-capture', CaptureProcessor);
