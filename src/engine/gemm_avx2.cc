// AVX2 + FMA micro-kernel of GemmFloat: a kGemmMr x 16 tile of C in 12 ymm accumulators; per k,
// two panel loads and one broadcast per row of A feed two FMAs per row. Compiled with function
// target attributes; only called after IsaSupported(Isa::kAvx2).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/gemm.h"

#define CADENCE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace cadence::engine {

using GemmTileFn = void (*)(const float* a, int64_t lda, int mr, const float* panel, int64_t k, float* c,
                            int64_t ldc, int nr, const float* bias);
using RowToF32Fn = void (*)(DType type, const uint8_t* src, float* dst, int64_t n);
using PackPanelFn = void (*)(const float* rows, int64_t k, float* panel);

namespace {

static_assert(kGemmNr == 16, "the AVX2 tile holds 16 columns in two ymm registers");

template <int MR>
CADENCE_AVX2 void Tile(const float* a, int64_t lda, const float* panel, int64_t k, float* c, int64_t ldc, int nr,
                       const float* bias) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_loadu_ps(panel + p * kGemmNr), b1 = _mm256_loadu_ps(panel + p * kGemmNr + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i * lda + p);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  alignas(32) float bias16[kGemmNr] = {};
  if (bias != nullptr) std::copy_n(bias, nr, bias16);
  const __m256 bias0 = _mm256_load_ps(bias16), bias1 = _mm256_load_ps(bias16 + 8);
  // Unrolled, like the loops above, so the accumulators live in registers, never on the stack.
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    const __m256 r0 = _mm256_add_ps(acc[i][0], bias0), r1 = _mm256_add_ps(acc[i][1], bias1);
    float* ci = c + i * ldc;
    if (nr == kGemmNr) {
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    } else {
      alignas(32) float row[kGemmNr];
      _mm256_store_ps(row, r0);
      _mm256_store_ps(row + 8, r1);
      std::copy_n(row, nr, ci);
    }
  }
}

void TileAvx2(const float* a, int64_t lda, int mr, const float* panel, int64_t k, float* c, int64_t ldc, int nr,
              const float* bias) {
  switch (mr) {
    case 1: Tile<1>(a, lda, panel, k, c, ldc, nr, bias); break;
    case 2: Tile<2>(a, lda, panel, k, c, ldc, nr, bias); break;
    case 3: Tile<3>(a, lda, panel, k, c, ldc, nr, bias); break;
    case 4: Tile<4>(a, lda, panel, k, c, ldc, nr, bias); break;
    case 5: Tile<5>(a, lda, panel, k, c, ldc, nr, bias); break;
    default: Tile<6>(a, lda, panel, k, c, ldc, nr, bias); break;
  }
}
static_assert(kGemmMr == 6, "TileAvx2 dispatches 1..6 rows");

