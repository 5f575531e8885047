#include "speech/asr/whisper/whisper_recognizer.h"

#include <algorithm>
#include <utility>

#include "speech/asr/whisper/log_mel.h"
#include "speech/asr/whisper/transformer.h"

namespace cadence::speech::whisper {
namespace {

class WhisperStream : public RecognizerStream {
 public:
  explicit WhisperStream(const WhisperRecognizer& recognizer) : recognizer_(recognizer) {}

  void AcceptWaveform(std::span<const float> samples_16k) override {
    samples_.insert(samples_.end(), samples_16k.begin(), samples_16k.end());
  }

  std::string Partial() override {
    // Re-decoding costs a whole encoder pass: only after another second of audio.
    if (samples_.size() >= partial_at_samples_ + kSampleRateHz) {
      partial_at_samples_ = samples_.size();
      auto t = recognizer_.Transcribe(samples_);
      if (t.ok()) partial_ = t->text;
    }
    return partial_;
  }

  Result<Transcript> Finish() override { return recognizer_.Transcribe(samples_); }

 private:
  const WhisperRecognizer& recognizer_;
  std::vector<float> samples_;
  size_t partial_at_samples_ = 0;
  std::string partial_;
};

}  // namespace

std::string DecodeText(const Model& model, const std::vector<int>& ids) {
  std::string text;
  for (int id : ids) {
    if (id < 0 || id >= model.specials.end_of_text || id >= static_cast<int>(model.vocab.size())) continue;
    text += model.vocab[id];
  }
  return text;
}

Result<std::unique_ptr<WhisperRecognizer>> WhisperRecognizer::Create(const std::string& model_path,
                                                                     const std::string& language) {
  auto model = LoadModel(model_path);
  if (!model.ok()) return model.status();
  auto r = std::unique_ptr<WhisperRecognizer>(new WhisperRecognizer());
  r->model_ = std::move(model).value();
  r->language_ = language.empty() ? "en" : language;
  auto prompt = TranscribePrompt(*r->model_, r->language_);
  if (!prompt.ok()) return prompt.status();
  r->prompt_ = std::move(prompt).value();
  return r;
}

std::unique_ptr<RecognizerStream> WhisperRecognizer::CreateStream() const {
  return std::make_unique<WhisperStream>(*this);
}

Result<Transcript> WhisperRecognizer::Transcribe(const std::vector<float>& samples_16k) const {
  const Model& m = *model_;
  if (m.vocab.empty()) {
    return Status::Unimplemented(m.path + ": no token texts in this checkpoint (Hugging Face vocab.json decoding is "
                                 "not implemented yet); use a whisper.cpp ggml .bin");
  }
  // Whisper's window: the audio zero-padded (or trimmed) to 2 * n_audio_ctx frames of 160 samples.
  const size_t window = static_cast<size_t>(2 * m.hparams.n_audio_ctx) * kHopSamples;
  std::vector<float> padded(window, 0.0f);
  std::copy_n(samples_16k.begin(), std::min(window, samples_16k.size()), padded.begin());
  LogMelOptions options;
  options.n_mels = m.hparams.n_mels;
  options.filters = m.mel_filters;
  auto mel = ComputeLogMel(padded, options);
  if (!mel.ok()) return mel.status();
  auto audio = Encode(m, *mel);
  if (!audio.ok()) return audio.status();
  auto ids = GreedyDecode(m, *audio, prompt_, m.hparams.n_text_ctx / 2);
  if (!ids.ok()) return ids.status();
  Transcript t;
  t.text = DecodeText(m, std::vector<int>(ids->begin() + static_cast<long>(prompt_.size()), ids->end()));
  t.language = language_;
  return t;
}

}  // namespace cadence::speech::whisper
