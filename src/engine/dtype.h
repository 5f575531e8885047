// Tensor element types as GGUF stores them (ggml type ids), their block layouts, and dequantization.
//
// A quantized row is a sequence of blocks; `BlockElems` values are packed into `BlockBytes` bytes.
// Layouts follow ggml's ggml-common.h exactly (Q8_0: f16 d + 32 x i8; Q4_0: f16 d + 16 bytes of
// nibbles, value = (q - 8) * d; Q5_0: f16 d, 32 high bits, 16 bytes of nibbles, value = (q - 16) * d;
// Q5_1: f16 d, f16 m, 32 high bits, nibbles, value = q * d + m; Q4_K: 256-value super-block with f16 d, f16 dmin, 12 bytes of
// packed 6-bit sub-block scales/mins, 128 bytes of nibbles; Q6_K: 256 values as 128 bytes low
// nibbles, 64 bytes high 2-bit pairs, 16 x i8 scales, f16 d). Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cadence::engine {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ6_K = 14,
  kBF16 = 30,
  // Not a ggml type: Cadence's own layout of Q5_0 rows, made at load time for the mat-vec kernels
  // (RepackQ5_0Row below). Never read from or written to a file.
  kQ5_0R = 0x10006,
};

// True for the ggml type ids Cadence can load.
bool IsSupportedDType(uint32_t ggml_type);
// "F32", "Q4_K", ...; "type#N" for ids Cadence does not know.
std::string_view DTypeName(DType type);
int BlockElems(DType type);
size_t BlockBytes(DType type);
// Bytes of a row of `elems` values; `elems` must be a multiple of BlockElems(type).
size_t RowBytes(DType type, int64_t elems);

float Fp16ToFp32(uint16_t h);
uint16_t Fp32ToFp16(float f);  // round to nearest even
float Bf16ToFp32(uint16_t b);

// Encodes `elems` values (a multiple of 32) as Q8_0 blocks, as ggml's reference quantizer does:
// d = max|x| / 127 stored as f16, q = round(x / d). `dst` holds RowBytes(kQ8_0, elems) bytes.
void QuantizeRowQ8_0(const float* src, uint8_t* dst, int64_t elems);

// Decodes `elems` values (a multiple of BlockElems) starting at `src` into `dst`.
void DequantizeRow(DType type, const void* src, float* dst, int64_t elems);

// The 5-bit quant i (0..31) of a Q5_0/Q5_1 block: nibble i of `qs` (low nibbles hold 0..15, high
// nibbles 16..31) with bit i of the little-endian 32-bit `qh` as bit 4.
inline int Q5Quant(const uint8_t* qh, const uint8_t* qs, int i) {
  const uint32_t h = static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
                     (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
  const int nibble = i < 16 ? (qs[i] & 0xF) : (qs[i - 16] >> 4);
  return nibble | static_cast<int>(((h >> i) & 1) << 4);
}

// ggml's packed 6-bit scale/min of Q4_K sub-block j (0..7).
inline void Q4KScaleMin(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Q5_0R, the load-time layout of a Q5_0 row (same bytes, same values, decoded in about half the
// instructions): the row's blocks in groups of G = 8 while eight remain, then one group of G = 4 if
// four remain (Qwen2-0.5B's 896 columns are 3 x 8 + 4 blocks), then the last 0-3 blocks unchanged
// (ggml's Q5_0). A group of G blocks takes G x 22 bytes:
//   bytes [0, 2G)     the blocks' f16 scales d_0 .. d_{G-1};
//   bytes [2G, 6G)    the high bits as a plane: G = 8: bit k of byte i is bit 4 of quant i of
//                     block k; G = 4: bit k of byte i (i < 16) holds quant i's, bit 4 + k quant 16 + i's;
//   bytes [6G, 22G)   G/2 chunks of 32 bytes of nibbles: byte i of chunk p holds quant i of block
//                     2p in its low nibble and quant i of block 2p + 1 in its high nibble.
// Value i of block k = d_k * (quant - 16), as in Q5_0. One AND (or shift and AND) then takes a whole
// block's nibbles in order, one shift and AND its high bits, and a group's scales convert at once.
// Blocks in the Q5_0R group that starts at block k of a row of `blocks`: 8, 4, or 0 (plain Q5_0).
constexpr int Q5_0RGroupAt(int64_t k, int64_t blocks) { return blocks - k >= 8 ? 8 : blocks - k >= 4 ? 4 : 0; }
// The 5-bit quant i (0..31) of block k of the Q5_0R group of `size` blocks at `group`.
inline int Q5_0RQuant(const uint8_t* group, int size, int k, int i) {
  const int nibble = (group[6 * size + 32 * (k / 2) + i] >> (4 * (k % 2))) & 0xF;
  const int high = size == 8 ? (group[16 + i] >> k) & 1 : (group[8 + i % 16] >> (k + 4 * (i / 16))) & 1;
  return nibble | (high << 4);
}
// Rewrites `blocks` Q5_0 blocks at `src` as a Q5_0R row at `dst` (RowBytes unchanged; no overlap).
void RepackQ5_0Row(const uint8_t* src, uint8_t* dst, int64_t blocks);

constexpr size_t kQ8_0Bytes = 34;
constexpr size_t kQ4_0Bytes = 18;
constexpr size_t kQ5_0Bytes = 22;
constexpr size_t kQ5_1Bytes = 24;
constexpr size_t kQ4_KBytes = 144;
constexpr size_t kQ6_KBytes = 210;

}  // namespace cadence::engine
