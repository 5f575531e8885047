// TurnDetector: server VAD turn taking from per-window speech probabilities.
//
// Fed the probabilities of consecutive 512-sample windows at 16 kHz (32 ms each, speech/vad/vad.h).
// Speech starts after kMinSpeechWindows windows at or above `threshold`; it stops after
// `silence_duration_ms` of windows below a hysteresis threshold (threshold - 0.15, as Silero's
// own iterator does). Times are milliseconds of input audio since the detector began (or since the
// offset given to Reset). Single-threaded; no allocation.
#pragma once

#include <cstdint>
#include <optional>

namespace cadence::realtime {

struct TurnEvent {
  enum class Kind { kSpeechStarted, kSpeechStopped };
  Kind kind;
  int64_t audio_ms;  // started: first speech minus prefix padding; stopped: end of the silence
};

class TurnDetector {
 public:
  static constexpr int kWindowMs = 32;
  static constexpr int kMinSpeechWindows = 2;

  void Configure(double threshold, int prefix_padding_ms, int silence_duration_ms);
  // Restarts detection (not in speech); the next window starts at `audio_ms`.
  void Reset(int64_t audio_ms);
  // One window's probability; returns a turn event when one happens at this window.
  std::optional<TurnEvent> Push(float probability);

  bool in_speech() const { return in_speech_; }
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
  int64_t speech_start_ms_ = 0;
  int64_t floor_ms_ = 0;  // audio_start_ms never precedes the last reset
};

}  // namespace cadence::realtime
