#include "engine/softmax.h"

#include <algorithm>
#include <cmath>

#include "engine/simd_avx2.h"

namespace cadence::engine {
namespace {

ShiftedExp ExpShiftedScalar(float* x, int64_t n) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, x[j]);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += (x[j] = std::exp(x[j] - max_score));
  return {max_score, sum};
}

using avx2::ExpNonPositive;
using avx2::HorizontalMax;
using avx2::HorizontalSum;

CADENCE_AVX2 ShiftedExp ExpShiftedAvx2(float* x, int64_t n) {
  int64_t j = 0;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + j));
  float max_score = HorizontalMax(vmax);
  for (; j < n; ++j) max_score = std::max(max_score, x[j]);
  const __m256 m = _mm256_set1_ps(max_score);
  __m256 vsum = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 e = ExpNonPositive(_mm256_sub_ps(_mm256_loadu_ps(x + j), m));
    _mm256_storeu_ps(x + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  float sum = HorizontalSum(vsum);
  if (j < n) {  // the tail through the same polynomial, so every lane agrees
    alignas(32) float tail[8];
    const int rest = static_cast<int>(n - j);
    for (int t = 0; t < 8; ++t) tail[t] = t < rest ? x[j + t] - max_score : -INFINITY;
    _mm256_store_ps(tail, ExpNonPositive(_mm256_load_ps(tail)));
    for (int t = 0; t < rest; ++t) sum += (x[j + t] = tail[t]);
  }
  return {max_score, sum};
}

CADENCE_AVX2 void ScaleAvx2(float* x, int64_t n, float factor) {
  const __m256 f = _mm256_set1_ps(factor);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), f));
  for (; j < n; ++j) x[j] *= factor;
}

}  // namespace

ShiftedExp ExpShifted(float* x, int64_t n, Isa isa) {
  if (n <= 0) return {};
  return isa == Isa::kScalar ? ExpShiftedScalar(x, n) : ExpShiftedAvx2(x, n);
}

void Softmax(float* x, int64_t n, Isa isa) {
  if (n <= 0) return;
  const float inv = 1.0f / ExpShifted(x, n, isa).sum;
  if (isa == Isa::kScalar) {
    for (int64_t j = 0; j < n; ++j) x[j] *= inv;
  } else {
    ScaleAvx2(x, n, inv);
  }
}

}  // namespace cadence::engine
