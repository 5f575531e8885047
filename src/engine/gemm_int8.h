// Internal to the integer GEMM (gemm_int8*.cc): the packed panel layout, and the per-ISA pieces
// gemm_int8.cc dispatches to. Callers use GemmQuantized (gemm.h).
//
// A panel holds kGemmNr = 16 weight rows in units along K: a unit is one block of 32 values for
// the Q8 family (Q8_0, Q4_0, Q5_0, Q5_0R) and one super-block of 256 values for the K-quants
// (Q4_K, Q6_K). Every unit starts with the quants as unsigned bytes, 4 consecutive values of each
// of the 16 rows side by side: byte 64 * s + 4 * j + b is value 4 * s + b of row j (one 512-bit
// register per step s; 8 steps per 32 values). That is vpdpbusd's shape: each 32-bit lane is a
// row, and 4 activation bytes broadcast to every lane. The quants are stored as u = q + offset
// (offset 128 for Q8_0, 8 for Q4_0, 16 for Q5_0: the formats' own unsigned nibbles), so
// sum(q * x) = sum(u * x) - offset * sum(x), with sum(x) from the activations' block sums. After
// the quants, per unit (16 entries each, one per row; rows past the matrix are zero):
//   Q8 family: f32 d[16] (the block scales)
//   Q4_K:      i32 sc[8][16] (sub-block scales), i32 sc2[8][16] (the same as int16 pairs
//              sc | sc << 16), i32 m2[8][16] (mins as int16 pairs m | m << 16), f32 d[16], f32 dmin[16]
//   Q6_K:      i32 sc[16][16] (group scales), i32 sc2[16][16] (int16 pairs), i32 sp[8][16] (scales
//              2p and 2p + 1 as an int16 pair), f32 d[16]
// The Q6_K quants are stored unsigned (q6 + 32 offset already in the format: 0..63); the -32 is
// taken through the activations' 16-value sums.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/dtype.h"
#include "engine/gemm.h"
#include "engine/kernels.h"

namespace cadence::engine::gemm_int8 {

enum class Family { kQ8, kQ4_K, kQ6_K };

constexpr size_t kQuantBytesQ8 = 32 * kGemmNr;    // 8 steps of 64 bytes
constexpr size_t kQuantBytesK = 256 * kGemmNr;    // 64 steps
constexpr size_t kUnitBytesQ8 = kQuantBytesQ8 + 4 * kGemmNr;
constexpr size_t kUnitBytesQ4_K = kQuantBytesK + (8 + 8 + 8) * 4 * kGemmNr + 2 * 4 * kGemmNr;
constexpr size_t kUnitBytesQ6_K = kQuantBytesK + (16 + 16 + 8) * 4 * kGemmNr + 4 * kGemmNr;
// Offsets of the per-unit arrays after the quants.
constexpr size_t kQ4KSc = kQuantBytesK, kQ4KSc2 = kQ4KSc + 32 * kGemmNr, kQ4KM2 = kQ4KSc2 + 32 * kGemmNr,
                 kQ4KD = kQ4KM2 + 32 * kGemmNr, kQ4KDmin = kQ4KD + 4 * kGemmNr;
constexpr size_t kQ6KSc = kQuantBytesK, kQ6KSc2 = kQ6KSc + 64 * kGemmNr, kQ6KSp = kQ6KSc2 + 64 * kGemmNr,
                 kQ6KD = kQ6KSp + 32 * kGemmNr;
static_assert(kQ4KDmin + 4 * kGemmNr == kUnitBytesQ4_K && kQ6KD + 4 * kGemmNr == kUnitBytesQ6_K);

inline Family FamilyOf(DType type) {
  return type == DType::kQ4_K ? Family::kQ4_K : type == DType::kQ6_K ? Family::kQ6_K : Family::kQ8;
}
inline int UnitElems(Family f) { return f == Family::kQ8 ? 32 : 256; }
inline size_t UnitBytes(Family f) {
  return f == Family::kQ8 ? kUnitBytesQ8 : f == Family::kQ4_K ? kUnitBytesQ4_K : kUnitBytesQ6_K;
}
// The offset u - q of a Q8-family type's packed quants.
inline int QuantOffset(DType type) { return type == DType::kQ8_0 ? 128 : type == DType::kQ4_0 ? 8 : 16; }

// Packs rows j0 .. j0 + nr - 1 (nr <= kGemmNr) of w into `panel` (w.cols / UnitElems units).
using PackFn = void (*)(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel);
// A tile's activations: token i's blocks start at x + i * stride blocks (Q8Block for the Q8
// family, Q8KBlock for the K-quants); for the Q8 family, corr[k * corr_stride + i] = -offset *
// sum(x) of token i's block k, where the integer sums start (block-major, so that one pointer
// serves the whole tile).
struct TileInput {
  const void* x;
  const int32_t* corr;
  int64_t stride, corr_stride;
};
// One tile: c[i * ldc + j] = the dot of row j of the panel with token i, for i < mr, j < nr, over
// `units` units of the panel.
using TileFn = void (*)(const uint8_t* panel, int64_t units, TileInput in, int mr, float* c, int64_t ldc, int nr);

// Writes the scales (everything after the quants) of every unit of the panel of rows j0 .. j0 + nr - 1;
// zero for rows past nr. The SIMD packers write the quants and call this.
void PackScales(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel);

struct Kernels {
  PackFn pack;
  TileFn tile;
  int mr;  // tokens per tile (the tile handles any mr up to this)
};

// nullptr / {} where the type has no integer GEMM.
Kernels ScalarKernels(DType type);
Kernels Avx2Kernels(DType type);    // gemm_int8_avx2.cc
Kernels Avx512Kernels(DType type);  // gemm_int8_avx512.cc (AVX2 packing, AVX-512 VNNI tiles)
PackFn Avx2Pack(DType type);

}  // namespace cadence::engine::gemm_int8
