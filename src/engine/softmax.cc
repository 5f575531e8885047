#include "engine/softmax.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#define CADENCE_AVX2 __attribute__((target("avx2,fma")))

namespace cadence::engine {
namespace {

void SoftmaxScalar(float* x, int64_t n) {
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n; ++j) max_score = std::max(max_score, x[j]);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) sum += (x[j] = std::exp(x[j] - max_score));
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) x[j] *= inv;
}

// e^x for x <= 0 (softmax arguments): x = k ln2 + r, |r| <= ln2/2, e^r by Cephes' degree-6
// polynomial, 2^k put into the exponent bits. Clamped below at -87 (e^-87 ~ 1.6e-38, normal).
CADENCE_AVX2 inline __m256 ExpNonPositive(__m256 x) {
  x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

CADENCE_AVX2 float HorizontalMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

CADENCE_AVX2 float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

CADENCE_AVX2 void SoftmaxAvx2(float* x, int64_t n) {
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
  const __m256 inv = _mm256_set1_ps(1.0f / sum);
  for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(x + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), inv));
  for (; j < n; ++j) x[j] *= 1.0f / sum;
}

}  // namespace

void Softmax(float* x, int64_t n, Isa isa) {
  if (n <= 0) return;
  if (isa == Isa::kScalar) {
    SoftmaxScalar(x, n);
  } else {
    SoftmaxAvx2(x, n);
  }
}

}  // namespace cadence::engine
