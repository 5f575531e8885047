#include "engine/dtype.h"

#include <cmath>
#include <cstring>

namespace cadence::engine {

bool IsSupportedDType(uint32_t t) {
  switch (static_cast<DType>(t)) {
    case DType::kF32: case DType::kF16: case DType::kQ4_0: case DType::kQ5_0: case DType::kQ5_1: case DType::kQ8_0:
    case DType::kQ4_K: case DType::kQ6_K: case DType::kBF16:
      return true;
    case DType::kQ5_0R:  // Cadence's own layout, never in a file
      return false;
  }
  return false;
}

std::string_view DTypeName(DType type) {
  switch (type) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kQ4_0: return "Q4_0";
    case DType::kQ5_0: return "Q5_0";
    case DType::kQ5_1: return "Q5_1";
    case DType::kQ8_0: return "Q8_0";
    case DType::kQ4_K: return "Q4_K";
    case DType::kQ6_K: return "Q6_K";
    case DType::kBF16: return "BF16";
    case DType::kQ5_0R: return "Q5_0R";
  }
  return "unknown";
}

int BlockElems(DType type) {
  switch (type) {
    case DType::kF32: case DType::kF16: case DType::kBF16: return 1;
    case DType::kQ4_0: case DType::kQ5_0: case DType::kQ5_0R: case DType::kQ5_1: case DType::kQ8_0: return 32;
    case DType::kQ4_K: case DType::kQ6_K: return 256;
  }
  return 1;
}

size_t BlockBytes(DType type) {
  switch (type) {
    case DType::kF32: return 4;
    case DType::kF16: case DType::kBF16: return 2;
    case DType::kQ4_0: return kQ4_0Bytes;
    case DType::kQ5_0: case DType::kQ5_0R: return kQ5_0Bytes;
    case DType::kQ5_1: return kQ5_1Bytes;
    case DType::kQ8_0: return kQ8_0Bytes;
    case DType::kQ4_K: return kQ4_KBytes;
    case DType::kQ6_K: return kQ6_KBytes;
  }
  return 0;
}

size_t RowBytes(DType type, int64_t elems) {
  return static_cast<size_t>(elems / BlockElems(type)) * BlockBytes(type);
}

float Fp16ToFp32(uint16_t h) {
  // Bit assembly, no ldexp: it runs once per weight when F16 matrices are packed or dequantized.
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t mant = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    const float value = static_cast<float>(mant) * 5.9604644775390625e-08f;
    return sign ? -value : value;
  }
  const uint32_t bits = sign | (exp == 31 ? 0x7F800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

uint16_t Fp32ToFp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  uint32_t abs = x & 0x7FFFFFFF;
  if (abs >= 0x7F800000) return static_cast<uint16_t>(sign | (abs > 0x7F800000 ? 0x7E00 : 0x7C00));
  if (abs >= 0x477FF000) return static_cast<uint16_t>(sign | 0x7C00);  // overflow to inf
  if (abs < 0x38800000) {
    // Subnormal half: scale into integer mantissa with round-to-nearest-even.
    float a;
    std::memcpy(&a, &abs, 4);
    const float scaled = a * 16777216.0f;  // 2^24
    const uint32_t m = static_cast<uint32_t>(std::nearbyint(scaled));
    return static_cast<uint16_t>(sign | m);
  }
  const uint32_t rounding = 0xFFF + ((abs >> 13) & 1);
  abs += rounding;
  return static_cast<uint16_t>(sign | ((abs - 0x38000000) >> 13));
}

float Bf16ToFp32(uint16_t b) {
  const uint32_t x = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

namespace {

uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void DequantQ8_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ8_0Bytes, dst += 32) {
    const float d = Fp16ToFp32(LoadU16(src));
    const int8_t* q = reinterpret_cast<const int8_t*>(src + 2);
    for (int i = 0; i < 32; ++i) dst[i] = d * q[i];
  }
}

void DequantQ4_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ4_0Bytes, dst += 32) {
    const float d = Fp16ToFp32(LoadU16(src));
    const uint8_t* q = src + 2;
    for (int i = 0; i < 16; ++i) {
      dst[i] = d * (static_cast<int>(q[i] & 0xF) - 8);
      dst[i + 16] = d * (static_cast<int>(q[i] >> 4) - 8);
    }
  }
}

void DequantQ5_0(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ5_0Bytes, dst += 32) {
    const float d = Fp16ToFp32(LoadU16(src));
    for (int i = 0; i < 32; ++i) dst[i] = d * (Q5Quant(src + 2, src + 6, i) - 16);
  }
}

