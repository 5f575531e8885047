// 1-D convolution layers for the speech networks (HiFT vocoder, CosyVoice flow, CAM++), on the
// engine's f32 GEMM.
//
// Activation layout for everything in engine/nn/: time-major `[frames][channels]`, row-major, so
// row t holds the `channels` values of frame t (the transpose of PyTorch's [B=1][C][T]). Those
// rows are what the GEMM multiplies: an output frame is one row of an im2col block (the input
// frames a kernel reads, concatenated) times the packed weights.
//
// Weights are given in PyTorch order and f32 (convert F16/BF16 at load): Conv1d [out][in / groups]
// [kernel], ConvTranspose1d [in][out][kernel]; bias [out] or empty. They are repacked once at
// Create (the GEMM's panels); layers are immutable afterwards and Forward is const, so one layer
// may run from many threads at once (each call takes its scratch from thread-local buffers).
//
//   Conv1d: y[t][o] = b[o] + sum_{k, i in o's group} w[o][i][k] * xp[t * stride + k * dilation][i]
//   where xp is x with pad_left zero frames before and pad_right after. A causal conv is
//   pad_left = (kernel - 1) * dilation, pad_right = 0; PyTorch's `padding=p` is p and p.
//   Output frames: (frames + pad_left + pad_right - dilation * (kernel - 1) - 1) / stride + 1.
//   groups == in == out (depthwise) runs a direct loop; other groups one GEMM per group.
//
//   ConvTranspose1d: y[t * stride + k - padding][o] += w[i][o][k] * x[t][i] (+ b[o]), output
//   frames (frames - 1) * stride - 2 * padding + kernel (PyTorch with output_padding 0, groups 1,
//   dilation 1). Run polyphase: output phase r = (t + padding) mod stride reads the taps
//   k = r, r + stride, ... — an ordinary convolution per phase, each on the GEMM.
//
// `team` may be null (single-threaded); output frames are split over it in blocks. `isa` is the
// GEMM kernel (BestIsa() by default; kScalar is the reference tile).
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "engine/gemm.h"
#include "engine/kernels.h"
#include "engine/parallel.h"

namespace cadence::engine::nn {

struct Conv1dSpec {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 1;
  int stride = 1;
  int dilation = 1;
  int pad_left = 0;
  int pad_right = 0;
  int groups = 1;
};

class Conv1d {
 public:
  Conv1d() = default;
  // weight: [out][in / groups][kernel] (PyTorch order); bias: [out] or empty. Errors name the
  // mismatch (`what` prefixes them, e.g. the tensor name).
  static Result<Conv1d> Create(const Conv1dSpec& spec, const std::vector<float>& weight,
                               const std::vector<float>& bias, Isa isa = BestIsa(), const std::string& what = "conv1d");

  const Conv1dSpec& spec() const { return spec_; }
  // Output frames for `frames` input frames (0 if the padded input is shorter than the kernel).
  int64_t OutputFrames(int64_t frames) const;
  // x: [frames][in_channels]; y: [OutputFrames(frames)][out_channels] (must not alias x).
  void Forward(const float* x, int64_t frames, float* y, WorkerTeam* team) const;
  std::vector<float> Forward(const std::vector<float>& x, WorkerTeam* team) const;

 private:
  Conv1dSpec spec_;
  Isa isa_ = Isa::kScalar;
  std::vector<PackedMatrix> packed_;  // one per group (GEMM path)
  std::vector<float> depthwise_;      // [kernel][channels] (depthwise path)
  std::vector<float> bias_;           // [out] (zeros when absent)
};

struct ConvTranspose1dSpec {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 1;
  int stride = 1;
  int padding = 0;
};

class ConvTranspose1d {
 public:
  ConvTranspose1d() = default;
  // weight: [in][out][kernel] (PyTorch order); bias: [out] or empty.
  static Result<ConvTranspose1d> Create(const ConvTranspose1dSpec& spec, const std::vector<float>& weight,
                                        const std::vector<float>& bias, Isa isa = BestIsa(),
                                        const std::string& what = "conv_transpose1d");

  const ConvTranspose1dSpec& spec() const { return spec_; }
  int64_t OutputFrames(int64_t frames) const;
  // x: [frames][in_channels]; y: [OutputFrames(frames)][out_channels] (must not alias x).
  void Forward(const float* x, int64_t frames, float* y, WorkerTeam* team) const;
  std::vector<float> Forward(const std::vector<float>& x, WorkerTeam* team) const;

 private:
  ConvTranspose1dSpec spec_;
  Isa isa_ = Isa::kScalar;
  std::vector<PackedMatrix> phases_;  // phase r: [out][taps_r * in], tap j is kernel index r + j * stride
  std::vector<int> taps_;
  std::vector<float> bias_;
};

// Weight normalization as PyTorch stores it (weight_g / weight_v, or parametrizations
// original0 / original1): w[o][...] = g[o] * v[o][...] / ||v[o]|| (norm over every dim but 0).
// g has one value per row of v; v has g.size() rows.
std::vector<float> WeightNorm(const std::vector<float>& g, const std::vector<float>& v);

}  // namespace cadence::engine::nn
