#include "speech/asr/pocketsphinx_recognizer.h"

#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/cmn.h>
#include <sphinxbase/feat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/log.h"

#ifndef CADENCE_POCKETSPHINX_MODELDIR
#define CADENCE_POCKETSPHINX_MODELDIR "/usr/share/pocketsphinx/model"
#endif

namespace cadence::speech {
namespace {

struct ModelPaths {
  std::string hmm, lm, dict;
  bool single_pass = true;
};

// Thread-safe pool of decoders; grows on demand up to `max_decoders`, and gives back decoders
// beyond `keep` that stayed idle for `idle_release` (checked whenever a decoder is taken or
// returned). Loading a decoder takes ~0.5 s of CPU (27 MB language model, 134k-word dictionary) on
// the caller's thread — an ASR worker — so it stalls the recognition queued behind it; a server
// that expects N users talking at once preloads N (PocketSphinxConfig::preload_decoders). Nothing
// loads in the background: memory grows only when sessions talk, and shrinks when they stop.
class DecoderPool {
 public:
  using Clock = std::chrono::steady_clock;
  DecoderPool(ModelPaths paths, int max_decoders, int keep, Clock::duration idle_release)
      : paths_(std::move(paths)), max_decoders_(max_decoders), keep_(keep), idle_release_(idle_release) {}
  ~DecoderPool() {
    for (const IdleDecoder& d : idle_) ps_free(d.decoder);
  }

  Result<ps_decoder_t*> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ReleaseStaleLocked();
      if (!idle_.empty()) {
        ps_decoder_t* d = idle_.back().decoder;  // the most recently used: its pages are warm
        idle_.pop_back();
        return d;
      }
      if (max_decoders_ > 0 && alive_ >= max_decoders_) {
        return Status::ResourceExhausted("all " + std::to_string(max_decoders_) +
                                         " speech recognizer decoders are in use; this turn is not transcribed "
                                         "(the server operator can raise --asr-max-decoders)");
      }
      ++alive_;  // reserved before loading, outside the lock
    }
    Result<ps_decoder_t*> created = Create();
    if (!created.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      --alive_;
    }
    return created;
  }

  // The model's -cmninit as loaded; valid after the first Acquire().
  const std::vector<mfcc_t>& initial_cmn_mean() const { return initial_cmn_mean_; }