void DequantQ5_0R(const uint8_t* src, float* dst, int64_t blocks) {
  int64_t k = 0;
  for (int size; (size = Q5_0RGroupAt(k, blocks)) > 0; k += size, src += size * kQ5_0Bytes) {
    for (int b = 0; b < size; ++b, dst += 32) {
      const float d = Fp16ToFp32(LoadU16(src + 2 * b));
      for (int i = 0; i < 32; ++i) dst[i] = d * (Q5_0RQuant(src, size, b, i) - 16);
    }
  }
  DequantQ5_0(src, dst, blocks - k);
}

void DequantQ5_1(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ5_1Bytes, dst += 32) {
    const float d = Fp16ToFp32(LoadU16(src)), m = Fp16ToFp32(LoadU16(src + 2));
    for (int i = 0; i < 32; ++i) dst[i] = d * Q5Quant(src + 4, src + 8, i) + m;
  }
}

void DequantQ4_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ4_KBytes) {
    const float d = Fp16ToFp32(LoadU16(src));
    const float dmin = Fp16ToFp32(LoadU16(src + 2));
    const uint8_t* scales = src + 4;
    const uint8_t* q = src + 16;
    for (int j = 0; j < 8; j += 2) {
      uint8_t sc, m;
      Q4KScaleMin(j, scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      Q4KScaleMin(j + 1, scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void DequantQ6_K(const uint8_t* src, float* dst, int64_t blocks) {
  for (int64_t b = 0; b < blocks; ++b, src += kQ6_KBytes) {
    const uint8_t* ql = src;
    const uint8_t* qh = src + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
    const float d = Fp16ToFp32(LoadU16(src + 208));
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        dst[l] = d * sc[is + 0] * q1;
        dst[l + 32] = d * sc[is + 2] * q2;
        dst[l + 64] = d * sc[is + 4] * q3;
        dst[l + 96] = d * sc[is + 6] * q4;
      }
      dst += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace

void RepackQ5_0Row(const uint8_t* src, uint8_t* dst, int64_t blocks) {
  int64_t k = 0;
  for (int size; (size = Q5_0RGroupAt(k, blocks)) > 0; k += size) {
    const size_t bytes = size * kQ5_0Bytes;
    std::memset(dst, 0, bytes);
    for (int b = 0; b < size; ++b) {
      const uint8_t* block = src + b * kQ5_0Bytes;
      std::memcpy(dst + 2 * b, block, 2);
      const uint32_t high = static_cast<uint32_t>(block[2]) | (static_cast<uint32_t>(block[3]) << 8) |
                            (static_cast<uint32_t>(block[4]) << 16) | (static_cast<uint32_t>(block[5]) << 24);
      for (int i = 0; i < 32; ++i) {
        const int at = size == 8 ? i : i % 16, bit = size == 8 ? b : b + 4 * (i / 16);
        dst[2 * size + at] |= static_cast<uint8_t>(((high >> i) & 1) << bit);
      }
      uint8_t* chunk = dst + 6 * size + 32 * (b / 2);
      const int shift = 4 * (b % 2);
      for (int i = 0; i < 16; ++i) {
        chunk[i] |= static_cast<uint8_t>((block[6 + i] & 0xF) << shift);
        chunk[16 + i] |= static_cast<uint8_t>((block[6 + i] >> 4) << shift);
      }
    }
    src += bytes;
    dst += bytes;
  }
  std::memcpy(dst, src, static_cast<size_t>(blocks - k) * kQ5_0Bytes);
}

void QuantizeRowQ8_0(const float* src, uint8_t* dst, int64_t elems) {
  for (int64_t b = 0; b < elems / 32; ++b, src += 32, dst += kQ8_0Bytes) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(src[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = Fp32ToFp16(d);
    std::memcpy(dst, &h, 2);
    int8_t* q = reinterpret_cast<int8_t*>(dst + 2);
    for (int i = 0; i < 32; ++i) q[i] = static_cast<int8_t>(std::lround(src[i] * id));
  }
}

void DequantizeRow(DType type, const void* src_v, float* dst, int64_t elems) {
  const uint8_t* src = static_cast<const uint8_t*>(src_v);
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(elems) * 4);
      return;
    case DType::kF16:
      for (int64_t i = 0; i < elems; ++i) dst[i] = Fp16ToFp32(LoadU16(src + 2 * i));
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < elems; ++i) dst[i] = Bf16ToFp32(LoadU16(src + 2 * i));
      return;
    case DType::kQ8_0: DequantQ8_0(src, dst, elems / 32); return;
    case DType::kQ4_0: DequantQ4_0(src, dst, elems / 32); return;
    case DType::kQ5_0: DequantQ5_0(src, dst, elems / 32); return;
    case DType::kQ5_0R: DequantQ5_0R(src, dst, elems / 32); return;
    case DType::kQ5_1: DequantQ5_1(src, dst, elems / 32); return;
    case DType::kQ4_K: DequantQ4_K(src, dst, elems / 256); return;
    case DType::kQ6_K: DequantQ6_K(src, dst, elems / 256); return;
  }
}

}  // namespace cadence::engine
