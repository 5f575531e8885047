#include "speech/asr/whisper/whisper_recognizer.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "speech/asr/whisper/fallback.h"
#include "speech/asr/whisper/log_mel.h"
#include "speech/asr/whisper/long_form.h"
#include "speech/asr/whisper/transformer.h"

namespace cadence::speech::whisper {
namespace {

// A long utterance's confidence: the lowest of its segments' that hold text (-1 while none does;
// a transcript reports 0 then).
double JoinedConfidence(double so_far, const Transcript& segment) {
  if (segment.text.empty()) return so_far;
  return so_far < 0.0 ? segment.confidence : std::min(so_far, segment.confidence);
}

// Audio past one window is finished segment by segment as it arrives (long_form.h): each completed
// segment is transcribed once, at final quality, and Finish() transcribes only the rest. The batch
// Transcribe() is this stream fed the whole utterance at once.
class WhisperStream : public RecognizerStream {
 public:
  explicit WhisperStream(const WhisperRecognizer& recognizer) : recognizer_(recognizer) {}

  // A segment completed by this audio is transcribed here, whether or not partials are asked for,
  // so Finish() has only the last one left; an error is kept for Finish() to report.
  void AcceptWaveform(std::span<const float> samples_16k) override {
    samples_.insert(samples_.end(), samples_16k.begin(), samples_16k.end());
    if (error_.ok()) error_ = FinishCompleteSegments();
  }

  std::string Partial() override {
    if (!error_.ok()) return done_text_ + partial_;
    const size_t interval =
        static_cast<size_t>(std::max(1, recognizer_.options().partial_interval_ms)) * kSampleRateHz / 1000;
    if (samples_.size() >= partial_at_samples_ + interval) {
      partial_at_samples_ = samples_.size();
      auto t = recognizer_.TranscribePartial(Tail(), language_, &draft_);
      if (t.ok()) {
        partial_ = t->text;
        language_ = t->language;  // detect once per utterance, then keep it
      }
    }
    return done_text_ + partial_;
  }

  Result<Transcript> Finish() override {
    if (!error_.ok()) return error_;
    return Joined(TranscribeRest());
  }

  void Pause() override {
    pause_.reset();
    if (!error_.ok()) return;
    pause_.emplace(PauseFinal{done_until_, TranscribeRest(&draft_)});
  }

  Result<Transcript> FinishAtPause() override {
    if (!error_.ok()) return error_;
    // A segment finished since the pause moved the start of the rest: the pause's decode is stale.
    if (!pause_ || pause_->done_until != done_until_) return Finish();
    return Joined(std::move(pause_->rest));
  }

 private:
  struct PauseFinal {
    size_t done_until;  // the segments finished when the pause was transcribed
    Result<Transcript> rest;
  };

  std::vector<float> Tail() const {
    return std::vector<float>(samples_.begin() + static_cast<std::ptrdiff_t>(done_until_), samples_.end());
  }

  // The final of the audio after the finished segments, drafted by the last partial or pause;
  // `tokens` (when not null) gets its text tokens.
  Result<Transcript> TranscribeRest(std::vector<int>* tokens = nullptr) const {
    if (samples_.size() <= done_until_) {
      Transcript empty;
      empty.language = FinalLanguage();
      return empty;
    }
    const std::vector<int> draft = draft_;  // `tokens` may be draft_ itself
    return recognizer_.TranscribeWindow(Tail(), FinalLanguage(), draft, tokens);
  }

  // The utterance's transcript: the finished segments' text followed by `rest`'s.
  Result<Transcript> Joined(Result<Transcript> rest) const {
    if (!rest.ok()) return rest.status();
    Transcript t = std::move(rest).value();
    t.confidence = std::max(0.0, JoinedConfidence(done_confidence_, t));
    t.text = done_text_ + t.text;
    return t;
  }

