#include "engine/activation.h"

#include <cmath>

#include "engine/simd_avx2.h"

namespace cadence::engine {
namespace {

// 1 + erf(z) for z = x / √2, with Abramowitz & Stegun 7.1.26: erf(|z|) = 1 - P(t) e^{-z²}, t = 1 /
// (1 + p|z|), absolute error <= 1.5e-7. For z < 0 the sum is P(t) e^{-z²} itself, so GELU's far
// negative tail keeps its relative precision instead of cancelling.
CADENCE_AVX2 inline __m256 OnePlusErf(__m256 z) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 az = _mm256_andnot_ps(sign_bit, z);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  const __m256 tail = _mm256_mul_ps(p, avx2::ExpNonPositive(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), az), az)));
  const __m256 negative = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), tail), tail, negative);
}

CADENCE_AVX2 inline __m256 GeluLanes(__m256 x) {
  const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(static_cast<float>(M_SQRT1_2)));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), OnePlusErf(z));
}

// silu(x) = x · σ(x), σ from e^{-|x|} (x | sign bit = -|x|; never overflows): σ(x) = 1 / (1 + e) for x >= 0, e / (1 + e)
// below.
CADENCE_AVX2 inline __m256 SiluLanes(__m256 x) {
  const __m256 e = avx2::ExpNonPositive(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
  const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
  const __m256 sigma = _mm256_blendv_ps(inv, _mm256_mul_ps(e, inv), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_mul_ps(x, sigma);
}

// Runs lanes() over whole groups of 8 and a zero-padded last group.
template <typename Lanes>
CADENCE_AVX2 void MapAvx2(float* x, const float* y, int64_t n, const Lanes& lanes) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 yv = y != nullptr ? _mm256_loadu_ps(y + i) : _mm256_setzero_ps();
    _mm256_storeu_ps(x + i, lanes(_mm256_loadu_ps(x + i), yv));
  }
  if (i == n) return;
  alignas(32) float xs[8] = {}, ys[8] = {};
  for (int64_t j = i; j < n; ++j) {
    xs[j - i] = x[j];
    if (y != nullptr) ys[j - i] = y[j];
  }
  _mm256_store_ps(xs, lanes(_mm256_load_ps(xs), _mm256_load_ps(ys)));
  for (int64_t j = i; j < n; ++j) x[j] = xs[j - i];
}

struct GeluOp {
  CADENCE_AVX2 __m256 operator()(__m256 x, __m256) const { return GeluLanes(x); }
};

struct SiluMulOp {
  CADENCE_AVX2 __m256 operator()(__m256 gate, __m256 up) const { return _mm256_mul_ps(SiluLanes(gate), up); }
};

CADENCE_AVX2 void GeluAvx2(float* x, int64_t n) { MapAvx2(x, nullptr, n, GeluOp{}); }

CADENCE_AVX2 void SiluMulAvx2(float* gate, const float* up, int64_t n) { MapAvx2(gate, up, n, SiluMulOp{}); }

}  // namespace

void Gelu(float* x, int64_t n, Isa isa) {
  if (isa != Isa::kScalar) {
    GeluAvx2(x, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * static_cast<float>(M_SQRT1_2)));
}

void SiluMul(float* gate, const float* up, int64_t n, Isa isa) {
  if (isa != Isa::kScalar) {
    SiluMulAvx2(gate, up, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace cadence::engine