CADENCE_AVX2 inline float HalfAt(const uint8_t* p) { return _cvtsh_ss(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

// 8 bytes from p widened to 8 int32.
CADENCE_AVX2 inline __m256i Bytes8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// One weight row to f32 for packing, 8 values at a time: F16 by F16C, BF16 by a 16-bit shift,
// Q8_0, Q5_0 and Q4_K by widening their quants and scaling them as the scalar dequantizer does
// (the same operations, so the same floats); the other types by the scalar dequantizer.
CADENCE_AVX2 void RowToF32Avx2(DType type, const uint8_t* src, float* dst, int64_t n) {
  if (type == DType::kQ8_0) {
    for (int64_t b = 0; b < n / 32; ++b, src += kQ8_0Bytes, dst += 32) {
      const __m256 d = _mm256_set1_ps(HalfAt(src));
      for (int i = 0; i < 4; ++i) {
        const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 2 + 8 * i));
        _mm256_storeu_ps(dst + 8 * i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
      }
    }
    return;
  }
  if (type == DType::kQ5_0) {
    // d * (q - 16), q = nibble | (bit i of qh) << 4; low nibbles are values 0-15, high 16-31.
    const __m256i nibble = _mm256_set1_epi32(0x0F), sixteen = _mm256_set1_epi32(16);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t b = 0; b < n / 32; ++b, src += kQ5_0Bytes, dst += 32) {
      const __m256 d = _mm256_set1_ps(HalfAt(src));
      uint32_t qh;
      std::memcpy(&qh, src + 2, 4);
      for (int i = 0; i < 32; i += 8) {
        const __m256i raw = Bytes8(src + 6 + (i & 15));
        const __m256i low = i < 16 ? _mm256_and_si256(raw, nibble) : _mm256_srli_epi32(raw, 4);
        const __m256i high = _mm256_slli_epi32(
            _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> i)), lane), _mm256_set1_epi32(1)), 4);
        const __m256i q = _mm256_sub_epi32(_mm256_or_si256(low, high), sixteen);
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(q)));
      }
    }
    return;
  }
  if (type == DType::kQ4_K) {
    // Sub-blocks 2j (low nibbles) and 2j + 1 (high) of each 32 bytes: d * sc * q - dmin * m.
    const __m256i nibble = _mm256_set1_epi32(0x0F);
    for (int64_t b = 0; b < n / 256; ++b, src += kQ4_KBytes) {
      const float d = HalfAt(src), dmin = HalfAt(src + 2);
      const uint8_t* q = src + 16;
      for (int j = 0; j < 8; j += 2, q += 32, dst += 64) {
        uint8_t sc, m;
        Q4KScaleMin(j, src + 4, &sc, &m);
        const __m256 d1 = _mm256_set1_ps(d * sc), m1 = _mm256_set1_ps(dmin * m);
        Q4KScaleMin(j + 1, src + 4, &sc, &m);
        const __m256 d2 = _mm256_set1_ps(d * sc), m2 = _mm256_set1_ps(dmin * m);
        for (int l = 0; l < 32; l += 8) {
          const __m256i raw = Bytes8(q + l);
          _mm256_storeu_ps(dst + l, _mm256_sub_ps(_mm256_mul_ps(d1, _mm256_cvtepi32_ps(_mm256_and_si256(raw, nibble))), m1));
          _mm256_storeu_ps(dst + 32 + l, _mm256_sub_ps(_mm256_mul_ps(d2, _mm256_cvtepi32_ps(_mm256_srli_epi32(raw, 4))), m2));
        }
      }
    }
    return;
  }
  if (type != DType::kF16 && type != DType::kBF16) {
    DequantizeRow(type, src, dst, n);
    return;
  }
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    _mm256_storeu_ps(dst + i, type == DType::kF16
                                  ? _mm256_cvtph_ps(h)
                                  : _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
  }
  if (i < n) DequantizeRow(type, src + 2 * i, dst + i, n - i);
}

// rows [kGemmNr][k] (row-major) into panel [k][kGemmNr]: 8 x 8 blocks transposed in registers.
CADENCE_AVX2 void PackPanelAvx2(const float* rows, int64_t k, float* panel) {
  int64_t q = 0;
  for (; q + 8 <= k; q += 8) {
    for (int jb = 0; jb < kGemmNr; jb += 8) {
      __m256 r[8];
      for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(rows + (jb + j) * k + q);
      // 8 x 8 transpose: unpack pairs, then 64-bit shuffles, then 128-bit lane permutes.
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
      const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
      const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      const __m256 out[8] = {_mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
                             _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
                             _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
                             _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31)};
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(panel + (q + i) * kGemmNr + jb, out[i]);
    }
  }
  for (; q < k; ++q)
    for (int j = 0; j < kGemmNr; ++j) panel[q * kGemmNr + j] = rows[j * k + q];
}

}  // namespace

PackPanelFn GetPackPanelAvx2() { return PackPanelAvx2; }
GemmTileFn GetGemmTileAvx2() { return TileAvx2; }
RowToF32Fn GetRowToF32Avx2() { return RowToF32Avx2; }

}  // namespace cadence::engine
