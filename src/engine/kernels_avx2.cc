// AVX2 + FMA + F16C dot kernels. Compiled with function target attributes so the rest of the
// build stays baseline x86-64; only called after IsaSupported(Isa::kAvx2).
#include <immintrin.h>

#include "engine/kernels.h"

#define CADENCE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace cadence::engine {
namespace {

CADENCE_AVX2 inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

CADENCE_AVX2 inline float Half(const uint8_t* p) {
  return _cvtsh_ss(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

// Sum of pairwise u8*i8 products widened to 8 x int32.
CADENCE_AVX2 inline __m256i DotU8I8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

CADENCE_AVX2 float DotF32(const void* w, const float* x, const Q8Block*, int64_t n) {
  const float* a = static_cast<const float*>(w);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
  }
  float s = Hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * x[i];
  return s;
}

CADENCE_AVX2 float DotF16(const void* w, const float* x, const Q8Block*, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i + 16)));
    acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), acc1);
  }
  float s = Hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += Half(a + 2 * i) * x[i];
  return s;
}

CADENCE_AVX2 float DotBF16(const void* w, const float* x, const Q8Block*, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    acc = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(h, 16)), _mm256_loadu_ps(x + i), acc);
  }
  float s = Hsum(acc);
  for (; i < n; ++i) s += Bf16ToFp32(static_cast<uint16_t>(a[2 * i] | (a[2 * i + 1] << 8))) * x[i];
  return s;
}

CADENCE_AVX2 float DotQ8_0(const void* w, const float*, const Q8Block* xq, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t k = 0; k < n / 32; ++k, b += kQ8_0Bytes) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[k].q));
    // |w| * sign(w) * x: maddubs needs an unsigned left operand.
    const __m256i p = DotU8I8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(Half(b) * xq[k].d), _mm256_cvtepi32_ps(p), acc);
  }
  return Hsum(acc);
}

CADENCE_AVX2 float DotQ4_0(const void* w, const float*, const Q8Block* xq, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float offset = 0;
  for (int64_t k = 0; k < n / 32; ++k, b += kQ4_0Bytes) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2));
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
    const __m256i q = _mm256_and_si256(both, mask);  // low nibbles then high nibbles: values 0..31
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[k].q));
    const float dd = Half(b) * xq[k].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dd), _mm256_cvtepi32_ps(DotU8I8(q, y)), acc);
    offset += dd * 8.0f * static_cast<float>(xq[k].sum);
  }
  return Hsum(acc) - offset;
}

CADENCE_AVX2 float DotQ4_K(const void* w, const float*, const Q8Block* xq, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb, b += kQ4_KBytes) {
    const float d = Half(b), dmin = Half(b + 2);
    const uint8_t* scales = b + 4;
    const Q8Block* x = xq + sb * 8;
    for (int j = 0; j < 8; j += 2) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + (j / 2) * 32));
      const __m256i lo = _mm256_and_si256(raw, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
      uint8_t sc0, m0, sc1, m1;
      Q4KScaleMin(j, scales, &sc0, &m0);
      Q4KScaleMin(j + 1, scales, &sc1, &m1);
      const __m256i p0 = DotU8I8(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j].q)));
      const __m256i p1 = DotU8I8(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[j + 1].q)));
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc0 * x[j].d), _mm256_cvtepi32_ps(p0), acc);
      acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc1 * x[j + 1].d), _mm256_cvtepi32_ps(p1), acc);
      mins += dmin * (m0 * x[j].d * static_cast<float>(x[j].sum) + m1 * x[j + 1].d * static_cast<float>(x[j + 1].sum));
    }
  }
  return Hsum(acc) - mins;
}

CADENCE_AVX2 float DotQ6_K(const void* w, const float*, const Q8Block* xq, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m2 = _mm256_set1_epi8(0x03);
  const __m256i k32 = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb, b += kQ6_KBytes) {
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = Half(b + 208);
    for (int half = 0; half < 2; ++half) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + half * 64));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + half * 64 + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + half * 32));
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(h, m2), 4)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4)),
      };
      for (int part = 0; part < 4; ++part) {
        const Q8Block& x = xq[sb * 8 + half * 4 + part];
        const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.q));
        // (q - 32) * y per pair, as q*y - 32*y (both fit int16).
        const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[part], y), _mm256_maddubs_epi16(k32, y));
        const int8_t* s2 = sc + half * 8 + part * 2;
        const __m256i scales = _mm256_set_m128i(_mm_set1_epi16(s2[1]), _mm_set1_epi16(s2[0]));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), _mm256_cvtepi32_ps(_mm256_madd_epi16(p, scales)), acc);
      }
    }
  }
  return Hsum(acc);
}

}  // namespace

DotFn GetDotKernelAvx2(DType type) {
  switch (type) {
    case DType::kF32: return DotF32;
    case DType::kF16: return DotF16;
    case DType::kBF16: return DotBF16;
    case DType::kQ8_0: return DotQ8_0;
    case DType::kQ4_0: return DotQ4_0;
    case DType::kQ4_K: return DotQ4_K;
    case DType::kQ6_K: return DotQ6_K;
  }
  return nullptr;
}

}  // namespace cadence::engine
