// Token2Wav: Step-Audio 2's `token2wav/` folder in the engine — CosyVoice 2 speech tokens (25 Hz,
// ids < 6561) and a voice prompt in, 24 kHz speech out, whole or streamed.
//
// The folder as published: flow.yaml (HyperPyYAML), flow.pt (the flow: input_embedding,
// UpsampleConformerEncoderV2, encoder_proj, spk_embed_affine_layer, the DiT estimator) and hift.pt
// (the vocoder); campplus.onnx and speech_tokenizer_v2_25hz.onnx make a VoicePrompt from a clip
// (not read here). The flow is CausalMaskedDiffWithXvec:
//   spk  = spk_embed_affine_layer(normalize(speaker_embedding))        [mel]
//   mu   = encoder(prompt tokens ++ tokens)                            [2 (P + N)][mel]
//   cond = prompt mel over the prompt's frames, zeros after
//   mel  = CFM(mu, spk, cond, noise) over all frames, the prompt's frames dropped  [2N][mel]
//   wav  = HiFT(mel)                                                   [2N * 480]
//
// Streaming (Stream): Start() runs the prompt (its tokens followed by pre_lookahead_len silence
// tokens, id 4218) through the encoder's and the estimator's caches, as the published setup_cache;
// each Push() of n >= 1 new tokens plus the look-ahead tokens that follow them (see
// flow_encoder.h) turns them into 2n mel frames (cond zero, noise taken at the stream's frame
// offset) and the vocoder into audio: HiFT re-runs the last 8 mel frames of the previous chunk with
// its source cache, the first 8 x 480 samples are cross-faded (Hamming) with the previous chunk's
// held-back tail, and the last 8 x 480 samples are held back until the next chunk or Finish().
// Unlike the published decode, the first chunk is not preceded by 8 x 480 samples of silence (it
// would only delay the first sound). The encoder's and the estimator's attention caches keep the
// prompt and the newest kCacheTailFrames frames, as the published stream trims them.
//
// Noise: the CFM starts from N(0, 1) noise. The published model draws one fixed buffer from
// torch's generator at construction and reads it at the stream's frame offset; Cadence's buffer
// is a counter-based one (value i = Box-Muller of SplitMix64(seed, i)), read the same way, so the
// same seed gives the same speech without storing the buffer.
//
// Threading: a loaded Token2Wav is immutable and may be shared; each Synthesize call and each
// Stream is independent (a Stream is used by one thread at a time). `team` may be null.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/hyperpyyaml.h"
#include "engine/models/flow_encoder.h"
#include "engine/models/flow_dit.h"
#include "engine/models/flow_matching.h"
#include "engine/models/hift.h"
#include "engine/parallel.h"

namespace cadence::engine {

struct Token2WavConfig {
  FlowEncoderConfig encoder;
  DitConfig dit;
  CfmConfig cfm;
  HiftConfig hift;
  int spk_embed_dim = 192;
  int mel_dim = 80;
  // Reads flow.yaml's `flow` object (keys absent there keep the published defaults). Errors name
  // the file and key.
  static Result<Token2WavConfig> FromYaml(const HyperPyYamlConfig& yaml);
  Status Validate() const;
};

// The voice: what campplus.onnx, the speech tokenizer and the 24 kHz mel make of a prompt clip.
struct VoicePrompt {
  std::vector<int32_t> tokens;             // 25 Hz speech tokens of the clip
  std::vector<float> mel;                  // [2 * tokens.size()][mel_dim], 50 Hz log-mel at 24 kHz
  std::vector<float> speaker_embedding;    // [spk_embed_dim] (CAM++)
  int64_t frames() const { return static_cast<int64_t>(tokens.size()) * 2; }
};

class Token2Wav {
 public:
  struct Options {
    int n_timesteps = 0;  // 0: flow.yaml's (10 published)
    uint64_t seed = 0;    // the noise buffer's
    Isa isa = BestIsa();
  };
  static constexpr int32_t kSilenceToken = 4218;
  static constexpr int kMelCacheFrames = 8;
  static constexpr int64_t kCacheTailFrames = 100;