  void Release(ps_decoder_t* decoder) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back({decoder, Clock::now()});
    ReleaseStaleLocked();
  }

  bool ReleaseIdle() {
    std::lock_guard<std::mutex> lock(mutex_);
    const int before = alive_;
    ReleaseStaleLocked();
    return alive_ < before;
  }

 private:
  Result<ps_decoder_t*> Create() {
    // ps_init is not thread-safe: with -logfn it swaps and closes sphinxbase's process-wide log
    // file, so two decoders created at once (two ASR workers, or two pools) can close a stream
    // the other is using — a crash seen in CI. Creation is serialized; it is
    // CPU-bound on a small machine anyway.
    static std::mutex create_mutex;
    std::lock_guard<std::mutex> create_lock(create_mutex);
    static std::once_flag quiet;
    // sphinxbase logs through a process-wide stream; silence it before the first decoder talks.
    std::call_once(quiet, [] { err_set_logfp(nullptr); });
    // The flat-lexicon and lattice passes re-decode the whole utterance at its end; the single
    // pass also caps active HMMs and words per frame (see PocketSphinxConfig::single_pass).
    const bool fast = paths_.single_pass;
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", paths_.hmm.c_str(), "-lm",
                                   paths_.lm.c_str(), "-dict", paths_.dict.c_str(), "-logfn", "/dev/null",
                                   "-samprate", "16000", "-fwdflat", fast ? "no" : "yes", "-bestpath",
                                   fast ? "no" : "yes", "-maxhmmpf", fast ? "5000" : "30000", "-maxwpf",
                                   fast ? "10" : "-1", nullptr);
    if (config == nullptr) return Status::Internal("pocketsphinx rejected its configuration (model " + paths_.hmm + ")");
    ps_decoder_t* decoder = ps_init(config);
    cmd_ln_free_r(config);  // the decoder holds its own reference
    if (decoder == nullptr)
      return Status::Internal("pocketsphinx could not load the model in " + paths_.hmm +
                              " (reinstall pocketsphinx-en-us)");
    std::call_once(cmn_once_, [&] {
      cmn_t* cmn = ps_get_feat(decoder)->cmn_struct;
      initial_cmn_mean_.assign(cmn->cmn_mean, cmn->cmn_mean + cmn->veclen);
    });
    return decoder;
  }

  // Frees the oldest idle decoders beyond `keep_` that have been idle for idle_release_.
  void ReleaseStaleLocked() {
    const auto now = Clock::now();
    while (static_cast<int>(idle_.size()) > keep_ && now - idle_.front().since >= idle_release_) {
      ps_free(idle_.front().decoder);
      idle_.erase(idle_.begin());
      --alive_;
    }
  }

  struct IdleDecoder {
    ps_decoder_t* decoder;
    Clock::time_point since;
  };
  ModelPaths paths_;
  const int max_decoders_;
  const int keep_;
  const Clock::duration idle_release_;
  std::once_flag cmn_once_;
  std::vector<mfcc_t> initial_cmn_mean_;  // written once under cmn_once_, then read-only
  std::mutex mutex_;
  std::vector<IdleDecoder> idle_;  // guarded by mutex_; oldest release first
  int alive_ = 0;                  // guarded by mutex_; idle and in use
};

class PocketSphinxStream final : public RecognizerStream {
 public:
  explicit PocketSphinxStream(std::shared_ptr<DecoderPool> pool) : pool_(std::move(pool)) {}
  ~PocketSphinxStream() override {
    if (decoder_ == nullptr) return;
    if (in_utterance_) ps_end_utt(decoder_);
    pool_->Release(decoder_);
  }

  void AcceptWaveform(std::span<const float> samples_16k) override {
    if (samples_16k.empty() || !EnsureUtterance()) return;
    block_.insert(block_.end(), samples_16k.begin(), samples_16k.end());
    size_t whole = block_.size() - block_.size() % kBlockSamples;
    Feed(std::span<const float>(block_).first(whole));
    block_.erase(block_.begin(), block_.begin() + static_cast<std::ptrdiff_t>(whole));
  }

  std::string Partial() override {
    if (decoder_ == nullptr || !in_utterance_) return "";
    int32 score = 0;
    const char* hyp = ps_get_hyp(decoder_, &score);
    return hyp != nullptr ? hyp : "";
  }

  Result<Transcript> Finish() override {
    Transcript transcript;
    transcript.language = "en";
    if (!EnsureUtterance()) return error_;
    Feed(block_);
    block_.clear();
    ps_end_utt(decoder_);
    in_utterance_ = false;
    int32 score = 0;
    const char* hyp = ps_get_hyp(decoder_, &score);
    transcript.text = hyp != nullptr ? hyp : "";
    if (!transcript.text.empty()) {
      int32 prob = ps_get_prob(decoder_);
      transcript.confidence = std::clamp(logmath_exp(ps_get_logmath(decoder_), prob), 0.0, 1.0);
    }
    return transcript;
  }

