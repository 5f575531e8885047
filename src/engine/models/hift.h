// Hift: the HiFT vocoder of CosyVoice 2 and Step-Audio 2's token2wav (`hift.pt`): 80-bin mel
// frames at 50 Hz in, 24 kHz waveform out (480 samples per frame with the published config).
//
// The network (HiFTNet: neural source filter + iSTFTNet), as published:
//   f0     = |Linear(5 x (Conv1d k3 + ELU)(mel))|                      ConvRNNF0Predictor, Hz per frame
//   source = tanh(Linear(SineGen2(f0 repeated 480x)))                  SourceModuleHnNSF, 9 harmonics
//   x      = conv_pre(mel); 3 x [LeakyReLU 0.1, ConvTranspose1d (x8, x5, x3), (+ reflect pad 1 left
//            after the last), + source_resblock(source_down(STFT(source))), mean of 3 ResBlocks]
//   spec   = conv_post(LeakyReLU 0.01 (x)): exp -> magnitude (clip 100), sin -> phase
//   audio  = clamp(iSTFT(spec, n_fft 16, hop 4, hann), +-0.99)
// ResBlocks use Snake: x + 1 / (alpha + 1e-9) * sin(alpha x)^2, alpha per channel.
//
// SineGen2 (the published 24 kHz source) is reproduced operation for operation in float32 (the
// phase is a float cumulative sum times 2 pi times 480, interpolated linearly: its rounding is part
// of the published output). Its random initial phases land on a sample the published
// down-interpolation never reads, so they have no effect and take no input here. The Gaussian noise
// is the only randomness: `normals` holds frames * 480 * 9 standard-normal draws, [sample][harmonic]
// (tests pass the reference's own draws); the overload taking a std::mt19937_64 draws them.
//
// Streaming is the published form: Inference(mel, cache_source) replaces the first
// cache_source.size() source samples with the cache (the previous call's last source samples), and
// returns this call's source so the caller can keep its tail (CosyVoice 2 keeps 8 mel frames and
// 8 * 480 samples; the mel overlap and the cross-fade of the audio stay with the caller).
//
// Activations are time-major [frames][channels] (engine/nn/conv1d.h). Immutable after Load; all
// methods are const and may run from many threads at once (each call allocates its own buffers).
// `team` may be null (single-threaded).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/torch_checkpoint.h"
#include "engine/kernels.h"
#include "engine/nn/conv1d.h"
#include "engine/nn/snake.h"
#include "engine/parallel.h"

namespace cadence::engine {

// HiFTGenerator's constructor arguments; the defaults are the published CosyVoice 2 / Step-Audio 2
// values (cosyvoice2.yaml `hift:`, Step-Audio 2's HiFTGenerator() defaults).
struct HiftConfig {
  int in_channels = 80;
  int base_channels = 512;
  int nb_harmonics = 8;
  int sampling_rate_hz = 24000;
  float nsf_alpha = 0.1f;
  float nsf_sigma = 0.003f;
  float nsf_voiced_threshold_hz = 10.0f;
  std::vector<int> upsample_rates = {8, 5, 3};
  std::vector<int> upsample_kernel_sizes = {16, 11, 7};
  int n_fft = 16;
  int hop = 4;
  std::vector<int> resblock_kernel_sizes = {3, 7, 11};
  std::vector<std::vector<int>> resblock_dilation_sizes = {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  std::vector<int> source_resblock_kernel_sizes = {7, 7, 11};
  std::vector<std::vector<int>> source_resblock_dilation_sizes = {{1, 3, 5}, {1, 3, 5}, {1, 3, 5}};
  float lrelu_slope = 0.1f;
  float audio_limit = 0.99f;
  int f0_cond_channels = 512;  // ConvRNNF0Predictor cond_channels

  Status Validate() const;
  std::string ToString() const;
  // Waveform samples per mel frame: prod(upsample_rates) * hop (480).
  int samples_per_frame() const;
};

class Hift {
 public:
  // Reads `hift.pt`'s tensors (a "generator." prefix, as in a HiFiGan training checkpoint, is
  // accepted). Weight-normed convs may be stored as weight_g / weight_v, as
  // parametrizations.weight.original0 / original1, or already folded as weight. Errors name the
  // missing or mis-shaped tensor.
  static Result<std::unique_ptr<Hift>> Load(const TorchCheckpoint& checkpoint, const HiftConfig& config = {},
                                             Isa isa = BestIsa());

  const HiftConfig& config() const { return config_; }
  int samples_per_frame() const { return config_.samples_per_frame(); }
  // Normal draws Source / Inference read for `frames` mel frames.
  int64_t NormalsNeeded(int64_t frames) const;

  // mel [frames][in_channels] -> f0 [frames], Hz.
  std::vector<float> PredictF0(const float* mel, int64_t frames, WorkerTeam* team) const;
  // f0 [frames] -> source excitation [frames * samples_per_frame]; `normals` as NormalsNeeded.
  std::vector<float> Source(std::span<const float> f0_hz, std::span<const float> normals) const;
  // mel [frames][in_channels] + source [frames * samples_per_frame] -> waveform, same length.
  // Fails when the source length does not fit the mel.
  Result<std::vector<float>> Decode(const float* mel, int64_t frames, std::span<const float> source, WorkerTeam* team) const;

  struct Output {
    std::vector<float> audio;   // [frames * samples_per_frame], 24 kHz, within +-audio_limit
    std::vector<float> source;  // the excitation used (keep its tail as the next call's cache)
    std::vector<float> f0_hz;   // [frames]
  };
  // The published HiFTGenerator.inference(speech_feat, cache_source). cache_source may be empty and
  // must not be longer than the source. Fails on a wrong `normals` size or cache length.
  Result<Output> Inference(const float* mel, int64_t frames, std::span<const float> cache_source,
                           std::span<const float> normals, WorkerTeam* team) const;
  // The same with the noise drawn from `rng` (production; seed it per stream).
  Result<Output> Inference(const float* mel, int64_t frames, std::span<const float> cache_source, std::mt19937_64& rng,
                           WorkerTeam* team) const;

 private:
  struct ResBlock {
    std::vector<nn::Conv1d> convs1, convs2;
    std::vector<nn::Snake> activations1, activations2;
  };
  Hift() = default;
  // x [frames][channels], updated in place; a and b: scratch of the same size.
  void RunResBlock(const ResBlock& block, float* x, int64_t frames, float* a, float* b, WorkerTeam* team) const;
  static Status LoadResBlock(const TorchCheckpoint& ckpt, const std::string& prefix, int channels, int kernel,
                             const std::vector<int>& dilations, Isa isa, ResBlock* block);

  HiftConfig config_;
  Isa isa_ = Isa::kScalar;
  std::vector<nn::Conv1d> f0_convs_;
  std::vector<float> f0_classifier_w_;  // [f0_cond_channels]
  float f0_classifier_b_ = 0.0f;
  std::vector<float> source_linear_w_;  // [nb_harmonics + 1]
  float source_linear_b_ = 0.0f;
  nn::Conv1d conv_pre_, conv_post_;
  std::vector<nn::ConvTranspose1d> ups_;
  std::vector<nn::Conv1d> source_downs_;
  std::vector<ResBlock> source_resblocks_, resblocks_;
  std::vector<float> window_;  // periodic hann [n_fft]
};

}  // namespace cadence::engine
