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

constexpr size_t kQ8_0Bytes = 34;
constexpr size_t kQ4_0Bytes = 18;
constexpr size_t kQ5_0Bytes = 22;
constexpr size_t kQ5_1Bytes = 24;
constexpr size_t kQ4_KBytes = 144;
constexpr size_t kQ6_KBytes = 210;

}  // namespace cadence::engine
