// AVX2 + FMA micro-kernel of GemmFloat: a kGemmMr x 16 tile of C in 12 ymm accumulators; per k,
// two panel loads and one broadcast per row of A feed two FMAs per row. Compiled with function
// target attributes; only called after IsaSupported(Isa::kAvx2).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/gemm.h"
#include "engine/simd_avx2.h"

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

// The 5-bit quants i .. i + 7 of a Q5_0/Q5_1 block: nibble (low nibbles are values 0-15, high
// 16-31) | bit i of qh << 4.
CADENCE_AVX2 inline __m256i Q5Quants8(const uint8_t* qs, uint32_t qh, int i) {
  const __m256i raw = Bytes8(qs + (i & 15));
  const __m256i low = i < 16 ? _mm256_and_si256(raw, _mm256_set1_epi32(0x0F)) : _mm256_srli_epi32(raw, 4);
  const __m256i bit = _mm256_and_si256(
      _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(qh >> i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
      _mm256_set1_epi32(1));
  return _mm256_or_si256(low, _mm256_slli_epi32(bit, 4));
}

// One weight row to f32 for packing, 8 values at a time: F16 by F16C, BF16 by a 16-bit shift, the
// quantized types by widening their quants and scaling them with the operations of the scalar
// dequantizer (dtype.cc), in the same order.
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
  if (type == DType::kQ5_0R) {
    // Q5_0R's groups (dtype.h), then its last blocks as Q5_0.
    int64_t k = 0;
    for (int size; (size = Q5_0RGroupAt(k, n / 32)) > 0; k += size, src += size * kQ5_0Bytes) {
      for (int b = 0; b < size; ++b, dst += 32) {
        const __m256 d = _mm256_set1_ps(HalfAt(src + 2 * b));
        const uint8_t* nibbles = src + 6 * size + 32 * (b / 2);
        for (int i = 0; i < 32; i += 8) {
          const __m256i low = _mm256_and_si256(_mm256_srli_epi32(Bytes8(nibbles + i), 4 * (b % 2)), _mm256_set1_epi32(0x0F));
          const int plane_at = size == 8 ? i : i % 16, bit = size == 8 ? b : b + 4 * (i / 16);
          const __m256i high = _mm256_and_si256(_mm256_srli_epi32(Bytes8(src + 2 * size + plane_at), bit), _mm256_set1_epi32(1));
          const __m256i q = _mm256_or_si256(low, _mm256_slli_epi32(high, 4));
          _mm256_storeu_ps(dst + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(16)))));
        }
      }
    }
    type = DType::kQ5_0;
    n -= 32 * k;
  }
  if (type == DType::kQ5_0 || type == DType::kQ5_1) {
    // Q5_0: d * (q - 16); Q5_1: d * q + m.
    const bool q5_0 = type == DType::kQ5_0;
    const size_t bytes = q5_0 ? kQ5_0Bytes : kQ5_1Bytes;
    const uint8_t* const qh_at = src + (q5_0 ? 2 : 4);
    const uint8_t* const qs_at = src + (q5_0 ? 6 : 8);
    for (int64_t b = 0; b < n / 32; ++b, dst += 32) {
      const size_t off = static_cast<size_t>(b) * bytes;
      const __m256 d = _mm256_set1_ps(HalfAt(src + off));
      const __m256 m = _mm256_set1_ps(q5_0 ? 0.0f : HalfAt(src + off + 2));
      uint32_t qh;
      std::memcpy(&qh, qh_at + off, 4);
      for (int i = 0; i < 32; i += 8) {
        const __m256i q = Q5Quants8(qs_at + off, qh, i);
        _mm256_storeu_ps(dst + i, q5_0 ? _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(16))))
                                       : _mm256_add_ps(_mm256_mul_ps(d, _mm256_cvtepi32_ps(q)), m));
      }
    }
    return;
  }
  if (type == DType::kQ4_0) {
    // d * (nibble - 8); low nibbles are values 0-15, high 16-31.
    for (int64_t b = 0; b < n / 32; ++b, src += kQ4_0Bytes, dst += 32) {
      const __m256 d = _mm256_set1_ps(HalfAt(src));
      for (int i = 0; i < 32; i += 8) {
        const __m256i raw = Bytes8(src + 2 + (i & 15));
        const __m256i q = i < 16 ? _mm256_and_si256(raw, _mm256_set1_epi32(0x0F)) : _mm256_srli_epi32(raw, 4);
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, _mm256_set1_epi32(8)))));
      }
    }
    return;
  }
  if (type == DType::kQ6_K) {
    // Per half of 128 values: q = (4 bits of ql | 2 bits of qh << 4) - 32, times d * its scale.
    for (int64_t b = 0; b < n / 256; ++b, src += kQ6_KBytes) {
      const uint8_t* ql = src;
      const uint8_t* qh = src + 128;
      const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
      const float d = HalfAt(src + 208);
      const __m256i low4 = _mm256_set1_epi32(0x0F), low2 = _mm256_set1_epi32(3), bias = _mm256_set1_epi32(32);
      for (int half = 0; half < 2; ++half, dst += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l += 8) {
          const int is = l / 16;
          const __m256i a = Bytes8(ql + l), c = Bytes8(ql + l + 32), h = Bytes8(qh + l);
          const __m256i q[4] = {
              _mm256_or_si256(_mm256_and_si256(a, low4), _mm256_slli_epi32(_mm256_and_si256(h, low2), 4)),
              _mm256_or_si256(_mm256_and_si256(c, low4),
                              _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), low2), 4)),
              _mm256_or_si256(_mm256_srli_epi32(a, 4), _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), low2), 4)),
              _mm256_or_si256(_mm256_srli_epi32(c, 4), _mm256_slli_epi32(_mm256_srli_epi32(h, 6), 4)),
          };
          for (int part = 0; part < 4; ++part) {
            const __m256 scale = _mm256_set1_ps(d * sc[is + 2 * part]);
            _mm256_storeu_ps(dst + 32 * part + l, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(q[part], bias))));
          }
        }
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
