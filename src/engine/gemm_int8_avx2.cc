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
#include <vector>

#include "engine/gemm_int8.h"
#include "engine/simd_avx2.h"

namespace cadence::engine::gemm_int8 {
namespace {

using avx2::BytesFromBits;
using avx2::Nibbles32;

CADENCE_AVX2 inline __m256i Load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Four activation bytes broadcast to every 32-bit lane.
CADENCE_AVX2 inline __m256i Broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// 0x10 in byte i where bit i of the little-endian 32-bit word at p is set.
CADENCE_AVX2 inline __m256i HighBits(const uint8_t* p) {
  return _mm256_and_si256(BytesFromBits(p), _mm256_set1_epi8(0x10));
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
CADENCE_AVX2 __m256i ChunkQ4_0(const uint8_t* row, int64_t k, int64_t) { return Nibbles32(row + k * kQ4_0Bytes + 2); }
CADENCE_AVX2 __m256i ChunkQ5_0(const uint8_t* row, int64_t k, int64_t) {
  const uint8_t* b = row + k * kQ5_0Bytes;
  return _mm256_or_si256(Nibbles32(b + 6), HighBits(b + 2));
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
// A whole Q5_0R row at once, group by group (ChunkQ5_0R finds its group for every chunk): the
// quants of block k to dst[k * kGemmNr], its f16 scale to scales[k * kGemmNr].
CADENCE_AVX2 void UnpackRowQ5_0R(const uint8_t* row, int64_t blocks, __m256i* dst, uint16_t* scales) {
  const __m256i m0f = _mm256_set1_epi8(0x0F);
  int64_t k = 0;
  for (; blocks - k >= 8; k += 8) {
    const uint8_t* g = row + k * kQ5_0Bytes;
    const __m256i plane = Load32(g + 16);
#pragma GCC unroll 8
    for (int b = 0; b < 8; ++b) {
      const __m256i raw = Load32(g + 48 + 32 * (b / 2));
      const __m256i nibbles = _mm256_and_si256(b % 2 ? _mm256_srli_epi16(raw, 4) : raw, m0f);
      _mm256_storeu_si256(dst + (k + b) * kGemmNr, _mm256_or_si256(nibbles, MoveBit(plane, b, 4, 0x10)));
      std::memcpy(&scales[(k + b) * kGemmNr], g + 2 * b, 2);
    }
  }
  if (blocks - k >= 4) {
    const uint8_t* g = row + k * kQ5_0Bytes;
    const __m128i plane = _mm_loadu_si128(reinterpret_cast<const __m128i*>(g + 8));
#pragma GCC unroll 4
    for (int b = 0; b < 4; ++b) {
      const __m256i raw = Load32(g + 24 + 32 * (b / 2));
      const __m256i nibbles = _mm256_and_si256(b % 2 ? _mm256_srli_epi16(raw, 4) : raw, m0f);
      const __m256i high = _mm256_set_m128i(MoveBit128(plane, b + 4, 4, 0x10), MoveBit128(plane, b, 4, 0x10));
      _mm256_storeu_si256(dst + (k + b) * kGemmNr, _mm256_or_si256(nibbles, high));
      std::memcpy(&scales[(k + b) * kGemmNr], g + 2 * b, 2);
    }
    k += 4;
  }
  for (; k < blocks; ++k) {
    _mm256_storeu_si256(dst + k * kGemmNr, ChunkQ5_0(row, k, blocks));
    std::memcpy(&scales[k * kGemmNr], row + k * kQ5_0Bytes, 2);
  }
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

// Eight rows' 8 dwords (4 quants each) at `in` (32 bytes apart) transposed: dword s of rows
// 0..7 stored at out + s * out_stride. Loads and stores straight from and to memory, all in
// registers between (an array of vectors here had the compiler copy it through the stack in
// 16-byte halves, and every 32-byte reload then missed store forwarding: packing 4x slower).
CADENCE_AVX2 inline __attribute__((always_inline)) void Transpose8x8(const __m256i* in, uint8_t* out,
                                                                      size_t out_stride) {
  const __m256i r0 = _mm256_loadu_si256(in), r1 = _mm256_loadu_si256(in + 1), r2 = _mm256_loadu_si256(in + 2),
                r3 = _mm256_loadu_si256(in + 3), r4 = _mm256_loadu_si256(in + 4), r5 = _mm256_loadu_si256(in + 5),
                r6 = _mm256_loadu_si256(in + 6), r7 = _mm256_loadu_si256(in + 7);
  const __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
  const __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
  const __m256i t4 = _mm256_unpacklo_epi32(r4, r5), t5 = _mm256_unpackhi_epi32(r4, r5);
  const __m256i t6 = _mm256_unpacklo_epi32(r6, r7), t7 = _mm256_unpackhi_epi32(r6, r7);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 0 * out_stride), _mm256_permute2x128_si256(u0, u4, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 1 * out_stride), _mm256_permute2x128_si256(u1, u5, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * out_stride), _mm256_permute2x128_si256(u2, u6, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 3 * out_stride), _mm256_permute2x128_si256(u3, u7, 0x20));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 4 * out_stride), _mm256_permute2x128_si256(u0, u4, 0x31));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 5 * out_stride), _mm256_permute2x128_si256(u1, u5, 0x31));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 6 * out_stride), _mm256_permute2x128_si256(u2, u6, 0x31));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 7 * out_stride), _mm256_permute2x128_si256(u3, u7, 0x31));
}

