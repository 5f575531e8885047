// AVX2 + FMA + F16C dot kernels. Compiled with function target attributes so the rest of the
// build stays baseline x86-64; only called after IsaSupported(Isa::kAvx2).
#include <immintrin.h>

#include <cstring>

#include "engine/kernel_families.h"
#include "engine/kernels.h"
#include "engine/simd_avx2.h"

namespace cadence::engine {

void SumQ8KGroups(Q8KBlock* b);  // kernels.cc

namespace {

using avx2::BytesFromBits;
using avx2::Nibbles32;

// The quantized mat-vec kernels stream their weight rows from memory; the hardware prefetcher
// alone leaves the loads and the arithmetic mostly serialized on this kind of core. Asking for
// the lines kPrefetchBytes ahead overlaps them (decode +10-20 %, measured with cadence bench engine).
// 2 KiB rather than 1 KiB since Q5_0R's kernel streams ~1.5x faster: 0.5B "Q4_K" decode +3 % in
// three of three alternating runs, the Q4_K models unchanged within noise.
constexpr int kPrefetchBytes = 2048;

CADENCE_AVX2 inline void Prefetch(const uint8_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0); }

CADENCE_AVX2 inline float Half(const uint8_t* p) {
  return _cvtsh_ss(static_cast<uint16_t>(p[0] | (p[1] << 8)));
}

// Sum of pairwise u8*i8 products widened to 8 x int32.
CADENCE_AVX2 inline __m256i DotU8I8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

CADENCE_AVX2 float DotF32(const void* w, const float* x, QuantizedRow, int64_t n) {
  const float* a = static_cast<const float*>(w);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
  }
  float s = avx2::HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += a[i] * x[i];
  return s;
}

CADENCE_AVX2 float DotF16(const void* w, const float* x, QuantizedRow, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i + 16)));
    acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), acc1);
  }
  float s = avx2::HorizontalSum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) s += Half(a + 2 * i) * x[i];
  return s;
}

CADENCE_AVX2 float DotBF16(const void* w, const float* x, QuantizedRow, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * i)));
    acc = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(h, 16)), _mm256_loadu_ps(x + i), acc);
  }
  float s = avx2::HorizontalSum(acc);
  for (; i < n; ++i) s += Bf16ToFp32(static_cast<uint16_t>(a[2 * i] | (a[2 * i + 1] << 8))) * x[i];
  return s;
}

// The quantized kernels are templates over NT, the number of tokens sharing one pass over the
// weight row (1 for decode, up to kDotTokens for prompts): the row is loaded and unpacked once
// and each token keeps its own accumulator, with the same operation order as NT = 1 so the mat-mat
// path gives the mat-vec path's results bit for bit. Token t's blocks start t * xs values after
// the first token's.

// The 32 quants of a Q8_0, Q4_0 or Q5_0 block as signed bytes (Q4_0: q - 8; Q5_0: q - 16, the
// nibble | 0xF0 where the high bit is clear).
CADENCE_AVX2 inline __m256i SignedQ8_0(const uint8_t* b) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2));
}
CADENCE_AVX2 inline __m256i SignedQ4_0(const uint8_t* b) {
  return _mm256_sub_epi8(Nibbles32(b + 2), _mm256_set1_epi8(8));
}
CADENCE_AVX2 inline __m256i SignedQ5_0(const uint8_t* b) {
  return _mm256_or_si256(Nibbles32(b + 6), _mm256_andnot_si256(BytesFromBits(b + 2), _mm256_set1_epi8(-16)));
}

// One block of signed quants (f16 scale first) against each token's Q8 block: |w| * sign(w) * x,
// as maddubs needs an unsigned left operand.
template <int NT, __m256i (*Quants)(const uint8_t*)>
CADENCE_AVX2 inline void StepSigned(const uint8_t* b, const Q8Block* x, int64_t xs, __m256* acc) {
  const __m256i q = Quants(b);
  const __m256i aq = _mm256_sign_epi8(q, q);
  const float dw = Half(b);
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    const Q8Block& xt = x[t * xs];
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt.q));
    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xt.d), _mm256_cvtepi32_ps(DotU8I8(aq, _mm256_sign_epi8(yv, q))),
                             acc[t]);
  }
}

