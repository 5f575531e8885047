// AVX2 + FMA micro-kernel of GemmFloat: a kGemmMr x 16 tile of C in 12 ymm accumulators; per k,
// two panel loads and one broadcast per row of A feed two FMAs per row. Compiled with function
// target attributes; only called after IsaSupported(Isa::kAvx2).
#include <immintrin.h>

#include <algorithm>

#include "engine/gemm.h"

#define CADENCE_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace cadence::engine {

using GemmTileFn = void (*)(const float* a, int64_t lda, int mr, const float* panel, int64_t k, float* c,
                            int64_t ldc, int nr, const float* bias);
using RowToF32Fn = void (*)(DType type, const uint8_t* src, float* dst, int64_t n);

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

// One weight row to f32 for packing: F16 by F16C, BF16 by a 16-bit shift, 8 values at a time.
CADENCE_AVX2 void RowToF32Avx2(DType type, const uint8_t* src, float* dst, int64_t n) {
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

}  // namespace

GemmTileFn GetGemmTileAvx2() { return TileAvx2; }
RowToF32Fn GetRowToF32Avx2() { return RowToF32Avx2; }

}  // namespace cadence::engine
