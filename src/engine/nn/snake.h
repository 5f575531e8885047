// Snake activation (HiFT / BigVGAN residual blocks) on time-major [frames][channels] activations:
//   y = x + 1 / (alpha[c] + 1e-9) * sin(alpha[c] * x)^2,   alpha per channel (linear scale),
// evaluated as PyTorch does in float32 (the reciprocal first, then the product).
//
// Isa::kScalar uses std::sin; AVX2 (and wider) a polynomial: alpha x = k pi + r with |r| <= pi / 2
// (Cody-Waite, three-part pi), sin(r) by its odd Taylor series to r^13 (truncation below 1e-9),
// squared, so the sign of sin never matters. Within a few float ulps of std::sin's result for
// |alpha x| < 8192; a group of 8 values with any larger argument falls back to std::sin.
// Immutable after construction; Forward may run from many threads. x and y may alias.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kernels.h"
#include "engine/parallel.h"

namespace cadence::engine::nn {

class Snake {
 public:
  Snake() = default;
  explicit Snake(std::vector<float> alpha);
  int channels() const { return static_cast<int>(alpha_.size()); }
  // x, y: [frames][channels()]; frames split over `team` (may be null).
  void Forward(const float* x, float* y, int64_t frames, WorkerTeam* team, Isa isa) const;

 private:
  std::vector<float> alpha_, inv_alpha_;
};

}  // namespace cadence::engine::nn
