#include "engine/models/token2wav.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace cadence::engine {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A uniform in (0, 1] from 53 random bits.
double Unit(uint64_t bits) { return (static_cast<double>(bits >> 11) + 1.0) * 0x1.0p-53; }

}  // namespace

Result<Token2WavConfig> Token2WavConfig::FromYaml(const HyperPyYamlConfig& y) {
  Token2WavConfig c;
  auto get = [&](const std::string& key, int* field) -> Status {
    auto v = y.IntOr(key, *field);
    if (!v.ok()) return v.status();
    *field = static_cast<int>(*v);
    return Status::Ok();
  };
  auto get_bool = [&](const std::string& key, bool* field) -> Status {
    auto v = y.BoolOr(key, *field);
    if (!v.ok()) return v.status();
    *field = *v;
    return Status::Ok();
  };
  auto get_float = [&](const std::string& key, float* field) -> Status {
    auto v = y.FloatOr(key, *field);
    if (!v.ok()) return v.status();
    *field = static_cast<float>(*v);
    return Status::Ok();
  };
  if (!y.Has("flow")) return Status::NotFound(y.label() + ": key flow is missing; not a token2wav flow.yaml");
  // Step-Audio 2's flow has a DiT estimator; CosyVoice 2's own (cosyvoice2.yaml) a causal U-Net.
  if (y.Has("flow.decoder.estimator")) {
    auto estimator = y.Class("flow.decoder.estimator");
    if (!estimator.ok()) return estimator.status();
    if (estimator->size() < 4 || estimator->compare(estimator->size() - 4, 4, ".DiT") != 0)
      return Status::Unimplemented(y.label() + ": flow.decoder.estimator is " + *estimator +
                                   "; only the DiT estimator of Step-Audio 2's token2wav is implemented (CosyVoice 2's "
                                   "causal U-Net is not yet): use Step-Audio 2 mini's token2wav/ folder, which renders "
                                   "the same speech tokens");
  }
  CADENCE_RETURN_IF_ERROR(get("flow.input_size", &c.encoder.input_size));
  CADENCE_RETURN_IF_ERROR(get("flow.output_size", &c.mel_dim));
  CADENCE_RETURN_IF_ERROR(get("flow.spk_embed_dim", &c.spk_embed_dim));
  CADENCE_RETURN_IF_ERROR(get("flow.vocab_size", &c.encoder.vocab_size));
  c.encoder.mel_dim = c.mel_dim;
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.output_size", &c.encoder.output_size));
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.attention_heads", &c.encoder.attention_heads));
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.linear_units", &c.encoder.linear_units));
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.num_blocks", &c.encoder.num_blocks));
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.num_up_blocks", &c.encoder.num_up_blocks));
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.pre_lookahead_len", &c.encoder.pre_lookahead_len));
  CADENCE_RETURN_IF_ERROR(get("flow.encoder.up_stride", &c.encoder.up_stride));
  CADENCE_RETURN_IF_ERROR(get_bool("flow.encoder.key_bias", &c.encoder.key_bias));
  const std::string est = "flow.decoder.estimator.";
  CADENCE_RETURN_IF_ERROR(get(est + "in_channels", &c.dit.in_channels));
  CADENCE_RETURN_IF_ERROR(get(est + "out_channels", &c.dit.out_channels));
  CADENCE_RETURN_IF_ERROR(get(est + "hidden_size", &c.dit.hidden_size));
  CADENCE_RETURN_IF_ERROR(get(est + "depth", &c.dit.depth));
  CADENCE_RETURN_IF_ERROR(get(est + "num_heads", &c.dit.num_heads));
  CADENCE_RETURN_IF_ERROR(get(est + "head_dim", &c.dit.head_dim));
  CADENCE_RETURN_IF_ERROR(get_float(est + "mlp_ratio", &c.dit.mlp_ratio));
  // The guidance rate sits in cfm_params (CosyVoice's layout) or on the solver itself.
  for (const char* key : {"flow.decoder.cfm_params.content.inference_cfg_rate", "flow.decoder.cfm_params.inference_cfg_rate",
                          "flow.decoder.inference_cfg_rate"}) {
    if (!y.Has(key)) continue;
    auto rate = y.Float(key);
    if (!rate.ok()) return rate.status();
    c.cfm.inference_cfg_rate = *rate;
    break;
  }
  // token2wav builds HiFTGenerator() with its defaults; a `hift:` object (CosyVoice 2's layout)
  // overrides them.
  CADENCE_RETURN_IF_ERROR(get("hift.base_channels", &c.hift.base_channels));
  CADENCE_RETURN_IF_ERROR(get("hift.nb_harmonics", &c.hift.nb_harmonics));
  CADENCE_RETURN_IF_ERROR(get("hift.sampling_rate", &c.hift.sampling_rate_hz));
  CADENCE_RETURN_IF_ERROR(get("hift.in_channels", &c.hift.in_channels));
  CADENCE_RETURN_IF_ERROR(get("hift.f0_predictor.cond_channels", &c.hift.f0_cond_channels));
  if (y.Has("hift.upsample_rates")) {
    auto v = y.Ints("hift.upsample_rates");
    if (!v.ok()) return v.status();
    c.hift.upsample_rates.assign(v->begin(), v->end());
  }
  if (y.Has("hift.upsample_kernel_sizes")) {
    auto v = y.Ints("hift.upsample_kernel_sizes");
    if (!v.ok()) return v.status();
    c.hift.upsample_kernel_sizes.assign(v->begin(), v->end());
  }
  CADENCE_RETURN_IF_ERROR(get("hift.istft_params.n_fft", &c.hift.n_fft));
  CADENCE_RETURN_IF_ERROR(get("hift.istft_params.hop_len", &c.hift.hop));
  CADENCE_RETURN_IF_ERROR(c.Validate().WithContext(y.label()));
  return c;
}

