// AVX2 pieces of the integer GEMM (layout: gemm_int8.h): the packers, which every SIMD ISA uses,
// and the AVX2 tiles (4 tokens x 8 rows, the panel's two halves in turn). The quants are unsigned
// bytes against signed activation bytes, so vpmaddubsw takes them directly; its int16 pair sums
// are added in int16 as long as they cannot overflow (5-bit quants: 4 steps, 31 x 127 x 2 x 4 <
// 32768; 4-bit: 8 steps) before vpmaddwd widens them, with the K-quants' sub-block scales as its
// second operand. Q8_0's quants (u = q + 128) would overflow vpmaddubsw's pairs, so its tile takes
// the signed q back and moves its sign onto the activations (the dot kernels' sign trick).
// Compiled with function target attributes; only called after IsaSupported(Isa::kAvx2).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/gemm_int8.h"
#include "engine/simd_avx2.h"

namespace cadence::engine::gemm_int8 {
namespace {

CADENCE_AVX2 inline __m256i Load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Four activation bytes broadcast to every 32-bit lane.
CADENCE_AVX2 inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// The 32 quants of a 16-byte nibble array in order (low nibbles are values 0-15).
CADENCE_AVX2 inline __m256i Nibbles(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0F));
}

// 0x10 in byte i where bit i of the little-endian 32-bit word at p is set.
CADENCE_AVX2 inline __m256i HighBits(const uint8_t* p) {
  uint32_t bits;
  std::memcpy(&bits, p, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(bits)),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

// Bit `from` of every byte moved to bit `to` (others cleared), within bytes.
CADENCE_AVX2 inline __m256i MoveBit(__m256i v, int from, int to, int mask) {
  const __m256i moved = from <= to ? _mm256_slli_epi16(v, to - from) : _mm256_srli_epi16(v, from - to);
  return _mm256_and_si256(moved, _mm256_set1_epi8(static_cast<char>(mask)));
}
CADENCE_AVX2 inline __m128i MoveBit128(__m128i v, int from, int to, int mask) {
  const __m128i moved = from <= to ? _mm_slli_epi16(v, to - from) : _mm_srli_epi16(v, from - to);
  return _mm_and_si128(moved, _mm_set1_epi8(static_cast<char>(mask)));
}

// The 32 unsigned quants (u = q + QuantOffset) of 32-value chunk `k` of a row, per type.
CADENCE_AVX2 __m256i ChunkQ8_0(const uint8_t* row, int64_t k, int64_t) {
  return _mm256_xor_si256(Load32(row + k * kQ8_0Bytes + 2), _mm256_set1_epi8(static_cast<char>(0x80)));
}
CADENCE_AVX2 __m256i ChunkQ4_0(const uint8_t* row, int64_t k, int64_t) { return Nibbles(row + k * kQ4_0Bytes + 2); }
CADENCE_AVX2 __m256i ChunkQ5_0(const uint8_t* row, int64_t k, int64_t) {
  const uint8_t* b = row + k * kQ5_0Bytes;
  return _mm256_or_si256(Nibbles(b + 6), HighBits(b + 2));
}
CADENCE_AVX2 __m256i ChunkQ5_0R(const uint8_t* row, int64_t k, int64_t blocks) {
  const int64_t eights = blocks / 8 * 8;
  int64_t first = k;
  int size = 0;
  if (k < eights) {
    first = k / 8 * 8, size = 8;
  } else if (blocks - eights >= 4 && k < eights + 4) {
    first = eights, size = 4;
  }
  if (size == 0) return ChunkQ5_0(row, k, blocks);
  const uint8_t* g = row + first * kQ5_0Bytes;
  const int b = static_cast<int>(k - first);
  const __m256i raw = Load32(g + 6 * size + 32 * (b / 2));
  const __m256i nibbles = _mm256_and_si256(b % 2 ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(0x0F));
  __m256i high;
  if (size == 8) {
    high = MoveBit(Load32(g + 16), b, 4, 0x10);
  } else {
    const __m128i plane = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 8));
    high = _mm256_set_m128i(MoveBit128(plane, b + 4, 4, 0x10), MoveBit128(plane, b, 4, 0x10));
  }
  return _mm256_or_si256(nibbles, high);
}
// Chunk k of a K-quant row: sub-block (or, for Q6_K, 32-value part) k % 8 of super-block k / 8.
CADENCE_AVX2 __m256i ChunkQ4_K(const uint8_t* row, int64_t k, int64_t) {
  const int s = static_cast<int>(k % 8);
  const __m256i raw = Load32(row + (k / 8) * kQ4_KBytes + 16 + 32 * (s / 2));
  return _mm256_and_si256(s % 2 ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(0x0F));
}
CADENCE_AVX2 __m256i ChunkQ6_K(const uint8_t* row, int64_t k, int64_t) {
  const int j = static_cast<int>(k % 8), half = j / 4, part = j % 4;
  const uint8_t* b = row + (k / 8) * kQ6_KBytes;
  const __m256i l = Load32(b + half * 64 + (part % 2) * 32);
  const __m256i h = Load32(b + 128 + half * 32);
  const __m256i low = _mm256_and_si256(part / 2 ? _mm256_srli_epi16(l, 4) : l, _mm256_set1_epi8(0x0F));
  return _mm256_or_si256(low, MoveBit(h, part * 2, 4, 0x30));
}