 private:
  bool EnsureUtterance() {
    if (decoder_ == nullptr) {
      auto decoder = pool_->Acquire();
      if (!decoder.ok()) {
        error_ = decoder.status();
        CADENCE_LOG(kError, "asr", "%s", error_.ToString().c_str());
        return false;
      }
      decoder_ = *decoder;
    }
    if (!in_utterance_) {
      // The front end's noise estimate (used by its noise removal) otherwise carries over from
      // whichever caller used this decoder last, so the same audio decodes differently on a
      // fresh and a reused decoder. Each utterance is its own stream here.
      ps_start_stream(decoder_);
      if (ps_start_utt(decoder_) < 0) {
        error_ = Status::Internal("pocketsphinx could not start an utterance");
        return false;
      }
      in_utterance_ = true;
      // Estimate this utterance's cepstral mean from its own frames (the previous mean stays in
      // use until the first re-estimate): channels differ more between callers than within one.
      cmn_t* cmn = ps_get_feat(decoder_)->cmn_struct;
      // Start from the model's cmninit, not the last caller's mean.
      cmn->nframe = 0;
      for (int i = 0; i < cmn->veclen; ++i) {
        cmn->sum[i] = 0;
        if (static_cast<size_t>(i) < pool_->initial_cmn_mean().size()) cmn->cmn_mean[i] = pool_->initial_cmn_mean()[i];
      }
      samples_since_cmn_ = 0;
      noise_state_ = kNoiseSeed;
      block_.clear();
    }
    return true;
  }

  // Feeds whole 10 ms blocks (a shorter one only at the end of the utterance).
  void Feed(std::span<const float> samples_16k) {
    pcm_.resize(samples_16k.size());
    // Comfort noise at -70 dBFS in blocks that are quieter than that (uniform, from a generator
    // seeded per utterance), as telephony does: the front end's noise tracker starts from the
    // first frame, and on digital silence (a test client, a muted line, narrowband audio without
    // comfort noise) it starts at nothing, its silence removal keeps the leading silence and the
    // opening words are lost ("hello how are you" -> "are you"). Blocks with any signal, and
    // real microphones' floors, are left as they are.
    for (size_t at = 0; at < samples_16k.size(); at += kBlockSamples) {
      const size_t n = std::min(kBlockSamples, samples_16k.size() - at);
      double energy = 0;
      for (size_t i = at; i < at + n; ++i) energy += static_cast<double>(samples_16k[i]) * samples_16k[i];
      const bool silent = energy < kComfortRms * kComfortRms * static_cast<double>(n);
      for (size_t i = at; i < at + n; ++i) {
        const float noise = silent ? kComfortPeak * (2.0f * NextUniform() - 1.0f) : 0.0f;
        pcm_[i] = static_cast<int16>(std::lround(std::clamp(samples_16k[i] + noise, -1.0f, 1.0f) * 32767.0f));
      }
    }
    // Live CMN only re-estimates its mean every 8 s or at utterance end, so an utterance whose
    // channel differs from the last one (or from the model's cmninit) is decoded with a wrong
    // mean throughout. Re-estimating every 0.5 s fixes most of that (with the reset at utterance
    // start in EnsureUtterance, JFK clip WER 0.93 -> 0.21). The audio is cut exactly at each 0.5 s mark so the
    // estimate, and with it the transcript, depends on the audio alone and not on how the caller
    // happened to chunk it (a server under load delivers bigger chunks).
    size_t done = 0;
    while (done < pcm_.size()) {
      size_t n = std::min(pcm_.size() - done, kCmnUpdateSamples - samples_since_cmn_);
      ps_process_raw(decoder_, pcm_.data() + done, n, FALSE, FALSE);
      done += n;
      samples_since_cmn_ += n;
      if (samples_since_cmn_ == kCmnUpdateSamples) {
        samples_since_cmn_ = 0;
        cmn_live_update(ps_get_feat(decoder_)->cmn_struct);
      }
    }
  }

  // Uniform in [0, 1) from a 32-bit LCG (Numerical Recipes constants): cheap and reproducible.
  float NextUniform() {
    noise_state_ = noise_state_ * 1664525u + 1013904223u;
    return static_cast<float>(noise_state_ >> 8) * (1.0f / 16777216.0f);
  }