// Two accumulators per token (even and odd blocks): one FMA chain's latency, not the load and
// multiply throughput, would otherwise bound the mat-vec.
template <int NT, size_t kBytes, __m256i (*Quants)(const uint8_t*)>
CADENCE_AVX2 void DotSignedT(const void* w, QuantizedRow row, int64_t x_stride, int64_t n, float* y, int64_t ys) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8Block* xq = row.q8;
  const int64_t xs = x_stride / 32;
  __m256 acc0[NT], acc1[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps();
  const int64_t blocks = n / 32;
  int64_t k = 0;
  for (; k + 2 <= blocks; k += 2, b += 2 * kBytes) {
    for (size_t line = 0; line < 2 * kBytes; line += 64) Prefetch(b + line);
    StepSigned<NT, Quants>(b, xq + k, xs, acc0);
    StepSigned<NT, Quants>(b + kBytes, xq + k + 1, xs, acc1);
  }
  if (k < blocks) StepSigned<NT, Quants>(b, xq + k, xs, acc0);
  for (int t = 0; t < NT; ++t) y[t * ys] = avx2::HorizontalSum(_mm256_add_ps(acc0[t], acc1[t]));
}

template <int NT>
CADENCE_AVX2 void DotQ8_0T(const void* w, QuantizedRow row, int64_t xs, int64_t n, float* y, int64_t ys) {
  DotSignedT<NT, kQ8_0Bytes, SignedQ8_0>(w, row, xs, n, y, ys);
}
template <int NT>
CADENCE_AVX2 void DotQ4_0T(const void* w, QuantizedRow row, int64_t xs, int64_t n, float* y, int64_t ys) {
  DotSignedT<NT, kQ4_0Bytes, SignedQ4_0>(w, row, xs, n, y, ys);
}
template <int NT>
CADENCE_AVX2 void DotQ5_0T(const void* w, QuantizedRow row, int64_t xs, int64_t n, float* y, int64_t ys) {
  DotSignedT<NT, kQ5_0Bytes, SignedQ5_0>(w, row, xs, n, y, ys);
}

// Q5_0R (dtype.h): per group of eight blocks, the quants unpacked once as unsigned 0..31 (block
// k's nibbles with one AND, its high bits shifted from the plane's bit k to bit 4); per token,
// maddubs gives each block's pair products, an int16 hadd and one madd fold two blocks at a time,
// and a tree of hadds leaves block k's integer dot in lane k, minus 16 * (block k's sum of x) for
// the -16 offset; the eight scales (weights' f16 and activations' d) multiply it in one FMA. About
// half the instructions per block of Q5_0's kernel (bench engine --kernels: ~2x the GB/s). The
// group of four works the same on half a vector; the last 0-3 blocks are Q5_0's.
template <int K>
CADENCE_AVX2 inline __m256i Q5_0RHighBits(__m256i plane) {
  __m256i at4;
  if constexpr (K < 4) at4 = _mm256_slli_epi16(plane, 4 - K);
  else if constexpr (K == 4) at4 = plane;
  else at4 = _mm256_srli_epi16(plane, K - 4);
  return _mm256_and_si256(at4, _mm256_set1_epi8(0x10));
}

// Block K's 32 quants (0..31) from its group's nibble chunk `raw` (low nibbles for even K, high
// for odd) and the high-bit plane.
template <int K>
CADENCE_AVX2 inline __m256i Q5_0RQuants(__m256i raw, __m256i plane) {
  const __m256i nibbles = K % 2 == 0 ? raw : _mm256_srli_epi16(raw, 4);
  return _mm256_or_si256(_mm256_and_si256(nibbles, _mm256_set1_epi8(0x0F)), Q5_0RHighBits<K>(plane));
}

// For each token, the hadd of blocks 2P and 2P + 1's partial sums of a Q5_0R group (their quants
// unpacked once from `nibbles`, the group's nibble chunks): lanes 0-1 and 4-5 hold block 2P's
// pairs, 2-3 and 6-7 block 2P + 1's.
template <int NT, int P>
CADENCE_AVX2 inline void Q5_0RPairSums(const uint8_t* nibbles, __m256i plane, const Q8Block* x, int64_t xs,
                                       __m256i* sums) {
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(nibbles + 32 * P));
  const __m256i q0 = Q5_0RQuants<2 * P>(raw, plane), q1 = Q5_0RQuants<2 * P + 1>(raw, plane);
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    const Q8Block* xt = x + t * xs + 2 * P;
    // maddubs' int16 pairs (|q0 y0 + q1 y1| <= 2 x 31 x 127) summed in pairs by hadd stay within
    // int16, so one madd widens both blocks: a multiply fewer than madd per block, then hadd.
    const __m256i p0 = _mm256_maddubs_epi16(q0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt[0].q)));
    const __m256i p1 = _mm256_maddubs_epi16(q1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt[1].q)));
    sums[t] = _mm256_madd_epi16(_mm256_hadd_epi16(p0, p1), _mm256_set1_epi16(1));
  }
}