// 16 rows of 16 bytes (at src[j]) transposed: byte j of col[i] is byte i of row j.
CADENCE_AVX2 inline void Transpose16x16Bytes(const uint8_t* const* src, __m128i* col) {
  __m128i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[2 * i]));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[2 * i + 1]));
    t[i] = _mm_unpacklo_epi8(a, b), t[i + 8] = _mm_unpackhi_epi8(a, b);  // words: rows 2i, 2i + 1
  }
  for (int h = 0; h < 2; ++h) {    // columns 0-7, 8-15
    for (int i = 0; i < 4; ++i) {  // rows 4i .. 4i + 3 as dwords
      u[8 * h + i] = _mm_unpacklo_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);      // columns 8h .. 8h + 3
      u[8 * h + 4 + i] = _mm_unpackhi_epi16(t[8 * h + 2 * i], t[8 * h + 2 * i + 1]);  // columns 8h + 4 .. 8h + 7
    }
  }
  for (int g = 0; g < 4; ++g) {  // columns 4g .. 4g + 3, from u[4g .. 4g + 3] (rows 0-3, 4-7, 8-11, 12-15)
    const __m128i v0 = _mm_unpacklo_epi32(u[4 * g], u[4 * g + 1]), v1 = _mm_unpackhi_epi32(u[4 * g], u[4 * g + 1]);
    const __m128i v2 = _mm_unpacklo_epi32(u[4 * g + 2], u[4 * g + 3]), v3 = _mm_unpackhi_epi32(u[4 * g + 2], u[4 * g + 3]);
    col[4 * g] = _mm_unpacklo_epi64(v0, v2), col[4 * g + 1] = _mm_unpackhi_epi64(v0, v2);
    col[4 * g + 2] = _mm_unpacklo_epi64(v1, v3), col[4 * g + 3] = _mm_unpackhi_epi64(v1, v3);
  }
}

// 16 bytes (one per row) widened to int32 (signed or not) and stored as 16 lanes at p; with
// `pair`, each lane holds the value in both 16-bit halves.
template <bool kSigned, bool kPair>
CADENCE_AVX2 inline void StoreLanes(__m128i bytes, uint8_t* p) {
  for (int h = 0; h < 2; ++h) {
    const __m128i b = h ? _mm_srli_si128(bytes, 8) : bytes;
    __m256i v = kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    if (kPair) v = _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(v, 16));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + 32 * h), v);
  }
}