  // Transcribes every segment that more than a window of buffered audio has closed.
  Status FinishCompleteSegments() {
    const size_t window = recognizer_.window_samples();
    while (samples_.size() - done_until_ > window) {
      const size_t cut = NextCut(samples_, done_until_, window);
      auto t = recognizer_.TranscribeWindow(
          std::vector<float>(samples_.begin() + static_cast<std::ptrdiff_t>(done_until_),
                             samples_.begin() + static_cast<std::ptrdiff_t>(cut)),
          FinalLanguage(), draft_);
      if (!t.ok()) return t.status();
      done_confidence_ = JoinedConfidence(done_confidence_, *t);
      done_text_ += t->text;
      segment_language_ = language_ = t->language;
      done_until_ = cut;
      partial_.clear();
      draft_.clear();
      partial_at_samples_ = done_until_;
    }
    return Status::Ok();
  }

  // As the batch Transcribe(): the first segment detects on its own audio when the options leave
  // the language open (not on a partial's shorter window); later ones keep its language.
  std::string FinalLanguage() const {
    return segment_language_.empty() ? recognizer_.options().language : segment_language_;
  }

  const WhisperRecognizer& recognizer_;
  std::vector<float> samples_;
  size_t done_until_ = 0;   // samples before this are transcribed into done_text_
  std::string done_text_;
  std::string segment_language_;  // the first finished segment's
  double done_confidence_ = -1.0;  // JoinedConfidence of the finished segments; -1: none with text
  Status error_ = Status::Ok();     // the first failure finishing a segment
  size_t partial_at_samples_ = 0;
  std::string partial_;
  std::string language_ = recognizer_.options().language;  // the partials'
  std::optional<PauseFinal> pause_;  // the final computed at the last Pause()
  std::vector<int> draft_;  // text tokens of the last partial or pause final of the audio after done_until_
};

}  // namespace

Result<std::unique_ptr<WhisperRecognizer>> WhisperRecognizer::Create(const std::string& model_path,
                                                                     const std::string& language) {
  WhisperOptions options;
  options.language = language;
  return Create(model_path, options);
}

Result<std::unique_ptr<WhisperRecognizer>> WhisperRecognizer::Create(const std::string& model_path,
                                                                     const WhisperOptions& options) {
  if (options.beam_size < 1 || options.beam_size > 16) {
    return Status::InvalidArgument("whisper: beam size " + std::to_string(options.beam_size) + " (use 1..16; 1 is greedy)");
  }
  if (!(options.temperature_increment >= 0.0 && options.temperature_increment <= 1.0) || options.best_of < 1 ||
      options.best_of > 16) {
    return Status::InvalidArgument("whisper: fallback temperature step " + std::to_string(options.temperature_increment) +
                                   " and best_of " + std::to_string(options.best_of) +
                                   " (use a step from 0 to 1, 0 for no fallback, and best_of 1..16)");
  }
  auto model = LoadModel(model_path);
  if (!model.ok()) return model.status();
  auto r = std::unique_ptr<WhisperRecognizer>(new WhisperRecognizer());
  r->model_ = std::move(model).value();
  r->options_ = options;
  if (!options.language.empty()) {
    auto prompt = TranscribePrompt(*r->model_, options.language);
    if (!prompt.ok()) return prompt.status();
  } else if (r->model_->specials.languages.empty()) {
    return Status::InvalidArgument("whisper: " + model_path + " has no language tokens; language detection needs them");
  }
  r->team_ = std::make_unique<engine::WorkerTeam>(options.threads > 0 ? options.threads : engine::DefaultThreads());
  return r;
}

std::unique_ptr<RecognizerStream> WhisperRecognizer::CreateStream() const {
  return std::make_unique<WhisperStream>(*this);
}

size_t WhisperRecognizer::window_samples() const {
  return static_cast<size_t>(2 * model_->hparams.n_audio_ctx) * kHopSamples;
}

size_t WhisperRecognizer::SpeechWindow(size_t samples) const {
  const size_t second = kSampleRateHz;
  return std::min(window_samples(), std::max<size_t>(1, (samples + second - 1) / second) * second);
}

Result<Transcript> WhisperRecognizer::TranscribeWindow(const std::vector<float>& samples_16k,
                                                       const std::string& language, std::span<const int> draft,
                                                       std::vector<int>* tokens) const {
  const size_t window = options_.encode_padding ? window_samples() : SpeechWindow(samples_16k.size());
  return Run(samples_16k, window, language, options_.beam_size, model_->hparams.n_text_ctx / 2, true, draft, tokens);
}

Result<Transcript> WhisperRecognizer::Transcribe(const std::vector<float>& samples_16k) const {
  if (samples_16k.empty()) return TranscribeWindow(samples_16k, options_.language);
  WhisperStream stream(*this);
  stream.AcceptWaveform(samples_16k);
  return stream.Finish();
}

Result<Transcript> WhisperRecognizer::TranscribePartial(const std::vector<float>& samples_16k,
                                                        const std::string& language, std::vector<int>* tokens) const {
  return Run(samples_16k, SpeechWindow(samples_16k.size()), language, 1,
             std::min(options_.partial_max_tokens, model_->hparams.n_text_ctx / 2), false, {}, tokens);
}

Result<Transcript> WhisperRecognizer::Run(const std::vector<float>& samples_16k, size_t window_samples,
                                          const std::string& language, int beam_size, int max_tokens,
                                          bool fallback, std::span<const int> draft,
                                          std::vector<int>* tokens) const {
  const Model& m = *model_;
  if (m.vocab.empty()) {
    return Status::Unimplemented(m.path + ": no token texts in this checkpoint (no vocab.json beside it); add the "
                                 "model's vocab.json or use a whisper.cpp ggml .bin");
  }
  // The window zero-padded (or trimmed) to whole 160-sample frames.
  std::vector<float> padded(window_samples, 0.0f);
  std::copy_n(samples_16k.begin(), std::min(window_samples, samples_16k.size()), padded.begin());
  LogMelOptions options;
  options.n_mels = m.hparams.n_mels;
  options.filters = m.mel_filters;
  auto mel = ComputeLogMel(padded, options);
  if (!mel.ok()) return mel.status();
  std::lock_guard<std::mutex> lock(mu_);
  auto audio = Encode(m, *mel, team_.get());
  if (!audio.ok()) return audio.status();
  // One decoder: its cross-attention keys/values serve language detection and decoding.
  Decoder decoder(m, *audio, team_.get());
  Transcript t;
  t.language = language;
  if (t.language.empty()) {
    auto guess = DetectLanguage(&decoder);
    if (!guess.ok()) return guess.status();
    t.language = guess->language;
  }
  auto prompt = TranscribePrompt(m, t.language);
  if (!prompt.ok()) return prompt.status();
  FallbackOptions decode;
  decode.beam_size = beam_size;
  decode.max_new_tokens = max_tokens;
  decode.temperature_increment = fallback ? options_.temperature_increment : 0.0;
  decode.best_of = options_.best_of;
  decode.compression_ratio_threshold = options_.compression_ratio_threshold;
  decode.logprob_threshold = options_.logprob_threshold;
  decode.no_speech_threshold = options_.no_speech_threshold;
  decode.draft = draft;
  auto decoded = DecodeWithFallback(&decoder, *prompt, decode);
  if (!decoded.ok()) return decoded.status();
  const std::vector<int>& ids = decoded->tokens;
  if (tokens != nullptr) {
    tokens->assign(ids.begin() + static_cast<long>(prompt->size()), ids.end());
    if (!tokens->empty() && tokens->back() == m.specials.end_of_text) tokens->pop_back();
  }
  const DecodeStats& stats = decoded->stats;
  // openai-whisper's silence rule: Whisper fills noise with plausible text ("Thank you."); when
  // <|nospeech|> is likely and the text is not confidently decoded, there is no transcript.
  if (IsNoSpeech(stats, options_.no_speech_threshold, options_.logprob_threshold)) return t;
  t.text = DecodeText(m, std::vector<int>(ids.begin() + static_cast<long>(prompt->size()), ids.end()));
  t.confidence = std::exp(stats.avg_logprob);  // the tokens' geometric-mean probability
  return t;
}

}  // namespace cadence::speech::whisper