// Eight rows' 8 dwords (4 quants each) transposed: out[s] = dword s of rows 0..7.
CADENCE_AVX2 inline void Transpose8x8(const __m256i* r, __m256i* out) {
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  out[0] = _mm256_permute2x128_si256(u0, u4, 0x20), out[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  out[2] = _mm256_permute2x128_si256(u2, u6, 0x20), out[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  out[4] = _mm256_permute2x128_si256(u0, u4, 0x31), out[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  out[6] = _mm256_permute2x128_si256(u2, u6, 0x31), out[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// Where the f16 scale of Q8-family block k of a row is.
const uint8_t* ScaleQ8_0(const uint8_t* row, int64_t k, int64_t) { return row + k * kQ8_0Bytes; }
const uint8_t* ScaleQ4_0(const uint8_t* row, int64_t k, int64_t) { return row + k * kQ4_0Bytes; }
const uint8_t* ScaleQ5_0(const uint8_t* row, int64_t k, int64_t) { return row + k * kQ5_0Bytes; }
const uint8_t* ScaleQ5_0R(const uint8_t* row, int64_t k, int64_t blocks) {
  const int64_t eights = blocks / 8 * 8;
  if (k < eights) return row + (k / 8 * 8) * kQ5_0Bytes + 2 * (k % 8);
  if (blocks - eights >= 4 && k < eights + 4) return row + eights * kQ5_0Bytes + 2 * (k - eights);
  return row + k * kQ5_0Bytes;
}

// Every 32-value chunk of rows j0 .. j0 + nr - 1 unpacked by Chunk and transposed into the panel;
// then the scales: the Q8 family's f16 scales (at Scale) widened by F16C, the K-quants' by PackScales.
template <__m256i (*Chunk)(const uint8_t*, int64_t, int64_t),
          const uint8_t* (*Scale)(const uint8_t*, int64_t, int64_t) = nullptr>
CADENCE_AVX2 void PackAvx2(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel) {
  const Family f = FamilyOf(w.type);
  const int64_t chunks = w.cols / 32, blocks = chunks;
  const size_t unit_bytes = UnitBytes(f);
  const int chunks_per_unit = UnitElems(f) / 32;
  const uint8_t* rows[kGemmNr];
  for (int j = 0; j < kGemmNr; ++j) rows[j] = w.data + static_cast<size_t>(j0 + std::min(j, nr - 1)) * w.row_bytes;
  for (int64_t k = 0; k < chunks; ++k) {
    uint8_t* unit = panel + (k / chunks_per_unit) * unit_bytes;
    uint8_t* dst = unit + (k % chunks_per_unit) * kQuantBytesQ8;
    for (int half = 0; half < 2; ++half) {
      __m256i r[8], out[8];
      for (int j = 0; j < 8; ++j)
        r[j] = 8 * half + j < nr ? Chunk(rows[8 * half + j], k, blocks) : _mm256_setzero_si256();
      Transpose8x8(r, out);
      for (int s = 0; s < 8; ++s) _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 64 * s + 32 * half), out[s]);
    }
    if constexpr (Scale != nullptr) {
      alignas(32) uint16_t h[kGemmNr] = {};
      for (int j = 0; j < nr; ++j) std::memcpy(&h[j], Scale(rows[j], k, blocks), 2);
      const __m256i both = _mm256_load_si256(reinterpret_cast<const __m256i*>(h));
      float* d = reinterpret_cast<float*>(unit + kQuantBytesQ8);
      _mm256_storeu_ps(d, _mm256_cvtph_ps(_mm256_castsi256_si128(both)));
      _mm256_storeu_ps(d + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(both, 1)));
    }
  }
  if constexpr (Scale == nullptr) PackScales(w, j0, nr, panel);
}

CADENCE_AVX2 inline void StoreRow(__m256 v, float* c, int n) {
  if (n >= 8) {
    _mm256_storeu_ps(c, v);
  } else {
    alignas(32) float row[8];
    _mm256_store_ps(row, v);
    std::memcpy(c, row, sizeof(float) * n);
  }
}

// Q8 family: per block, int32 sums of u * x (kOffset = 8 or 16: vpmaddubsw, four steps added in
// int16, then vpmaddwd) minus kOffset * sum(x); Q8_0 (kOffset 128) by the sign trick.
template <int MR, int kOffset>
CADENCE_AVX2 void TileQ8(const uint8_t* panel, int64_t units, TileInput in, float* c, int64_t ldc,
                         int nr) {
  const Q8Block* x = static_cast<const Q8Block*>(in.x);
  [[maybe_unused]] const int32_t* corr = in.corr;
  const int64_t xs = in.stride;
  const __m256i ones = _mm256_set1_epi16(1);
  for (int h = 0; h < 2 && 8 * h < nr; ++h) {
    __m256 acc[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
    const uint8_t* unit = panel + 32 * h;
    for (int64_t k = 0; k < units; ++k, unit += kUnitBytesQ8) {
      __m256i dot[MR];
      if constexpr (kOffset == 128) {
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) dot[i] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int s = 0; s < 8; ++s) {
          const __m256i q = _mm256_xor_si256(Load32(unit + 64 * s), _mm256_set1_epi8(static_cast<char>(0x80)));
          const __m256i aq = _mm256_sign_epi8(q, q);
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i) {
            const __m256i y = _mm256_sign_epi8(Broadcast4(x[i * xs + k].q + 4 * s), q);
            dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(_mm256_maddubs_epi16(aq, y), ones));
          }
        }
      } else {
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) dot[i] = _mm256_set1_epi32(corr[k * in.corr_stride + i]);
#pragma GCC unroll 2
        for (int s0 = 0; s0 < 8; s0 += 4) {
          const __m256i w0 = Load32(unit + 64 * s0), w1 = Load32(unit + 64 * (s0 + 1));
          const __m256i w2 = Load32(unit + 64 * (s0 + 2)), w3 = Load32(unit + 64 * (s0 + 3));
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i) {
            const int8_t* y = x[i * xs + k].q + 4 * s0;
            __m256i p = _mm256_maddubs_epi16(w0, Broadcast4(y));
            p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w1, Broadcast4(y + 4)));
            p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w2, Broadcast4(y + 8)));
            p = _mm256_add_epi16(p, _mm256_maddubs_epi16(w3, Broadcast4(y + 12)));
            dot[i] = _mm256_add_epi32(dot[i], _mm256_madd_epi16(p, ones));
          }
        }
      }
      const __m256 dw = _mm256_loadu_ps(reinterpret_cast<const float*>(unit + kQuantBytesQ8));
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i)
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i]), _mm256_mul_ps(dw, _mm256_set1_ps(x[i * xs + k].d)), acc[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) StoreRow(acc[i], c + i * ldc + 8 * h, nr - 8 * h);
  }
}

