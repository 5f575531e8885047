#include "engine/nn/snake.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include "engine/simd_avx2.h"

namespace cadence::engine::nn {
namespace {

constexpr int64_t kFramesPerChunk = 64;

void SnakeRowsScalar(const float* x, float* y, int64_t n, const float* alpha, const float* inv, int64_t channels) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % channels;
    const float s = std::sin(x[i] * alpha[c]);
    y[i] = x[i] + inv[c] * (s * s);
  }
}

// sin(v)^2 for |v| < 8192 (see snake.h).
CADENCE_AVX2 inline __m256 SinSquared(__m256 v) {
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(v, _mm256_set1_ps(0.318309886183790671f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(3.140625f), v);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(9.67502593994140625e-4f), r);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.509957990978376432e-7f), r);
  const __m256 r2 = _mm256_mul_ps(r, r);
  __m256 p = _mm256_set1_ps(1.6059043836821614e-10f);                    // 1 / 13!
  p = _mm256_fmadd_ps(p, r2, _mm256_set1_ps(-2.5052108385441720e-8f));   // -1 / 11!
  p = _mm256_fmadd_ps(p, r2, _mm256_set1_ps(2.7557319223985893e-6f));    // 1 / 9!
  p = _mm256_fmadd_ps(p, r2, _mm256_set1_ps(-1.9841269841269841e-4f));   // -1 / 7!
  p = _mm256_fmadd_ps(p, r2, _mm256_set1_ps(8.3333333333333333e-3f));    // 1 / 5!
  p = _mm256_fmadd_ps(p, r2, _mm256_set1_ps(-1.6666666666666667e-1f));   // -1 / 3!
  const __m256 s = _mm256_fmadd_ps(_mm256_mul_ps(p, r2), r, r);
  return _mm256_mul_ps(s, s);
}

CADENCE_AVX2 void SnakeRowAvx2(const float* x, float* y, const float* alpha, const float* inv, int64_t channels) {
  int64_t c = 0;
  const __m256 limit = _mm256_set1_ps(8192.0f);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (; c + 8 <= channels; c += 8) {
    const __m256 xv = _mm256_loadu_ps(x + c);
    const __m256 v = _mm256_mul_ps(xv, _mm256_loadu_ps(alpha + c));
    if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, abs_mask), limit, _CMP_GE_OQ)) != 0 ||
        _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      SnakeRowsScalar(x + c, y + c, 8, alpha + c, inv + c, 8);
      continue;
    }
    // x + inv * s2, rounded as PyTorch's separate multiply and add.
    const __m256 t = _mm256_mul_ps(_mm256_loadu_ps(inv + c), SinSquared(v));
    _mm256_storeu_ps(y + c, _mm256_add_ps(xv, t));
  }
  if (c < channels) SnakeRowsScalar(x + c, y + c, channels - c, alpha + c, inv + c, channels - c);
}

}  // namespace

Snake::Snake(std::vector<float> alpha) : alpha_(std::move(alpha)) {
  inv_alpha_.resize(alpha_.size());
  for (size_t c = 0; c < alpha_.size(); ++c) inv_alpha_[c] = 1.0f / (alpha_[c] + 1e-9f);
}

void Snake::Forward(const float* x, float* y, int64_t frames, WorkerTeam* team, Isa isa) const {
  const int64_t channels = static_cast<int64_t>(alpha_.size());
  const bool simd = isa != Isa::kScalar && IsaSupported(Isa::kAvx2);
  auto run = [&](int64_t chunk) {
    const int64_t t_end = std::min(frames, (chunk + 1) * kFramesPerChunk);
    for (int64_t t = chunk * kFramesPerChunk; t < t_end; ++t) {
      const float* in = x + t * channels;
      float* out = y + t * channels;
      if (simd) {
        SnakeRowAvx2(in, out, alpha_.data(), inv_alpha_.data(), channels);
      } else {
        SnakeRowsScalar(in, out, channels, alpha_.data(), inv_alpha_.data(), channels);
      }
    }
  };
  const int64_t chunks = (frames + kFramesPerChunk - 1) / kFramesPerChunk;
  if (team != nullptr && team->threads() > 1 && chunks > 1) {
    team->ParallelFor(chunks, run);
  } else {
    for (int64_t c = 0; c < chunks; ++c) run(c);
  }
}

}  // namespace cadence::engine::nn
