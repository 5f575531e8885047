// AVX-512 (F/BW/VL) dot kernels: so far Q8_0 only (no VNNI path yet). Compiled with function
// target attributes; only called after IsaSupported(Isa::kAvx512). Types without an AVX-512
// kernel here use the AVX2 one (ResolveDotKernel falls back). This machine (AMD Zen, AVX2) cannot
// run them; kernels_test checks them against scalar wherever the CPU has AVX-512.
// GCC 12's AVX-512 intrinsic headers trip -Wuninitialized under target attributes (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "engine/kernels.h"

#define CADENCE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))

namespace cadence::engine {
namespace {

CADENCE_AVX512 inline float Half(const uint8_t* p) { return _cvtsh_ss(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

// Two Q8_0 blocks per 512-bit step: |w| * sign(w)·x via maddubs, widened with madd.
CADENCE_AVX512 float DotQ8_0(const void* w, const float*, QuantizedRow row, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8Block* xq = row.q8;
  __m512 acc = _mm512_setzero_ps();
  const int64_t blocks = n / 32;
  int64_t k = 0;
  for (; k + 2 <= blocks; k += 2, b += 2 * kQ8_0Bytes) {
    const __m512i q = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + kQ8_0Bytes + 2)), 1);
    const __m512i y = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[k].q))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[k + 1].q)), 1);
    const __m512i aq = _mm512_abs_epi8(q);
    const __mmask64 neg = _mm512_movepi8_mask(q);
    const __m512i sy = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    const __m512i p = _mm512_madd_epi16(_mm512_maddubs_epi16(aq, sy), _mm512_set1_epi16(1));
    const __m512 scale = _mm512_mask_mov_ps(_mm512_set1_ps(Half(b) * xq[k].d), 0xFF00,
                                            _mm512_set1_ps(Half(b + kQ8_0Bytes) * xq[k + 1].d));
    acc = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(p), acc);
  }
  float s = _mm512_reduce_add_ps(acc);
  for (; k < blocks; ++k, b += kQ8_0Bytes) {
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
    int32_t a = 0;
    for (int i = 0; i < 32; ++i) a += q[i] * xq[k].q[i];
    s += Half(b) * xq[k].d * static_cast<float>(a);
  }
  return s;
}

}  // namespace

DotFn GetDotKernelAvx512(DType type) {
  switch (type) {
    case DType::kQ8_0: return DotQ8_0;
    default: return nullptr;
  }
}

DotTokensFn GetDotTokensKernelAvx512(DType) { return nullptr; }

}  // namespace cadence::engine
