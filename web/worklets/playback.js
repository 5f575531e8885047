// AudioWorklet: gapless reply playback. Runs on the audio rendering thread. The main thread pushes
// Float32 chunks already at the AudioContext's rate; they play back to back with no gap. On
// 'clear' (barge-in) the queue is dropped at once and the exact count of frames played so far is
// reported back, so the page can tell the server how much of the reply the user heard.
// frames_played counts only frames that came from the queue (underrun silence is not counted).
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue_ = [];
    this.offset_ = 0;           // read position inside queue_[0]
    this.frames_played_ = 0;
    this.frames_queued_ = 0;
    this.playing_ = false;
    this.quanta_since_report_ = 0;
    this.port.onmessage = (e) => {
      const msg = e.data;
      if (msg.type === 'push') {
        this.queue_.push(msg.samples);
        this.frames_queued_ += msg.samples.length;
      } else if (msg.type === 'clear') {
        this.queue_ = [];
        this.offset_ = 0;
        this.frames_queued_ = this.frames_played_;
        this.playing_ = false;
        this.port.postMessage({ type: 'cleared', id: msg.id, frames_played: this.frames_played_ });
      }
    };
  }

  Report() {
    this.port.postMessage({
      type: 'status', playing: this.playing_, frames_played: this.frames_played_,
      frames_buffered: this.frames_queued_ - this.frames_played_,
    });
    this.quanta_since_report_ = 0;
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const frames = out[0].length;
    let written = 0;
    while (written < frames && this.queue_.length > 0) {
      const head = this.queue_[0];
      const n = Math.min(frames - written, head.length - this.offset_);
      out[0].set(head.subarray(this.offset_, this.offset_ + n), written);
      written += n;
      this.offset_ += n;
      if (this.offset_ >= head.length) {
        this.queue_.shift();
        this.offset_ = 0;
      }
    }
    if (written < frames) out[0].fill(0, written);
    for (let c = 1; c < out.length; c++) out[c].set(out[0]);
    this.frames_played_ += written;
    const was_playing = this.playing_;
    this.playing_ = this.queue_.length > 0;
    this.quanta_since_report_++;
    // Report every ~10 quanta (~27 ms at 48 kHz) and at once when playback starts or drains.
    if (was_playing !== this.playing_ || (written > 0 && !this.playing_) ||
        (this.playing_ && this.quanta_since_report_ >= 10)) {
      this.Report();
    }
    return true;
  }
}

registerProcessor('cadence-playback', PlaybackProcessor);