// Adds a group of eight blocks to one token's accumulator: lane b of lo's and hi's 128-bit halves
// summed is block b's integer dot; minus 16 x (block b's sum of x) for the -16 offset, times the
// weight's and the activation's scales.
CADENCE_AVX2 inline __m256 Q5_0RGroupDot(__m256i lo, __m256i hi, __m256 dw, const int32_t* x_sums, const float* x_d,
                                         __m256 acc) {
  const __m256i dots = _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31));
  const __m256i sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x_sums));
  const __m256 scales = _mm256_mul_ps(dw, _mm256_loadu_ps(x_d));
  return _mm256_fmadd_ps(scales, _mm256_cvtepi32_ps(_mm256_sub_epi32(dots, _mm256_slli_epi32(sums, 4))), acc);
}

template <int NT>
CADENCE_AVX2 void DotQ5_0RT(const void* w, QuantizedRow row, int64_t x_stride, int64_t n, float* y, int64_t ys) {
  const uint8_t* g = static_cast<const uint8_t*>(w);
  const int64_t xs = x_stride / 32;
  const int64_t blocks = n / 32;
  // One accumulator per token, in registers: the group of four and the plain tail add into it too
  // (separate arrays for them were zeroed on the stack with rep stos on every call).
  __m256 acc[NT];
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 8 <= blocks; k += 8, g += 8 * kQ5_0Bytes) {
    for (size_t line = 0; line < 8 * kQ5_0Bytes; line += 64) Prefetch(g + line);
    const __m256i plane = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + 16));
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(g)));
    // The tree of hadds folds pairs as they come, so few vectors stay live.
    if constexpr (NT == 1) {
      __m256i lo[1], hi[1], next[1];
      Q5_0RPairSums<1, 0>(g + 48, plane, row.q8 + k, xs, lo);
      Q5_0RPairSums<1, 1>(g + 48, plane, row.q8 + k, xs, next);
      lo[0] = _mm256_hadd_epi32(lo[0], next[0]);
      Q5_0RPairSums<1, 2>(g + 48, plane, row.q8 + k, xs, hi);
      Q5_0RPairSums<1, 3>(g + 48, plane, row.q8 + k, xs, next);
      hi[0] = _mm256_hadd_epi32(hi[0], next[0]);
      acc[0] = Q5_0RGroupDot(lo[0], hi[0], dw, row.q8_sum + k, row.q8_d + k, acc[0]);
    } else {
      // Several tokens: the eight blocks' quants unpacked once, then each token's tree in turn,
      // finished into its accumulator before the next (per-pair arrays over the tokens would keep
      // 3 x NT vectors live and spill).
      __m256i raw[4];
      for (int c = 0; c < 4; ++c) raw[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g + 48 + 32 * c));
      const __m256i q[8] = {Q5_0RQuants<0>(raw[0], plane), Q5_0RQuants<1>(raw[0], plane),
                            Q5_0RQuants<2>(raw[1], plane), Q5_0RQuants<3>(raw[1], plane),
                            Q5_0RQuants<4>(raw[2], plane), Q5_0RQuants<5>(raw[2], plane),
                            Q5_0RQuants<6>(raw[3], plane), Q5_0RQuants<7>(raw[3], plane)};
      const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const Q8Block* x = row.q8 + t * xs + k;
        __m256i pair[4];
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          const __m256i p0 = _mm256_maddubs_epi16(q[2 * p], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[2 * p].q)));
          const __m256i p1 =
              _mm256_maddubs_epi16(q[2 * p + 1], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[2 * p + 1].q)));
          pair[p] = _mm256_madd_epi16(_mm256_hadd_epi16(p0, p1), ones);
        }
        acc[t] = Q5_0RGroupDot(_mm256_hadd_epi32(pair[0], pair[1]), _mm256_hadd_epi32(pair[2], pair[3]), dw,
                               row.q8_sum + t * xs + k, row.q8_d + t * xs + k, acc[t]);
      }
    }
  }
  if (Q5_0RGroupAt(k, blocks) == 4) {
    // The group of four: its 16-byte plane holds quants 0-15 in the low nibbles, 16-31 in the high.
    const __m128i p16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 8));
    const __m256i plane = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(p16, 4), p16), _mm256_set1_epi8(0x0F));
    __m256i lo[NT], next[NT];
    Q5_0RPairSums<NT, 0>(g + 24, plane, row.q8 + k, xs, lo);
    Q5_0RPairSums<NT, 1>(g + 24, plane, row.q8 + k, xs, next);
    const __m128 dw = _mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(g)));
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const __m256i four = _mm256_hadd_epi32(lo[t], next[t]);
      const __m128i dots = _mm_add_epi32(_mm256_castsi256_si128(four), _mm256_extracti128_si256(four, 1));
      const __m128i sums = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row.q8_sum + t * xs + k));
      const __m128 scales = _mm_mul_ps(dw, _mm_loadu_ps(row.q8_d + t * xs + k));
      const __m128 part = _mm_mul_ps(scales, _mm_cvtepi32_ps(_mm_sub_epi32(dots, _mm_slli_epi32(sums, 4))));
      acc[t] = _mm256_add_ps(acc[t], _mm256_set_m128(_mm_setzero_ps(), part));
    }
    k += 4;
    g += 4 * kQ5_0Bytes;
  }
  for (; k < blocks; ++k, g += kQ5_0Bytes) StepSigned<NT, SignedQ5_0>(g, row.q8 + k, xs, acc);
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) y[t * ys] = avx2::HorizontalSum(acc[t]);
}

