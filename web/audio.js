// Browser audio for the page: microphone capture and reply playback over one AudioContext.
// Main-thread object; the heavy lifting runs in two AudioWorklets (worklets/capture.js,
// worklets/playback.js). Capture: mic -> worklet (context rate) -> resample to 24 kHz -> pcm16
// base64 -> onAudio callback. Playback: base64 pcm16 at 24 kHz -> resample to context rate ->
// worklet queue. Played time is tracked per assistant item in 24 kHz samples so barge-in can
// report exactly what was heard (conversation.item.truncate audio_end_ms).
import { StreamResampler, base64Pcm16ToFloat, floatToBase64Pcm16, kWireRateHz } from './pcm.js';

export class AudioEngine {
  constructor({ onAudio, onLevel, onPlayback }) {
    this.on_audio_ = onAudio;        // (base64_pcm16, samples at 24 kHz) => void, ~20 ms per call
    this.on_level_ = onLevel;        // (rms 0..1) => void
    this.on_playback_ = onPlayback;  // ({playing, samplesPlayed}) => void
    this.context_ = null;
    this.mic_stream_ = null;
    this.capture_node_ = null;
    this.playback_node_ = null;
    this.capture_resampler_ = null;
    this.playback_resampler_ = null;
    this.sending_ = false;
    // Playback bookkeeping in context frames: segments [{item_id, start, end}] of the queue.
    this.segments_ = [];
    this.frames_queued_ = 0;
    this.frames_played_ = 0;
    this.playing_ = false;
    this.clear_waiters_ = new Map();
    this.next_clear_id_ = 1;
    this.playback_seq_ = 0;  // bumped on clear so stale chunks of a cancelled reply are dropped
  }

  get contextRateHz() { return this.context_ ? this.context_.sampleRate : 0; }
  get playing() { return this.playing_; }
  // Reply audio actually played so far (all items), in 24 kHz samples.
  get samplesPlayed() { return this.ToWire(this.frames_played_); }

  ToWire(frames) {
    return this.context_ ? Math.round((frames * kWireRateHz) / this.context_.sampleRate) : 0;
  }

