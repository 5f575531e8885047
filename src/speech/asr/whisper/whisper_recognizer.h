// WhisperRecognizer: speech::Recognizer on a Whisper-architecture model (ggml .bin or Hugging Face
// safetensors directory; see model.h).
//
// The model is loaded once and shared (const). The recognizer owns one engine::WorkerTeam
// (options.threads) and a mutex: one decode runs at a time and uses every thread of the team, so
// concurrent streams queue instead of splitting the cores (lowest latency per utterance).
//
// Each stream buffers its 16 kHz audio. Finish() decodes the utterance as Whisper does: zero-padded
// to the full 30-s window, greedy (beam_size 1) or beam search, no timestamps, after the language
// token (options.language, or detected from the audio when it is ""). Longer utterances are cut
// into segments of at most one window (long_form.h), each transcribed as soon as it is complete,
// and their texts joined; the first segment's language holds for the rest. Partial() is
// cheap by construction: at most once per partial_interval_ms of new audio it encodes only the
// audio buffered so far (rounded up to whole seconds, not the 30-s window: the encoder's cost is
// proportional to the frames it sees) and greedy-decodes at most partial_max_tokens; between those
// it returns the cached text. Partials may therefore differ from the final transcript. A final
// whose decode looks like a repetition loop or is too unlikely is redone at higher temperatures
// (openai-whisper's fallback, fallback.h), unless the window is silence.
// Pause() computes the final of the audio so far (the recognizer.h early final), and
// FinishAtPause() returns it unless a segment was finished after it. A greedy final takes the last
// partial's (or pause's) tokens as its draft (GreedyDecode): the words the partial already read
// are verified in one decoder pass instead of one step each.
// Decoding runs on the caller's thread (a compute worker) plus the team's threads.
#pragma once

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/parallel.h"
#include "speech/asr/recognizer.h"
#include "speech/asr/whisper/model.h"

namespace cadence::speech::whisper {

struct WhisperOptions {
  std::string language;          // "en", "zh", any language token of the model, or "" to detect
  int beam_size = 1;             // 1: greedy; openai-whisper's transcribe uses 5
  int partial_interval_ms = 1000;
  int partial_max_tokens = 32;
  int threads = 0;               // <= 0: engine::DefaultThreads()
  // openai-whisper's silence rule (IsNoSpeech): an empty transcript when <|nospeech|> is more likely
  // than no_speech_threshold and the average log-probability is at most logprob_threshold.
  double no_speech_threshold = 0.6;
  double logprob_threshold = -1.0;
  // The final encodes the utterance zero-padded to the 30-s window, as Whisper was trained. false:
  // only the utterance, rounded up to whole seconds, as partials do — a 5-s final takes about a
  // third of the time, but what a real checkpoint outputs on short windows was not measured here.
  bool encode_padding = true;
  // openai-whisper's temperature fallback for finals (fallback.h): a decode whose text is too
  // repetitive or too unlikely is redone by sampling best_of sequences at temperature_increment,
  // 2 x temperature_increment, ... up to 1.0. <= 0 turns it off. Partials never retry.
  double temperature_increment = 0.2;
  int best_of = 5;
  double compression_ratio_threshold = 2.4;
};

class WhisperRecognizer : public Recognizer {
 public:
  static Result<std::unique_ptr<WhisperRecognizer>> Create(const std::string& model_path, const WhisperOptions& options);
  static Result<std::unique_ptr<WhisperRecognizer>> Create(const std::string& model_path, const std::string& language);
  std::string_view name() const override { return "whisper"; }
  std::unique_ptr<RecognizerStream> CreateStream() const override;

  // Final transcript of an utterance of any length (what Finish() returns).
  Result<Transcript> Transcribe(const std::vector<float>& samples_16k) const;
  // Final transcript of at most one window of audio (longer input is truncated). `language` as below.
  // `draft`: text token ids the transcript probably starts with, verified instead of generated
  // (greedy only; the result does not depend on it). `tokens`, when not null, gets the transcript's
  // text token ids (the next final's draft).
  Result<Transcript> TranscribeWindow(const std::vector<float>& samples_16k, const std::string& language,
                                      std::span<const int> draft = {}, std::vector<int>* tokens = nullptr) const;
  // The model's window in 16 kHz samples (30 s for released checkpoints).
  size_t window_samples() const;
  // `samples` rounded up to whole seconds, at most one window: what partials encode.
  size_t SpeechWindow(size_t samples) const;
  // Partial transcript: greedy on the audio itself padded to whole seconds (see above). `language`
  // is the language to use ("" detects).
  Result<Transcript> TranscribePartial(const std::vector<float>& samples_16k, const std::string& language,
                                       std::vector<int>* tokens = nullptr) const;
  const Model& model() const { return *model_; }
  const WhisperOptions& options() const { return options_; }

 private:
  // `fallback`: retry at higher temperatures as the options say (finals only). `draft`, `tokens`
  // as TranscribeWindow's.
  Result<Transcript> Run(const std::vector<float>& samples_16k, size_t window_samples, const std::string& language,
                         int beam_size, int max_tokens, bool fallback, std::span<const int> draft,
                         std::vector<int>* tokens) const;

  std::unique_ptr<Model> model_;
  WhisperOptions options_;
  mutable std::mutex mu_;  // serializes use of team_
  std::unique_ptr<engine::WorkerTeam> team_;
};

}  // namespace cadence::speech::whisper