// Q5_1: quants 0..31 unsigned, d * x.d * (q . y) + m * x.d * (sum of y).
template <int NT>
CADENCE_AVX2 inline void StepQ5_1(const uint8_t* b, const Q8Block* x, int64_t xs, __m256* acc, float* offset) {
  const __m256i q = _mm256_or_si256(Nibbles32(b + 8), _mm256_and_si256(BytesFromBits(b + 4), _mm256_set1_epi8(16)));
  const float dw = Half(b), mw = Half(b + 2);
#pragma GCC unroll 4
  for (int t = 0; t < NT; ++t) {
    const Q8Block& xt = x[t * xs];
    const __m256i yv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xt.q));
    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xt.d), _mm256_cvtepi32_ps(DotU8I8(q, yv)), acc[t]);
    offset[t] += mw * xt.d * static_cast<float>(xt.sum);
  }
}

template <int NT>
CADENCE_AVX2 void DotQ5_1T(const void* w, QuantizedRow row, int64_t x_stride, int64_t n, float* y, int64_t ys) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8Block* xq = row.q8;
  const int64_t xs = x_stride / 32;
  __m256 acc0[NT], acc1[NT];
  float off0[NT], off1[NT];
  for (int t = 0; t < NT; ++t) acc0[t] = acc1[t] = _mm256_setzero_ps(), off0[t] = off1[t] = 0.0f;
  const int64_t blocks = n / 32;
  int64_t k = 0;
  for (; k + 2 <= blocks; k += 2, b += 2 * kQ5_1Bytes) {
    Prefetch(b);
    StepQ5_1<NT>(b, xq + k, xs, acc0, off0);
    StepQ5_1<NT>(b + kQ5_1Bytes, xq + k + 1, xs, acc1, off1);
  }
  if (k < blocks) StepQ5_1<NT>(b, xq + k, xs, acc0, off0);
  for (int t = 0; t < NT; ++t) y[t * ys] = avx2::HorizontalSum(_mm256_add_ps(acc0[t], acc1[t])) + (off0[t] + off1[t]);
}

