// WhisperRecognizer: speech::Recognizer on a Whisper-architecture model (ggml .bin or Hugging Face
// safetensors directory; see model.h).
//
// The model is loaded once and shared (const, thread-safe). Each stream buffers its 16 kHz audio;
// Finish() decodes the utterance (its first 30 s, zero-padded as Whisper does: greedy, no
// timestamps); Partial() re-decodes the buffered audio at most once per second of new audio. Decoding
// runs on the caller's thread (a compute worker). Text is the byte concatenation of the non-special
// tokens, from the vocabulary a whisper.cpp file carries or a Hugging Face vocab.json; without one,
// Finish() returns Unimplemented saying so.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "speech/asr/recognizer.h"
#include "speech/asr/whisper/model.h"

namespace cadence::speech::whisper {

class WhisperRecognizer : public Recognizer {
 public:
  // `language` is "en" or "zh" ("" means "en" until language detection exists).
  static Result<std::unique_ptr<WhisperRecognizer>> Create(const std::string& model_path, const std::string& language);
  std::string_view name() const override { return "whisper"; }
  std::unique_ptr<RecognizerStream> CreateStream() const override;

  // Greedy transcript of up to one window of audio; used by the streams.
  Result<Transcript> Transcribe(const std::vector<float>& samples_16k) const;
  const Model& model() const { return *model_; }

 private:
  std::unique_ptr<Model> model_;
  std::string language_;
  std::vector<int> prompt_;
};

// Text of token ids: the raw bytes of every id below <|endoftext|> that the vocabulary holds.
std::string DecodeText(const Model& model, const std::vector<int>& ids);

}  // namespace cadence::speech::whisper