// The K-quants' scales of a panel (as PackScales writes them), 16 rows at a time: each
// super-block's scale bytes of the 16 rows transposed so that one vector holds one scale of
// every row, then decoded and widened lane-wise (the scalar PackScales cost as much as the tiles
// of a 128-token prompt).
CADENCE_AVX2 void PackScalesK(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel) {
  alignas(16) static const uint8_t kZero[16] = {};
  const bool q4k = w.type == DType::kQ4_K;
  const size_t block_bytes = q4k ? kQ4_KBytes : kQ6_KBytes, unit_bytes = q4k ? kUnitBytesQ4_K : kUnitBytesQ6_K;
  const int64_t units = w.cols / 256;
  const uint8_t* src[kGemmNr];
  for (int64_t k = 0; k < units; ++k) {
    uint8_t* unit = panel + k * unit_bytes;
    for (int j = 0; j < kGemmNr; ++j)
      src[j] = j < nr ? w.data + static_cast<size_t>(j0 + j) * w.row_bytes + k * block_bytes + (q4k ? 0 : 192) : kZero;
    __m128i col[16];
    Transpose16x16Bytes(src, col);
    if (q4k) {
      // col 0-1: d, 2-3: dmin (f16, low byte first), 4-15: the 12 packed scale/min bytes.
      for (int h = 0; h < 2; ++h) {
        const __m128i d = h ? _mm_unpackhi_epi8(col[0], col[1]) : _mm_unpacklo_epi8(col[0], col[1]);
        const __m128i dmin = h ? _mm_unpackhi_epi8(col[2], col[3]) : _mm_unpacklo_epi8(col[2], col[3]);
        _mm256_storeu_ps(reinterpret_cast<float*>(unit + kQ4KD) + 8 * h, _mm256_cvtph_ps(d));
        _mm256_storeu_ps(reinterpret_cast<float*>(unit + kQ4KDmin) + 8 * h, _mm256_cvtph_ps(dmin));
      }
      const __m128i* q = col + 4;
      const __m128i m63 = _mm_set1_epi8(63), m0f = _mm_set1_epi8(0x0F), m30 = _mm_set1_epi8(0x30);
      for (int sb = 0; sb < 8; ++sb) {
        __m128i sc, m;
        if (sb < 4) {
          sc = _mm_and_si128(q[sb], m63), m = _mm_and_si128(q[sb + 4], m63);
        } else {
          sc = _mm_or_si128(_mm_and_si128(q[sb + 4], m0f), _mm_and_si128(_mm_srli_epi16(q[sb - 4], 2), m30));
          m = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(q[sb + 4], 4), m0f), _mm_and_si128(_mm_srli_epi16(q[sb], 2), m30));
        }
        StoreLanes<false, false>(sc, unit + kQ4KSc + 64 * sb);
        StoreLanes<false, true>(sc, unit + kQ4KSc2 + 64 * sb);
        StoreLanes<false, true>(m, unit + kQ4KM2 + 64 * sb);
      }
    } else {
      for (int g = 0; g < 16; ++g) {
        StoreLanes<true, false>(col[g], unit + kQ6KSc + 64 * g);
        StoreLanes<true, true>(col[g], unit + kQ6KSc2 + 64 * g);
      }
      for (int p = 0; p < 8; ++p) {
        for (int h = 0; h < 2; ++h) {
          const __m128i lo = h ? _mm_srli_si128(col[2 * p], 8) : col[2 * p];
          const __m128i hi = h ? _mm_srli_si128(col[2 * p + 1], 8) : col[2 * p + 1];
          const __m256i v = _mm256_or_si256(_mm256_and_si256(_mm256_cvtepi8_epi32(lo), _mm256_set1_epi32(0xFFFF)),
                                            _mm256_slli_epi32(_mm256_cvtepi8_epi32(hi), 16));
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(unit + kQ6KSp + 64 * p + 32 * h), v);
        }
      }
      alignas(32) uint16_t d[kGemmNr] = {};
      for (int j = 0; j < nr; ++j)
        std::memcpy(&d[j], w.data + static_cast<size_t>(j0 + j) * w.row_bytes + k * block_bytes + 208, 2);
      const __m256i both = _mm256_load_si256(reinterpret_cast<const __m256i*>(d));
      _mm256_storeu_ps(reinterpret_cast<float*>(unit + kQ6KD), _mm256_cvtph_ps(_mm256_castsi256_si128(both)));
      _mm256_storeu_ps(reinterpret_cast<float*>(unit + kQ6KD) + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(both, 1)));
    }
  }
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
// Two passes: the rows are unpacked in address order into a buffer (a prompt's weights stream
// from DRAM, and one sequential stream is what the hardware prefetcher follows; reading a chunk
// of each of the 16 rows in turn, the packing waited on line after line), then each chunk's 16
// rows are transposed from there.
// UnpackRow, where given, takes a whole row's quants and scales instead of Chunk and Scale.
template <__m256i (*Chunk)(const uint8_t*, int64_t, int64_t),
          const uint8_t* (*Scale)(const uint8_t*, int64_t, int64_t) = nullptr,
          void (*UnpackRow)(const uint8_t*, int64_t, __m256i*, uint16_t*) = nullptr>