// Q4_K's twelve bytes of packed 6-bit scales and mins as 16 bytes: the eight scales, then the
// eight mins. ggml's layout: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7
// (mins); sub-blocks 4-7 in the nibbles of bytes 8-11 (scale low, min high) with their top 2 bits
// in the top 2 bits of bytes 0-3 (scales) and 4-7 (mins). All in one register, with byte shuffles
// and masks: scalar unpacking cost about a fifth of the kernel's instructions. Reads 16 bytes from
// `packed` (the 4 after the scales are the first quants).
CADENCE_AVX2 inline __m128i UnpackQ4KScales(const uint8_t* packed) {
  const __m128i u = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  // Output byte k: its low bits come from byte a[k], its top 2 bits (sub-blocks 4-7) from b[k].
  const __m128i a = _mm_shuffle_epi8(u, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
  const __m128i b = _mm_shuffle_epi8(u, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
  const __m128i low = _mm_and_si128(a, _mm_setr_epi8(0x3f, 0x3f, 0x3f, 0x3f, 0x0f, 0x0f, 0x0f, 0x0f, 0x3f, 0x3f, 0x3f,
                                                    0x3f, 0, 0, 0, 0));
  const __m128i min_nibbles = _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                                               0x0f, 0x0f, 0x0f, 0x0f));
  const __m128i top = _mm_and_si128(_mm_srli_epi16(b, 2), _mm_setr_epi8(0, 0, 0, 0, 0x30, 0x30, 0x30, 0x30, 0, 0, 0, 0,
                                                                       0x30, 0x30, 0x30, 0x30));
  return _mm_or_si128(_mm_or_si128(low, min_nibbles), top);
}

// Per super-block: d * sum_j sc_j * (q4_j . y_j) - dmin * sum_j m_j * (sum of y_j), with the sums
// in int32 (|q4 . y| <= 32 * 15 * 127, times a 6-bit scale, eight of them: far from overflow).
// maddubs gives pairs of u8 x i8 products as int16; madd with the sub-block's scale widens them.
template <int NT>
CADENCE_AVX2 void DotQ4_KT(const void* w, QuantizedRow row, int64_t x_stride, int64_t n, float* y, int64_t ys) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8KBlock* xq = row.q8k;
  const int64_t xs = x_stride / 256;
  const __m256i mask = _mm256_set1_epi8(0x0F);
  __m256 acc[NT];
  __m128 acc_min[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps(), acc_min[t] = _mm_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb, b += kQ4_KBytes) {
    Prefetch(b);
    Prefetch(b + 64);
    Prefetch(b + 128);
    const float d = Half(b), dmin = Half(b + 2);
    // The eight scales, then the eight mins, as int16.
    const __m256i sm16 = _mm256_cvtepu8_epi16(UnpackQ4KScales(b + 4));
    const __m128i mins16 = _mm256_extracti128_si256(sm16, 1);
    // The eight scales as int16 in both 128-bit lanes; a byte shuffle broadcasts one of them.
    const __m256i scales16 = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm16));
    __m256i sum[NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const Q8KBlock& x = xq[t * xs + sb];
      // Eight sub-block sums of y (pairs of 16-value sums), times the mins.
      const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.bsums)),
                                        _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.bsums + 8)));
      acc_min[t] = _mm_fmadd_ps(_mm_set1_ps(dmin * x.d), _mm_cvtepi32_ps(_mm_madd_epi16(mins16, bs)), acc_min[t]);
      sum[t] = _mm256_setzero_si256();
    }
#pragma GCC unroll 4
    for (int j = 0; j < 8; j += 2) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16 + (j / 2) * 32));
      const __m256i lo = _mm256_and_si256(raw, mask);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
      const __m256i s_lo = _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * j)));
      const __m256i s_hi =
          _mm256_shuffle_epi8(scales16, _mm256_set1_epi16(static_cast<int16_t>(0x0100 + 0x0202 * (j + 1))));
#pragma GCC unroll 4
      for (int t = 0; t < NT; ++t) {
        const int8_t* yq = xq[t * xs + sb].q + j * 32;
        const __m256i p0 = _mm256_madd_epi16(
            _mm256_maddubs_epi16(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq))), s_lo);
        const __m256i p1 = _mm256_madd_epi16(
            _mm256_maddubs_epi16(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq + 32))), s_hi);
        sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(p0, p1));
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * xq[t * xs + sb].d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
  }
  for (int t = 0; t < NT; ++t) {
    __m128 mn = _mm_add_ps(acc_min[t], _mm_movehl_ps(acc_min[t], acc_min[t]));
    mn = _mm_add_ss(mn, _mm_movehdup_ps(mn));
    y[t * ys] = avx2::HorizontalSum(acc[t]) - _mm_cvtss_f32(mn);
  }
}