  std::shared_ptr<DecoderPool> pool_;
  ps_decoder_t* decoder_ = nullptr;
  bool in_utterance_ = false;
  Status error_ = Status::Internal("pocketsphinx decoder unavailable");
  std::vector<int16> pcm_;
  size_t samples_since_cmn_ = 0;
  uint32_t noise_state_ = kNoiseSeed;
  static constexpr uint32_t kNoiseSeed = 0x2545F491u;
  static constexpr size_t kBlockSamples = 160;            // 10 ms at 16 kHz
  static constexpr float kComfortRms = 3.16e-4f;          // -70 dBFS
  static constexpr float kComfortPeak = 3.16e-4f * 1.7320508f;  // uniform noise of that RMS
  std::vector<float> block_;  // the tail shorter than one block, fed with the next audio
  static constexpr size_t kCmnUpdateSamples = 8000;
};

class PocketSphinxRecognizer final : public Recognizer {
 public:
  explicit PocketSphinxRecognizer(std::shared_ptr<DecoderPool> pool) : pool_(std::move(pool)) {}
  std::string_view name() const override { return "pocketsphinx"; }
  std::unique_ptr<RecognizerStream> CreateStream() const override {
    return std::make_unique<PocketSphinxStream>(pool_);
  }
  bool ReleaseIdle() const override { return pool_->ReleaseIdle(); }

 private:
  std::shared_ptr<DecoderPool> pool_;
};

}  // namespace

std::string DefaultPocketSphinxModelDir() { return CADENCE_POCKETSPHINX_MODELDIR; }

Result<std::unique_ptr<Recognizer>> CreatePocketSphinxRecognizer(const PocketSphinxConfig& config) {
  namespace fs = std::filesystem;
  fs::path dir = config.model_dir.empty() ? DefaultPocketSphinxModelDir() : config.model_dir;
  // Debian installs the model under <modeldir>/en-us/; accept either that dir or its parent.
  if (!fs::exists(dir / "en-us.lm.bin") && fs::exists(dir / "en-us" / "en-us.lm.bin")) dir /= "en-us";
  ModelPaths paths{(dir / "en-us").string(), (dir / "en-us.lm.bin").string(), (dir / "cmudict-en-us.dict").string(),
                   config.single_pass};
  for (const std::string& p : {paths.hmm, paths.lm, paths.dict}) {
    std::error_code ec;
    if (!fs::exists(p, ec))
      return Status::NotFound("PocketSphinx model file missing: " + p + " (apt-get install pocketsphinx-en-us)");
  }
  const int preload = std::max(1, config.preload_decoders);
  if (config.max_decoders > 0 && config.max_decoders < preload)
    return Status::InvalidArgument("--asr-max-decoders (" + std::to_string(config.max_decoders) +
                                   ") must be at least --asr-preload (" + std::to_string(preload) + ")");
  auto pool = std::make_shared<DecoderPool>(paths, config.max_decoders, preload,
                                            std::chrono::milliseconds(static_cast<int64_t>(config.idle_release_s * 1000)));
  if (preload > 1)
    CADENCE_LOG(kInfo, "asr", "loading %d PocketSphinx decoders (~0.5 s CPU and ~85 MiB each)", preload);
  std::vector<ps_decoder_t*> loaded;
  for (int i = 0; i < preload; ++i) {
    auto decoder = pool->Acquire();
    if (!decoder.ok()) {
      for (ps_decoder_t* d : loaded) pool->Release(d);
      return decoder.status();
    }
    loaded.push_back(*decoder);
    if (preload > 1 && ((i + 1) % 8 == 0 || i + 1 == preload))
      CADENCE_LOG(kInfo, "asr", "%d of %d PocketSphinx decoders loaded", i + 1, preload);
  }
  for (ps_decoder_t* d : loaded) pool->Release(d);
  return std::unique_ptr<Recognizer>(std::make_unique<PocketSphinxRecognizer>(std::move(pool)));
}

}  // namespace cadence::speech