Status Token2WavConfig::Validate() const {
  CADENCE_RETURN_IF_ERROR(encoder.Validate());
  CADENCE_RETURN_IF_ERROR(dit.Validate());
  CADENCE_RETURN_IF_ERROR(cfm.Validate());
  CADENCE_RETURN_IF_ERROR(hift.Validate());
  if (encoder.mel_dim != mel_dim || dit.out_channels != mel_dim || hift.in_channels != mel_dim)
    return Status::InvalidArgument("flow.output_size " + std::to_string(mel_dim) +
                                   " must equal the estimator's out_channels and HiFT's in_channels");
  if (dit.in_channels != 4 * mel_dim)
    return Status::InvalidArgument("estimator in_channels " + std::to_string(dit.in_channels) + " must be 4 x " +
                                   std::to_string(mel_dim) + " (x, mu, spks, cond)");
  if (encoder.up_stride != 2)
    return Status::InvalidArgument("encoder up_stride " + std::to_string(encoder.up_stride) +
                                   ": the token2wav pipeline runs 2 mel frames per token");
  if (spk_embed_dim <= 0) return Status::InvalidArgument("spk_embed_dim must be positive");
  return Status::Ok();
}

Result<std::unique_ptr<Token2Wav>> Token2Wav::Load(const std::string& dir, const Options& options) {
  namespace fs = std::filesystem;
  auto yaml = HyperPyYamlConfig::Load((fs::path(dir) / "flow.yaml").string());
  if (!yaml.ok()) return yaml.status();
  auto config = Token2WavConfig::FromYaml(*yaml);
  if (!config.ok()) return config.status();
  auto flow = TorchCheckpoint::Open((fs::path(dir) / "flow.pt").string());
  if (!flow.ok()) return flow.status();
  auto hift = TorchCheckpoint::Open((fs::path(dir) / "hift.pt").string());
  if (!hift.ok()) return hift.status();
  return FromCheckpoints(*config, **flow, **hift, options);
}