// Per super-block: d * (sum_k sc_k * (q6_k . y_k) - 32 * sum_k sc_k * (sum of y_k)) over the sixteen
// 16-value groups k, all in int32 (|q6 . y| <= 16 * 63 * 127, times an 8-bit scale, sixteen of
// them). q6 stays unsigned (0..63) for maddubs; the -32 offset comes from the block's sums.
template <int NT>
CADENCE_AVX2 void DotQ6_KT(const void* w, QuantizedRow row, int64_t x_stride, int64_t n, float* y, int64_t ys) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8KBlock* xq = row.q8k;
  const int64_t xs = x_stride / 256;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i m30 = _mm256_set1_epi8(0x30);
  __m256 acc[NT];
  for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < n / 256; ++sb, b += kQ6_KBytes) {
    for (size_t line = 0; line < kQ6_KBytes; line += 64) Prefetch(b + line);
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = Half(b + 208);
    const __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)));
    // Scales 0-7 (first half) and 8-15 (second half), each in both 128-bit lanes.
    const __m256i half_scales[2] = {_mm256_permute2x128_si256(scales16, scales16, 0x00),
                                    _mm256_permute2x128_si256(scales16, scales16, 0x11)};
    __m256i sum[NT];
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t) {
      const Q8KBlock& x = xq[t * xs + sb];
      const __m256i offset =
          _mm256_madd_epi16(scales16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.bsums)));
      sum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
    }
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + half * 64));
      const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + half * 64 + 32));
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + half * 32));
      // Chunk c's two high bits (bits 2c, 2c + 1 of h's bytes) shifted straight to bits 4-5 and
      // masked there: the bits a 16-bit shift carries across bytes fall outside the mask.
      const __m256i q[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(h, 2), m30)),
      };
#pragma GCC unroll 4
      for (int part = 0; part < 4; ++part) {
        // Scale 2*part of this half in the low lane (values 0-15), 2*part + 1 in the high lane.
        const __m256i pick = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(0x0302 + 0x0404 * part)),
                                              _mm_set1_epi16(static_cast<int16_t>(0x0100 + 0x0404 * part)));
        const __m256i scales = _mm256_shuffle_epi8(half_scales[half], pick);
#pragma GCC unroll 4
        for (int t = 0; t < NT; ++t) {
          const int8_t* yq = xq[t * xs + sb].q + (half * 4 + part) * 32;
          const __m256i p = _mm256_maddubs_epi16(q[part], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yq)));
          sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(p, scales));
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; ++t)
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * xq[t * xs + sb].d), _mm256_cvtepi32_ps(sum[t]), acc[t]);
  }
  for (int t = 0; t < NT; ++t) y[t * ys] = avx2::HorizontalSum(acc[t]);
}

// The mat-vec's loop over rows around a template's NT = 1 instance, called directly: one call
// through a pointer per chunk of rows instead of one per row with the activations' four pointers
// on the stack, which with the per-row QuantizedActivations::Row took ~10 % of a 0.5B decode's
// samples (rows of 896 values; perf).
template <void (*Kernel)(const void*, QuantizedRow, int64_t, int64_t, float*, int64_t)>
CADENCE_AVX2 void DotRows(const uint8_t* w, size_t row_bytes, int64_t rows, QuantizedRow xq, int64_t n, float* y) {
  for (int64_t r = 0; r < rows; ++r) Kernel(w + static_cast<size_t>(r) * row_bytes, xq, 0, n, y + r, 1);
}

// Kernel families (kernel_families.h): K<NT>::Run is the NT-token instance of one quantized type's
// kernel template.
template <int NT> struct Q8_0K { static constexpr auto Run = &DotQ8_0T<NT>; };
template <int NT> struct Q4_0K { static constexpr auto Run = &DotQ4_0T<NT>; };
template <int NT> struct Q5_0K { static constexpr auto Run = &DotQ5_0T<NT>; };
template <int NT> struct Q5_0RK { static constexpr auto Run = &DotQ5_0RT<NT>; };
template <int NT> struct Q5_1K { static constexpr auto Run = &DotQ5_1T<NT>; };
template <int NT> struct Q4_KK { static constexpr auto Run = &DotQ4_KT<NT>; };
template <int NT> struct Q6_KK { static constexpr auto Run = &DotQ6_KT<NT>; };