CADENCE_AVX2 void PackAvx2(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel) {
  const Family f = FamilyOf(w.type);
  const int64_t chunks = w.cols / 32, blocks = chunks;
  const size_t unit_bytes = UnitBytes(f);
  const int chunks_per_unit = UnitElems(f) / 32;
  thread_local std::vector<uint8_t> buffer;  // [chunk][row] x 32 bytes
  thread_local std::vector<uint16_t> scales;
  if (buffer.size() < static_cast<size_t>(chunks * kGemmNr * 32)) buffer.resize(static_cast<size_t>(chunks * kGemmNr * 32));
  if (scales.size() < static_cast<size_t>(chunks * kGemmNr)) scales.resize(static_cast<size_t>(chunks * kGemmNr));
  __m256i* rows = reinterpret_cast<__m256i*>(buffer.data());
  if constexpr (UnpackRow != nullptr) {
    for (int j = 0; j < kGemmNr; ++j) {
      if (j < nr) {
        UnpackRow(w.data + static_cast<size_t>(j0 + j) * w.row_bytes, blocks, rows + j, scales.data() + j);
      } else {
        for (int64_t k = 0; k < chunks; ++k) _mm256_storeu_si256(rows + k * kGemmNr + j, _mm256_setzero_si256());
        for (int64_t k = 0; k < chunks; ++k) scales[k * kGemmNr + j] = 0;
      }
    }
  }
  // The scales first: their 2-byte stores are then long retired when 32-byte loads read them back.
  if constexpr (UnpackRow == nullptr && Scale != nullptr) {
    for (int j = 0; j < kGemmNr; ++j) {
      const uint8_t* row = w.data + static_cast<size_t>(j0 + std::min(j, nr - 1)) * w.row_bytes;
      for (int64_t k = 0; k < chunks; ++k) {
        uint16_t h = 0;
        if (j < nr) std::memcpy(&h, Scale(row, k, blocks), 2);
        scales[k * kGemmNr + j] = h;
      }
    }
  }
  for (int j = 0; j < kGemmNr && UnpackRow == nullptr; ++j) {
    const uint8_t* row = w.data + static_cast<size_t>(j0 + std::min(j, nr - 1)) * w.row_bytes;
    for (int64_t k = 0; k < chunks; ++k)
      _mm256_storeu_si256(rows + k * kGemmNr + j, j < nr ? Chunk(row, k, blocks) : _mm256_setzero_si256());
  }
  for (int64_t k = 0; k < chunks; ++k) {
    uint8_t* unit = panel + (k / chunks_per_unit) * unit_bytes;
    uint8_t* dst = unit + (k % chunks_per_unit) * kQuantBytesQ8;
    Transpose8x8(rows + k * kGemmNr, dst, 64);
    Transpose8x8(rows + k * kGemmNr + 8, dst + 32, 64);
    if constexpr (Scale != nullptr) {
      const __m256i both = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&scales[k * kGemmNr]));
      float* d = reinterpret_cast<float*>(unit + kQuantBytesQ8);
      _mm256_storeu_ps(d, _mm256_cvtph_ps(_mm256_castsi256_si128(both)));
      _mm256_storeu_ps(d + 8, _mm256_cvtph_ps(_mm256_extracti128_si256(both, 1)));
    }
  }
  if constexpr (Scale == nullptr) PackScalesK(w, j0, nr, panel);
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
    case DType::kQ5_0R: return PackAvx2<ChunkQ5_0R, ScaleQ5_0R, UnpackRowQ5_0R>;
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