CADENCE_AVX2 inline __m256i Load32i(const uint8_t* unit, size_t offset, int index) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(unit + offset + 4 * index));
}
CADENCE_AVX2 inline __m256i BroadcastPair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// Q4_K: per sub-block, 8 steps of vpmaddubsw added in int16 (15 x 127 x 2 x 8 < 32768), then
// vpmaddwd by the sub-block's scale pair; the mins by vpmaddwd of (m, m) pairs with the
// activations' 16-value sums.
template <int MR>
CADENCE_AVX2 void TileQ4K(const uint8_t* panel, int64_t units, TileInput in, float* c, int64_t ldc,
                          int nr) {
  const Q8KBlock* x = static_cast<const Q8KBlock*>(in.x);
  const int64_t xs = in.stride;
  for (int h = 0; h < 2 && 8 * h < nr; ++h) {
    __m256 acc[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < units; ++k) {
      const uint8_t* unit = panel + k * kUnitBytesQ4_K;
      __m256i sum[MR], mins[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) sum[i] = mins[i] = _mm256_setzero_si256();
      for (int s = 0; s < 8; ++s) {
        __m256i p[MR];
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) p[i] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int step = 0; step < 8; ++step) {
          const __m256i w = Load32(unit + 64 * (8 * s + step) + 32 * h);
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i)
            p[i] = _mm256_add_epi16(p[i], _mm256_maddubs_epi16(w, Broadcast4(x[i * xs + k].q + 32 * s + 4 * step)));
        }
        const __m256i sc = Load32i(unit, kQ4KSc2, 16 * s + 8 * h);
        const __m256i m = Load32i(unit, kQ4KM2, 16 * s + 8 * h);
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
          sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(p[i], sc));
          mins[i] = _mm256_add_epi32(mins[i], _mm256_madd_epi16(m, BroadcastPair(x[i * xs + k].bsums + 2 * s)));
        }
      }
      const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(unit + kQ4KD) + 8 * h);
      const __m256 dmin = _mm256_loadu_ps(reinterpret_cast<const float*>(unit + kQ4KDmin) + 8 * h);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m256 dx = _mm256_set1_ps(x[i * xs + k].d);
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum[i]), _mm256_mul_ps(d, dx), acc[i]);
        acc[i] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins[i]), _mm256_mul_ps(dmin, dx), acc[i]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) StoreRow(acc[i], c + i * ldc + 8 * h, nr - 8 * h);
  }
}