Result<std::unique_ptr<Token2Wav>> Token2Wav::FromCheckpoints(const Token2WavConfig& config,
                                                              const TorchCheckpoint& flow, const TorchCheckpoint& hift,
                                                              const Options& options) {
  CADENCE_RETURN_IF_ERROR(config.Validate());
  auto t = std::unique_ptr<Token2Wav>(new Token2Wav());
  t->config_ = config;
  t->options_ = options;
  if (options.n_timesteps > 0) t->config_.cfm.n_timesteps = options.n_timesteps;
  auto encoder = FlowEncoder::Load(flow, config.encoder, options.isa);
  if (!encoder.ok()) return encoder.status();
  t->encoder_ = std::move(encoder).value();
  auto dit = Dit::Load(flow, config.dit, "decoder.estimator.", options.isa);
  if (!dit.ok()) return dit.status();
  t->dit_ = std::move(dit).value();
  auto cfm = CausalConditionalCfm::Create(t->dit_.get(), t->config_.cfm);
  if (!cfm.ok()) return cfm.status();
  t->cfm_ = std::move(cfm).value();
  auto vocoder = Hift::Load(hift, config.hift, options.isa);
  if (!vocoder.ok()) return vocoder.status();
  t->hift_ = std::move(vocoder).value();
  auto w = flow.Floats("spk_embed_affine_layer.weight", {config.mel_dim, config.spk_embed_dim});
  if (!w.ok()) return w.status();
  auto b = flow.Floats("spk_embed_affine_layer.bias", {config.mel_dim});
  if (!b.ok()) return b.status();
  t->spk_w_ = std::move(w).value();
  t->spk_b_ = std::move(b).value();
  const int64_t overlap = int64_t{kMelCacheFrames} * t->hift_->samples_per_frame();
  t->window_.resize(static_cast<size_t>(2 * overlap));
  for (int64_t n = 0; n < 2 * overlap; ++n)  // numpy.hamming(2 * overlap): symmetric
    t->window_[n] = static_cast<float>(0.54 - 0.46 * std::cos(2.0 * M_PI * n / static_cast<double>(2 * overlap - 1)));
  return t;
}

Status Token2Wav::CheckPrompt(const VoicePrompt& p) const {
  if (p.tokens.empty()) return Status::InvalidArgument("voice prompt: no speech tokens");
  for (int32_t id : p.tokens)
    if (id < 0 || id >= config_.encoder.vocab_size)
      return Status::InvalidArgument("voice prompt: token " + std::to_string(id) + " outside [0, " +
                                     std::to_string(config_.encoder.vocab_size) + ")");
  if (static_cast<int64_t>(p.mel.size()) != p.frames() * config_.mel_dim)
    return Status::InvalidArgument("voice prompt: mel holds " + std::to_string(p.mel.size()) + " values, expected " +
                                   std::to_string(p.frames()) + " frames x " + std::to_string(config_.mel_dim) +
                                   " (2 frames per prompt token)");
  if (static_cast<int>(p.speaker_embedding.size()) != config_.spk_embed_dim)
    return Status::InvalidArgument("voice prompt: speaker embedding has " + std::to_string(p.speaker_embedding.size()) +
                                   " values, expected " + std::to_string(config_.spk_embed_dim));
  return Status::Ok();
}

std::vector<float> Token2Wav::SpeakerVector(std::span<const float> e) const {
  // F.normalize(e) (x / max(|x|, 1e-12)), then spk_embed_affine_layer.
  double norm = 0;
  for (float v : e) norm += static_cast<double>(v) * v;
  const float inv = 1.0f / std::max(static_cast<float>(std::sqrt(norm)), 1e-12f);
  std::vector<float> out(static_cast<size_t>(config_.mel_dim));
  const int d = config_.spk_embed_dim;
  for (int o = 0; o < config_.mel_dim; ++o) {
    float acc = spk_b_[o];
    for (int i = 0; i < d; ++i) acc += spk_w_[static_cast<size_t>(o) * d + i] * (e[i] * inv);
    out[o] = acc;
  }
  return out;
}