  // `dir`: a token2wav folder (flow.yaml, flow.pt, hift.pt). Errors name the file and, where one
  // is at fault, the key or tensor.
  static Result<std::unique_ptr<Token2Wav>> Load(const std::string& dir, const Options& options);
  // From parts already loaded (tests, benchmarks with random weights of the published shapes).
  static Result<std::unique_ptr<Token2Wav>> FromCheckpoints(const Token2WavConfig& config,
                                                            const TorchCheckpoint& flow, const TorchCheckpoint& hift,
                                                            const Options& options);

  const Token2WavConfig& config() const { return config_; }
  int sample_rate_hz() const { return config_.hift.sampling_rate_hz; }
  int samples_per_token() const { return 2 * hift_->samples_per_frame(); }

  // Checks a prompt's sizes against the model; errors say which field is wrong.
  Status CheckPrompt(const VoicePrompt& prompt) const;
  // The projected speaker vector [mel_dim].
  std::vector<float> SpeakerVector(std::span<const float> embedding) const;

  // The flow alone: mel [2 * tokens.size()][mel_dim] for `tokens` after the prompt.
  Result<std::vector<float>> Mel(std::span<const int32_t> tokens, const VoicePrompt& prompt, WorkerTeam* team) const;
  // Mel, then HiFT with noise from `rng`: 24 kHz samples, 2 * 480 per token.
  Result<std::vector<float>> Synthesize(std::span<const int32_t> tokens, const VoicePrompt& prompt,
                                        std::mt19937_64& rng, WorkerTeam* team) const;

  class Stream {
   public:
    // Audio released so far is final; what Push returns follows it without a gap.
    Result<std::vector<float>> Push(std::span<const int32_t> tokens_with_lookahead, WorkerTeam* team);
    // The last tokens (no look-ahead; may be empty) and the held-back tail.
    Result<std::vector<float>> Finish(std::span<const int32_t> tokens, WorkerTeam* team);
    // The flow half of Push / Finish alone: the chunk's mel [2n][mel_dim], the vocoder's state
    // untouched (tests hold it to the reference's streaming decode; a caller uses Push).
    Result<std::vector<float>> FlowChunk(std::span<const int32_t> tokens, bool last, WorkerTeam* team);
    int64_t tokens_done() const { return encoder_.tokens_done() - prompt_tokens_; }

   private:
    friend class Token2Wav;
    Result<std::vector<float>> Run(std::span<const int32_t> tokens, bool last, WorkerTeam* team);
    Result<std::vector<float>> Vocode(std::vector<float> mel, bool last, WorkerTeam* team);
    const Token2Wav* model_ = nullptr;
    std::vector<float> spk_;
    int64_t prompt_tokens_ = 0, prompt_frames_ = 0;
    FlowEncoderStream encoder_;
    CfmStream cfm_;
    std::vector<float> mel_cache_, source_cache_, speech_cache_;
    std::mt19937_64 rng_;  // HiFT's noise
    bool finished_ = false;
  };
  // A stream in `prompt`'s voice (the prompt's caches computed now).
  Result<std::unique_ptr<Stream>> Start(const VoicePrompt& prompt, uint64_t seed, WorkerTeam* team) const;

 private:
  Token2Wav() = default;
  // Noise frames [from, from + n) of the fixed buffer: [n][mel_dim].
  std::vector<float> Noise(int64_t from, int64_t n) const;

  Token2WavConfig config_;
  Options options_;
  std::unique_ptr<FlowEncoder> encoder_;
  std::unique_ptr<Dit> dit_;
  std::unique_ptr<CausalConditionalCfm> cfm_;
  std::unique_ptr<Hift> hift_;
  std::vector<float> spk_w_, spk_b_;  // spk_embed_affine_layer [mel][spk_embed_dim], [mel]
  std::vector<float> window_;         // Hamming, 2 * kMelCacheFrames * samples_per_frame
};

}  // namespace cadence::engine
