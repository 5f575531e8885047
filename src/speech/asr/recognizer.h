// Speech recognition: streaming transcripts of 16 kHz mono audio.
//
// A Recognizer is loaded once and shared (const, thread-safe); each utterance gets its own
// RecognizerStream. Streams are fed on a compute worker, never on an IO thread: AcceptWaveform()
// may decode. Partial() returns the best hypothesis so far; Finish() ends the utterance.
//
// Early finals: when the turn detector hears the speaker pause (part of the way into the silence
// that would end the turn), the caller says Pause(). An engine whose final is slow (Whisper)
// transcribes the audio so far right then, on the same worker. If the turn does end without more
// speech, the caller ends it with FinishAtPause(), which returns that transcript without decoding
// the trailing silence; the final then costs only what the pause's decode has not yet finished.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cadence::speech {

inline constexpr int kAsrSampleRateHz = 16000;

struct Transcript {
  std::string text;
  std::string language;     // "en", "zh"
  double confidence = 0.0;  // 0..1 where the engine gives one
};

class RecognizerStream {
 public:
  virtual ~RecognizerStream() = default;
  virtual void AcceptWaveform(std::span<const float> samples_16k) = 0;
  virtual std::string Partial() = 0;
  virtual Result<Transcript> Finish() = 0;
  // The speaker paused: compute the final of the audio accepted so far, if that is worth it.
  virtual void Pause() {}
  // Finish() when every sample accepted after the last Pause() was trailing silence: the pause's
  // transcript if one was computed (and is still valid), else Finish().
  virtual Result<Transcript> FinishAtPause() { return Finish(); }
};

class Recognizer {
 public:
  virtual ~Recognizer() = default;
  virtual std::string_view name() const = 0;  // "pocketsphinx" | "whisper"
  virtual std::unique_ptr<RecognizerStream> CreateStream() const = 0;
  // Frees cached resources that have stayed idle past the engine's release time (PocketSphinx's
  // pooled decoders); true when something was freed. Thread-safe; the server calls it every few
  // seconds.
  virtual bool ReleaseIdle() const { return false; }
};

struct RecognizerConfig {
  std::string model_path;  // Whisper model (safetensors dir or ggml .bin); empty: PocketSphinx
  std::string language;    // "en" | "zh" | "" (auto where the engine can)
  bool fast = true;        // PocketSphinx: single search pass (lowest latency); false: more accurate
  int beam_size = 1;       // Whisper: 1 greedy, else beam search (openai-whisper's transcribe uses 5)
  int preload = 1;         // PocketSphinx: decoders loaded up front (see PocketSphinxConfig)
  int max_decoders = 16;   // PocketSphinx: decoders alive at most (0: no limit)
  bool encode_padding = true;  // Whisper: the final encodes the padded 30-s window (see WhisperOptions)
  double temperature_increment = 0.2;  // Whisper: the fallback's temperature step, 0: off (WhisperOptions)
};

Result<std::unique_ptr<Recognizer>> CreateRecognizer(const RecognizerConfig& config);

}  // namespace cadence::speech