std::vector<float> Token2Wav::Noise(int64_t from, int64_t n) const {
  const int64_t m = config_.mel_dim;
  std::vector<float> out(static_cast<size_t>(n * m));
  const uint64_t key = SplitMix64(options_.seed ^ 0x746f6b656e327761ull);
  for (int64_t k = 0; k < n * m; ++k) {
    const uint64_t i = static_cast<uint64_t>(from * m + k);
    // Box-Muller on two independent 64-bit draws of value i.
    const double u1 = Unit(SplitMix64(key + 2 * i)), u2 = Unit(SplitMix64(key + 2 * i + 1));
    out[k] = static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  }
  return out;
}

Result<std::vector<float>> Token2Wav::Mel(std::span<const int32_t> tokens, const VoicePrompt& prompt,
                                          WorkerTeam* team) const {
  CADENCE_RETURN_IF_ERROR(CheckPrompt(prompt));
  std::vector<int32_t> all(prompt.tokens);
  all.insert(all.end(), tokens.begin(), tokens.end());
  auto mu = encoder_->Forward(all, team);
  if (!mu.ok()) return mu.status();
  const int64_t m = config_.mel_dim, frames = static_cast<int64_t>(all.size()) * 2, prompt_frames = prompt.frames();
  std::vector<float> cond(static_cast<size_t>(frames * m), 0.0f);
  std::copy(prompt.mel.begin(), prompt.mel.end(), cond.begin());
  const std::vector<float> spk = SpeakerVector(prompt.speaker_embedding);
  const std::vector<float> noise = Noise(0, frames);
  CfmInputs in;
  in.frames = frames;
  in.mu = mu->data();
  in.spks = spk.data();
  in.cond = cond.data();
  in.noise = noise.data();
  std::vector<float> mel(static_cast<size_t>(frames * m));
  CADENCE_RETURN_IF_ERROR(cfm_->Solve(in, mel.data(), team));
  mel.erase(mel.begin(), mel.begin() + prompt_frames * m);
  return mel;
}

Result<std::vector<float>> Token2Wav::Synthesize(std::span<const int32_t> tokens, const VoicePrompt& prompt,
                                                 std::mt19937_64& rng, WorkerTeam* team) const {
  auto mel = Mel(tokens, prompt, team);
  if (!mel.ok()) return mel.status();
  const int64_t frames = static_cast<int64_t>(mel->size()) / config_.mel_dim;
  if (frames == 0) return std::vector<float>{};
  auto out = hift_->Inference(mel->data(), frames, {}, rng, team);
  if (!out.ok()) return out.status();
  return std::move(out->audio);
}

Result<std::unique_ptr<Token2Wav::Stream>> Token2Wav::Start(const VoicePrompt& prompt, uint64_t seed,
                                                            WorkerTeam* team) const {
  CADENCE_RETURN_IF_ERROR(CheckPrompt(prompt));
  auto s = std::make_unique<Stream>();
  s->model_ = this;
  s->spk_ = SpeakerVector(prompt.speaker_embedding);
  s->prompt_tokens_ = static_cast<int64_t>(prompt.tokens.size());
  s->prompt_frames_ = prompt.frames();
  s->rng_.seed(seed);
  // The prompt with silence as its look-ahead, through both caches (published setup_cache).
  std::vector<int32_t> tokens(prompt.tokens);
  tokens.insert(tokens.end(), static_cast<size_t>(config_.encoder.pre_lookahead_len), kSilenceToken);
  auto mu = encoder_->ForwardChunk(&s->encoder_, tokens, /*last=*/false, team);
  if (!mu.ok()) return mu.status();
  const std::vector<float> noise = Noise(0, s->prompt_frames_);
  CfmInputs in;
  in.frames = s->prompt_frames_;
  in.mu = mu->data();
  in.spks = s->spk_.data();
  in.cond = prompt.mel.data();
  in.noise = noise.data();
  std::vector<float> discard(static_cast<size_t>(in.frames * config_.mel_dim));
  CADENCE_RETURN_IF_ERROR(cfm_->SolveChunk(in, &s->cfm_, discard.data(), team));
  return s;
}