  // Must be called from a user gesture (browsers keep audio suspended otherwise).
  async Open() {
    if (this.context_) {
      if (this.context_.state === 'suspended') await this.context_.resume();
      return;
    }
    const context = new AudioContext({ latencyHint: 'interactive' });
    try {
      await context.audioWorklet.addModule(new URL('./worklets/capture.js', import.meta.url));
      await context.audioWorklet.addModule(new URL('./worklets/playback.js', import.meta.url));
    } catch (e) {
      await context.close();
      throw new Error(`could not load the audio worklets (${e.message}); is the page served over http(s)?`);
    }
    this.context_ = context;
    this.playback_node_ = new AudioWorkletNode(context, 'cadence-playback',
      { numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1] });
    this.playback_node_.connect(context.destination);
    this.playback_node_.port.onmessage = (e) => this.OnPlaybackMessage(e.data);
    this.playback_resampler_ = new StreamResampler(kWireRateHz, context.sampleRate);
    if (context.state === 'suspended') await context.resume();
  }

  // `auto_gain`: the browser's automatic gain control, off unless asked for (see below).
  async StartMic({ auto_gain = false } = {}) {
    await this.Open();
    if (this.mic_stream_) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error('this browser offers no microphone access here (a secure context is needed: https or localhost)');
    }
    // No automatic gain control by default: Chrome's AGC starts each capture at a high gain and adapts only
    // after the first loud speech, so the first utterance reached the server clipped (peak 1.0,
    // ~+7 dB over the source) and PocketSphinx misheard its first words ("hello town…",
    // "callahan…" for "hello how…") while later ones were right. The server's VAD and
    // recognizers do not need a levelled input. Echo cancellation stays on: it keeps the reply
    // played through speakers from barging in on itself. A very quiet microphone may want AGC.
    this.mic_stream_ = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: auto_gain },
    });
    const source = this.context_.createMediaStreamSource(this.mic_stream_);
    this.capture_node_ = new AudioWorkletNode(this.context_, 'cadence-capture',
      { numberOfInputs: 1, numberOfOutputs: 1, outputChannelCount: [1] });
    // A muted path to the destination keeps the worklet pulled by the graph.
    const mute = this.context_.createGain();
    mute.gain.value = 0;
    source.connect(this.capture_node_).connect(mute).connect(this.context_.destination);
    this.capture_source_ = source;
    this.capture_mute_ = mute;
    this.capture_resampler_ = new StreamResampler(this.context_.sampleRate, kWireRateHz);
    this.capture_node_.port.onmessage = (e) => {
      if (e.data.type !== 'audio') return;
      if (this.on_level_) this.on_level_(e.data.rms);
      const wire = this.capture_resampler_.process(e.data.samples);
      if (this.sending_ && wire.length > 0) this.on_audio_(floatToBase64Pcm16(wire), wire.length);
    };
  }

  // What the browser applied to the microphone track (MediaTrackSettings), or null.
  get micSettings() {
    const track = this.mic_stream_ && this.mic_stream_.getAudioTracks()[0];
    return track ? track.getSettings() : null;
  }

  StopMic() {
    if (this.capture_node_) {
      this.capture_node_.port.onmessage = null;
      this.capture_source_.disconnect();
      this.capture_node_.disconnect();
      this.capture_mute_.disconnect();
      this.capture_node_ = null;
    }
    if (this.mic_stream_) {
      for (const track of this.mic_stream_.getTracks()) track.stop();
      this.mic_stream_ = null;
    }
    if (this.on_level_) this.on_level_(0);
  }

  // Whether captured audio goes to the server (press-to-talk gates it; hands-free keeps it on).
  SetSending(sending) {
    if (sending && !this.sending_ && this.capture_resampler_) this.capture_resampler_.reset();
    this.sending_ = sending;
  }

  // One response.output_audio.delta.
  Enqueue(item_id, base64) {
    if (!this.context_) return;
    const wire = base64Pcm16ToFloat(base64);
    this.Push(item_id, this.playback_resampler_.process(wire));
  }

  // response.output_audio.done: release the resampler's lookahead.
  EndItem(item_id) {
    if (!this.context_) return;
    this.Push(item_id, this.playback_resampler_.flush());
  }

  Push(item_id, samples) {
    if (samples.length === 0) return;
    const last = this.segments_[this.segments_.length - 1];
    if (last && last.item_id === item_id && last.end === this.frames_queued_) {
      last.end += samples.length;
    } else {
      this.segments_.push({ item_id, start: this.frames_queued_, end: this.frames_queued_ + samples.length });
    }
    this.frames_queued_ += samples.length;
    this.playback_node_.port.postMessage({ type: 'push', samples }, [samples.buffer]);
    if (!this.playing_) {
      this.playing_ = true;
      this.NotifyPlayback();
    }
  }

  // How much of `item_id` has been heard, in ms of reply audio.
  PlayedMs(item_id) {
    let frames = 0;
    for (const s of this.segments_) {
      if (s.item_id !== item_id) continue;
      frames += Math.max(0, Math.min(this.frames_played_, s.end) - s.start);
    }
    return Math.round((frames * 1000) / this.contextRateHz);
  }

  // Barge-in: stop at once. Resolves with {item_id, played_ms, cut} for the item heard last (null
  // when none), using the worklet's exact count at the moment it dropped the queue; `cut` says
  // whether queued audio of it was dropped unheard.
  async StopPlayback() {
    if (!this.context_) return null;
    const queued_before = this.frames_queued_;
    const id = this.next_clear_id_++;
    const cleared = new Promise((resolve) => {
      this.clear_waiters_.set(id, resolve);
      setTimeout(() => { if (this.clear_waiters_.delete(id)) resolve(null); }, 500);
    });
    this.playback_node_.port.postMessage({ type: 'clear', id });
    this.playback_resampler_.reset();
    await cleared;
    const current = this.segments_.find((s) => s.start <= this.frames_played_ && this.frames_played_ < s.end) ||
      this.segments_.filter((s) => s.start < this.frames_played_).pop();
    const result = current
      ? { item_id: current.item_id, played_ms: this.PlayedMs(current.item_id), cut: queued_before > this.frames_played_ }
      : null;
    this.frames_queued_ = this.frames_played_;
    this.segments_ = this.segments_.filter((s) => s.start < this.frames_played_)
      .map((s) => ({ ...s, end: Math.min(s.end, this.frames_played_) }));
    this.playing_ = false;
    this.NotifyPlayback();
    return result;
  }

  OnPlaybackMessage(msg) {
    if (msg.type === 'cleared') {
      this.frames_played_ = msg.frames_played;
      const resolve = this.clear_waiters_.get(msg.id);
      if (resolve) {
        this.clear_waiters_.delete(msg.id);
        resolve(msg);
      }
      return;
    }
    if (msg.type === 'status') {
      this.frames_played_ = msg.frames_played;
      const playing = msg.playing || msg.frames_buffered > 0;
      if (playing !== this.playing_) this.playing_ = playing;
      // Forget segments that finished long ago; keep the last one for truncation lookups.
      while (this.segments_.length > 8 && this.segments_[0].end <= this.frames_played_) this.segments_.shift();
      this.NotifyPlayback();
    }
  }

  NotifyPlayback() {
    if (this.on_playback_) this.on_playback_({ playing: this.playing_, samplesPlayed: this.samplesPlayed });
  }

  async Close() {
    this.StopMic();
    if (this.context_) {
      const context = this.context_;
      this.context_ = null;
      await context.close();
    }
  }
}