// The one list of quantized types and their families, for the three kernel tables below:
// visit.template operator()<K>() with type's family K, or nullptr for a type without one.
template <typename Fn, typename Visit>
Fn WithKernelFamily(DType type, const Visit& visit) {
  switch (type) {
    case DType::kQ8_0: return visit.template operator()<Q8_0K>();
    case DType::kQ4_0: return visit.template operator()<Q4_0K>();
    case DType::kQ5_0: return visit.template operator()<Q5_0K>();
    case DType::kQ5_0R: return visit.template operator()<Q5_0RK>();
    case DType::kQ5_1: return visit.template operator()<Q5_1K>();
    case DType::kQ4_K: return visit.template operator()<Q4_KK>();
    case DType::kQ6_K: return visit.template operator()<Q6_KK>();
    default: return nullptr;
  }
}

// Largest |v[i]| over 32 values.
CADENCE_AVX2 inline __m256 AbsMax32(const float* v, __m256 amax) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int i = 0; i < 4; ++i) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, _mm256_loadu_ps(v + 8 * i)));
  return amax;
}

CADENCE_AVX2 inline float HMax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

// round(v[i] * id) for 32 values as 32 int8 in order. Rounds half away from zero exactly as
// std::lround: t = trunc(|v|), +1 when |v| - t >= 0.5 (that difference is exact in float), so the
// quants equal the scalar quantizer's bit for bit.
CADENCE_AVX2 inline __m256i Quantize32(const float* v, __m256 id) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), limit = _mm256_set1_ps(127.0f);
  __m256i qi[4];
  for (int i = 0; i < 4; ++i) {
    const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(v + 8 * i), id);
    const __m256 mag = _mm256_andnot_ps(sign_mask, s);
    __m256 t = _mm256_round_ps(mag, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    t = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(mag, t), half, _CMP_GE_OQ), one));
    t = _mm256_min_ps(t, limit);
    qi[i] = _mm256_cvtps_epi32(_mm256_or_ps(t, _mm256_and_ps(s, sign_mask)));
  }
  // Pack 4 x 8 int32 to 32 int8 in order (packs interleave 128-bit lanes; permute restores).
  const __m256i p16a = _mm256_packs_epi32(qi[0], qi[1]), p16b = _mm256_packs_epi32(qi[2], qi[3]);
  const __m256i p8 = _mm256_packs_epi16(p16a, p16b);
  return _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

CADENCE_AVX2 void QuantizeRowQ8Avx2(const float* x, Q8Block* out, int64_t n) {
  for (int64_t k = 0; k < n / 32; ++k) {
    const float* v = x + k * 32;
    const float d = HMax(AbsMax32(v, _mm256_setzero_ps())) / 127.0f;
    const __m256i q = Quantize32(v, _mm256_set1_ps(d > 0 ? 1.0f / d : 0.0f));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[k].q), q);
    const __m256i s16 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s16), _mm256_extracti128_si256(s16, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    out[k].d = d;
    out[k].sum = _mm_cvtsi128_si32(s);
  }
}

CADENCE_AVX2 void QuantizeRowQ8KAvx2(const float* x, Q8KBlock* out, int64_t n) {
  for (int64_t k = 0; k < n / 256; ++k) {
    const float* v = x + k * 256;
    __m256 amax = _mm256_setzero_ps();
    for (int c = 0; c < 8; ++c) amax = AbsMax32(v + 32 * c, amax);
    const float d = HMax(amax) / 127.0f;
    const __m256 id = _mm256_set1_ps(d > 0 ? 1.0f / d : 0.0f);
    for (int c = 0; c < 8; ++c)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[k].q + 32 * c), Quantize32(v + 32 * c, id));
    out[k].d = d;
    SumQ8KGroups(&out[k]);
  }
}

}  // namespace

DotFn GetDotKernelAvx2(DType type) {
  switch (type) {
    case DType::kF32: return DotF32;
    case DType::kF16: return DotF16;
    case DType::kBF16: return DotBF16;
    default: return WithKernelFamily<DotFn>(type, []<template <int> class K>() -> DotFn { return DotOneOf<K>; });
  }
}

DotRowsFn GetDotRowsKernelAvx2(DType type) {
  return WithKernelFamily<DotRowsFn>(type, []<template <int> class K>() -> DotRowsFn { return DotRows<K<1>::Run>; });
}

DotTokensFn GetDotTokensKernelAvx2(DType type) {
  return WithKernelFamily<DotTokensFn>(type, []<template <int> class K>() -> DotTokensFn { return DotTokensOf<K>; });
}

QuantizeFn GetQuantizeKernelAvx2() { return QuantizeRowQ8Avx2; }
QuantizeKFn GetQuantizeKKernelAvx2() { return QuantizeRowQ8KAvx2; }

}  // namespace cadence::engine