// Q6_K: per 16-value group, two pairs of vpmaddubsw steps (63 x 127 x 2 x 2 < 32768), each pair
// widened by vpmaddwd with the group's scale; the -32 through sum_g sc_g * (sum of x)_g.
template <int MR>
CADENCE_AVX2 void TileQ6K(const uint8_t* panel, int64_t units, TileInput in, float* c, int64_t ldc,
                          int nr) {
  const Q8KBlock* x = static_cast<const Q8KBlock*>(in.x);
  const int64_t xs = in.stride;
  for (int h = 0; h < 2 && 8 * h < nr; ++h) {
    __m256 acc[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) acc[i] = _mm256_setzero_ps();
    for (int64_t k = 0; k < units; ++k) {
      const uint8_t* unit = panel + k * kUnitBytesQ6_K;
      __m256i sum[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) sum[i] = _mm256_setzero_si256();
      for (int g = 0; g < 16; ++g) {
        const __m256i sc = Load32i(unit, kQ6KSc2, 16 * g + 8 * h);
#pragma GCC unroll 2
        for (int pair = 0; pair < 2; ++pair) {
          const __m256i w0 = Load32(unit + 64 * (4 * g + 2 * pair) + 32 * h);
          const __m256i w1 = Load32(unit + 64 * (4 * g + 2 * pair + 1) + 32 * h);
#pragma GCC unroll 8
          for (int i = 0; i < MR; ++i) {
            const int8_t* y = x[i * xs + k].q + 16 * g + 8 * pair;
            const __m256i p =
                _mm256_add_epi16(_mm256_maddubs_epi16(w0, Broadcast4(y)), _mm256_maddubs_epi16(w1, Broadcast4(y + 4)));
            sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(p, sc));
          }
        }
      }
      const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(unit + kQ6KD) + 8 * h);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        __m256i offset = _mm256_setzero_si256();
        for (int p = 0; p < 8; ++p)
          offset = _mm256_add_epi32(offset, _mm256_madd_epi16(Load32i(unit, kQ6KSp, 16 * p + 8 * h),
                                                              BroadcastPair(x[i * xs + k].bsums + 2 * p)));
        const __m256i total = _mm256_sub_epi32(sum[i], _mm256_slli_epi32(offset, 5));
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), _mm256_mul_ps(d, _mm256_set1_ps(x[i * xs + k].d)), acc[i]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) StoreRow(acc[i], c + i * ldc + 8 * h, nr - 8 * h);
  }
}