Result<std::vector<float>> Token2Wav::Stream::Push(std::span<const int32_t> tokens, WorkerTeam* team) {
  return Run(tokens, /*last=*/false, team);
}

Result<std::vector<float>> Token2Wav::Stream::Finish(std::span<const int32_t> tokens, WorkerTeam* team) {
  return Run(tokens, /*last=*/true, team);
}

Result<std::vector<float>> Token2Wav::Stream::FlowChunk(std::span<const int32_t> tokens, bool last,
                                                        WorkerTeam* team) {
  if (finished_) return Status::FailedPrecondition("token2wav stream: already finished");
  const Token2Wav& m = *model_;
  const int64_t mel_dim = m.config_.mel_dim;
  auto mu = m.encoder_->ForwardChunk(&encoder_, tokens, last, team);
  if (!mu.ok()) return mu.status();
  CADENCE_RETURN_IF_ERROR(m.encoder_->TrimCache(&encoder_, prompt_frames_, kCacheTailFrames));
  const int64_t frames = static_cast<int64_t>(mu->size()) / mel_dim;
  std::vector<float> mel(static_cast<size_t>(frames * mel_dim));
  if (frames == 0) return mel;
  const std::vector<float> noise = m.Noise(cfm_.cached_frames(), frames);
  const std::vector<float> cond(static_cast<size_t>(frames * mel_dim), 0.0f);
  CfmInputs in;
  in.frames = frames;
  in.mu = mu->data();
  in.spks = spk_.data();
  in.cond = cond.data();
  in.noise = noise.data();
  CADENCE_RETURN_IF_ERROR(m.cfm_->SolveChunk(in, &cfm_, mel.data(), team));
  cfm_.Trim(prompt_frames_, kCacheTailFrames);
  return mel;
}

Result<std::vector<float>> Token2Wav::Stream::Run(std::span<const int32_t> tokens, bool last, WorkerTeam* team) {
  auto mel = FlowChunk(tokens, last, team);
  if (!mel.ok()) return mel.status();
  auto speech = Vocode(std::move(mel).value(), last, team);
  if (last) finished_ = true;
  return speech;
}

Result<std::vector<float>> Token2Wav::Stream::Vocode(std::vector<float> new_mel, bool last, WorkerTeam* team) {
  const Token2Wav& m = *model_;
  const int64_t mel_dim = m.config_.mel_dim;
  if (new_mel.empty()) {
    if (!last) return std::vector<float>{};
    return std::move(speech_cache_);  // the held-back tail, as it stands
  }
  // The vocoder re-runs the cached mel frames with their source, so the seam is continuous.
  std::vector<float> mel(mel_cache_);
  mel.insert(mel.end(), new_mel.begin(), new_mel.end());
  const int64_t mel_frames = static_cast<int64_t>(mel.size()) / mel_dim;
  auto out = m.hift_->Inference(mel.data(), mel_frames, source_cache_, rng_, team);
  if (!out.ok()) return out.status();
  std::vector<float> speech = std::move(out->audio);
  // Cross-fade the re-run samples with the tail held back last time (Hamming halves).
  const int64_t overlap =
      std::min<int64_t>(static_cast<int64_t>(speech_cache_.size()), static_cast<int64_t>(speech.size()));
  const int64_t half = static_cast<int64_t>(m.window_.size()) / 2;
  for (int64_t k = 0; k < overlap; ++k)
    speech[k] = speech[k] * m.window_[k] +
                speech_cache_[speech_cache_.size() - static_cast<size_t>(overlap) + k] * m.window_[half + k];
  const int64_t keep_frames = std::min<int64_t>(kMelCacheFrames, mel_frames);
  const int64_t keep_samples = keep_frames * m.hift_->samples_per_frame();
  mel_cache_.assign(mel.end() - keep_frames * mel_dim, mel.end());
  source_cache_.assign(out->source.end() - keep_samples, out->source.end());
  speech_cache_.assign(speech.end() - keep_samples, speech.end());
  if (!last) speech.resize(speech.size() - static_cast<size_t>(keep_samples));
  return speech;
}

}  // namespace cadence::engine
