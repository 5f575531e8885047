// TurnDetector: server VAD turn taking from per-window speech probabilities.
//
// Fed the probabilities of consecutive 512-sample windows at 16 kHz (32 ms each, speech/vad/vad.h).
// Speech starts after kMinSpeechWindows windows at or above `threshold`; it stops after
// `silence_duration_ms` of windows below a hysteresis threshold (threshold - 0.15, as Silero's
// own iterator does). Times are milliseconds of input audio since the detector began (or since the
// offset given to Reset). Single-threaded; no allocation.
//
// Within speech, a silence that lasts pause_ms() (part of silence_duration_ms) is reported as a
// pause: the speaker may have finished, and a recognizer whose final is slow can start it early
// (speech::RecognizerStream::Pause). A window that breaks the silence before the stop is reported
// as the speech resuming, so the early work is known to be stale.
#pragma once

#include <cstdint>
#include <optional>

namespace cadence::realtime {

struct TurnEvent {
  enum class Kind { kSpeechStarted, kSpeechPaused, kSpeechResumed, kSpeechStopped };
  Kind kind;
  // started: first speech minus prefix padding; paused, resumed: the window's end; stopped: end of
  // the silence
  int64_t audio_ms;
};

class TurnDetector {
 public:
  static constexpr int kWindowMs = 32;
  static constexpr int kMinSpeechWindows = 2;
  // A pause is reported after this much of the silence that stops a turn (at most half of it).
  static constexpr int kMaxPauseMs = 200;

  void Configure(double threshold, int prefix_padding_ms, int silence_duration_ms);
  // Restarts detection (not in speech); the next window starts at `audio_ms`.
  void Reset(int64_t audio_ms);
  // One window's probability; returns a turn event when one happens at this window.
  std::optional<TurnEvent> Push(float probability);

  bool in_speech() const { return in_speech_; }
  // Silence within speech reported as a pause: min(kMaxPauseMs, silence_duration_ms / 2).
  int pause_ms() const;
  int64_t position_ms() const { return windows_ * kWindowMs + offset_ms_; }
  // Start of the speech in progress (before prefix padding), valid while in_speech().
  int64_t speech_start_ms() const { return speech_start_ms_; }

 private:
  double threshold_ = 0.5;
  int prefix_padding_ms_ = 300;
  int silence_duration_ms_ = 500;
  int64_t offset_ms_ = 0;
  int64_t windows_ = 0;
  bool in_speech_ = false;
  int speech_run_ = 0;
  int silence_run_ = 0;
  bool paused_ = false;
  int64_t speech_start_ms_ = 0;
  int64_t floor_ms_ = 0;  // audio_start_ms never precedes the last reset
};

}  // namespace cadence::realtime