constexpr int kMr = 4;

// The tile for any mr <= kMr, by its instance.
template <template <int> class T>
void TileAnyRows(const uint8_t* panel, int64_t units, TileInput in, int mr, float* c, int64_t ldc, int nr) {
  switch (mr) {
    case 1: T<1>::Run(panel, units, in, c, ldc, nr); break;
    case 2: T<2>::Run(panel, units, in, c, ldc, nr); break;
    case 3: T<3>::Run(panel, units, in, c, ldc, nr); break;
    default: T<4>::Run(panel, units, in, c, ldc, nr); break;
  }
}
static_assert(kMr == 4, "TileAnyRows dispatches 1..4 tokens");

template <int MR> struct Q8_0T { static constexpr auto Run = &TileQ8<MR, 128>; };
template <int MR> struct Q4_0T { static constexpr auto Run = &TileQ8<MR, 8>; };
template <int MR> struct Q5_0T { static constexpr auto Run = &TileQ8<MR, 16>; };
template <int MR> struct Q4_KT { static constexpr auto Run = &TileQ4K<MR>; };
template <int MR> struct Q6_KT { static constexpr auto Run = &TileQ6K<MR>; };

}  // namespace

PackFn Avx2Pack(DType type) {
  switch (type) {
    case DType::kQ8_0: return PackAvx2<ChunkQ8_0, ScaleQ8_0>;
    case DType::kQ4_0: return PackAvx2<ChunkQ4_0, ScaleQ4_0>;
    case DType::kQ5_0: return PackAvx2<ChunkQ5_0, ScaleQ5_0>;
    case DType::kQ5_0R: return PackAvx2<ChunkQ5_0R, ScaleQ5_0R>;
    case DType::kQ4_K: return PackAvx2<ChunkQ4_K>;
    case DType::kQ6_K: return PackAvx2<ChunkQ6_K>;
    default: return nullptr;
  }
}

Kernels Avx2Kernels(DType type) {
  switch (type) {
    case DType::kQ8_0: return {Avx2Pack(type), TileAnyRows<Q8_0T>, kMr};
    case DType::kQ4_0: return {Avx2Pack(type), TileAnyRows<Q4_0T>, kMr};
    case DType::kQ5_0:
    case DType::kQ5_0R: return {Avx2Pack(type), TileAnyRows<Q5_0T>, kMr};
    case DType::kQ4_K: return {Avx2Pack(type), TileAnyRows<Q4_KT>, kMr};
    case DType::kQ6_K: return {Avx2Pack(type), TileAnyRows<Q6_KT>, kMr};
    default: return {};
  }
}

}  // namespace cadence::engine::gemm_int8
