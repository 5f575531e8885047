#include "realtime/turn_detector.h"

#include <algorithm>

namespace cadence::realtime {

void TurnDetector::Configure(double threshold, int prefix_padding_ms, int silence_duration_ms) {
  threshold_ = threshold;
  prefix_padding_ms_ = prefix_padding_ms;
  silence_duration_ms_ = silence_duration_ms;
}

int TurnDetector::pause_ms() const { return std::min(kMaxPauseMs, silence_duration_ms_ / 2); }

void TurnDetector::Reset(int64_t audio_ms) {
  offset_ms_ = audio_ms;
  floor_ms_ = audio_ms;
  windows_ = 0;
  in_speech_ = false;
  speech_run_ = 0;
  silence_run_ = 0;
  paused_ = false;
}

std::optional<TurnEvent> TurnDetector::Push(float probability) {
  const int64_t window_start_ms = position_ms();
  ++windows_;
  if (!in_speech_) {
    if (probability >= threshold_) {
      ++speech_run_;
    } else {
      speech_run_ = 0;
    }
    if (speech_run_ >= kMinSpeechWindows) {
      in_speech_ = true;
      silence_run_ = 0;
      paused_ = false;
      speech_start_ms_ = window_start_ms - (kMinSpeechWindows - 1) * kWindowMs;
      const int64_t start = std::max(floor_ms_, speech_start_ms_ - prefix_padding_ms_);
      return TurnEvent{TurnEvent::Kind::kSpeechStarted, start};
    }
    return std::nullopt;
  }
  const double low = std::max(0.01, threshold_ - 0.15);
  if (probability >= low) {
    silence_run_ = 0;
    if (!paused_) return std::nullopt;
    paused_ = false;
    return TurnEvent{TurnEvent::Kind::kSpeechResumed, position_ms()};
  }
  ++silence_run_;
  if (silence_run_ * kWindowMs >= silence_duration_ms_) {
    in_speech_ = false;
    speech_run_ = 0;
    silence_run_ = 0;
    paused_ = false;
    return TurnEvent{TurnEvent::Kind::kSpeechStopped, position_ms()};
  }
  if (!paused_ && silence_run_ * kWindowMs >= pause_ms()) {
    paused_ = true;
    return TurnEvent{TurnEvent::Kind::kSpeechPaused, position_ms()};
  }
  return std::nullopt;
}

}  // namespace cadence::realtime
