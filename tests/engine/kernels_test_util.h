// Test inputs for the dot kernels: random but valid weight blocks of every type, and activations
// quantized in both block sizes. Shared by kernels_test and kernels_avx512_test.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/kernels.h"

namespace cadence::engine {

// Random but valid blocks of `type` for `rows` x `cols` values.
inline std::vector<uint8_t> RandomWeights(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  if (type == DType::kQ5_0R) {  // random Q5_0 rows in the load-time layout
    const std::vector<uint8_t> q5 = RandomWeights(DType::kQ5_0, rows, cols, rng);
    std::vector<uint8_t> data(q5.size());
    const size_t row_bytes = RowBytes(type, cols);
    for (int64_t r = 0; r < rows; ++r) RepackQ5_0Row(q5.data() + r * row_bytes, data.data() + r * row_bytes, cols / 32);
    return data;
  }
  std::vector<uint8_t> data(RowBytes(type, cols) * static_cast<size_t>(rows));
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
  auto put_half = [&](size_t at, float v) {
    const uint16_t h = Fp32ToFp16(v);
    data[at] = static_cast<uint8_t>(h & 0xFF);
    data[at + 1] = static_cast<uint8_t>(h >> 8);
  };
  const size_t bb = BlockBytes(type);
  const size_t blocks = data.size() / bb;
  for (size_t k = 0; k < blocks; ++k) {
    const size_t base = k * bb;
    switch (type) {
      case DType::kF32: {
        const float v = normal(rng);
        std::memcpy(&data[base], &v, 4);
        break;
      }
      case DType::kF16: put_half(base, normal(rng)); break;
      case DType::kBF16: data[base + 1] = static_cast<uint8_t>(0x3C + (byte(rng) & 1)); break;
      case DType::kQ8_0: case DType::kQ4_0: case DType::kQ5_0: put_half(base, 0.01f + 0.02f * std::fabs(normal(rng))); break;
      case DType::kQ5_1:
        put_half(base, 0.01f + 0.02f * std::fabs(normal(rng)));
        put_half(base + 2, 0.1f * normal(rng));
        break;
      case DType::kQ4_K:
        put_half(base, 0.01f * std::fabs(normal(rng)));
        put_half(base + 2, 0.01f * std::fabs(normal(rng)));
        break;
      case DType::kQ6_K: put_half(base + 208, 0.001f * std::fabs(normal(rng))); break;
      case DType::kQ5_0R: break;  // made from Q5_0 above
    }
  }
  return data;
}

// x quantized in both block sizes (each kernel reads the one its type needs), `tokens` rows
// `stride` values apart.
struct Quantized {
  std::vector<Q8Block> q8;
  std::vector<Q8KBlock> q8k;
  std::vector<float> q8_d;
  std::vector<int32_t> q8_sum;
  int64_t stride = 0;
  Quantized(const float* x, int64_t n, int tokens = 1, int64_t stride_values = 0)
      : q8(static_cast<size_t>((stride_values ? stride_values : n) / 32 * tokens)),
        q8k(static_cast<size_t>((stride_values ? stride_values : n) / 256 * tokens)),
        stride(stride_values ? stride_values : n) {
    for (int t = 0; t < tokens; ++t) {
      QuantizeRowQ8(x + t * n, q8.data() + t * (stride / 32), n);
      QuantizeRowQ8K(x + t * n, q8k.data() + t * (stride / 256), n);
    }
    for (const Q8Block& b : q8) q8_d.push_back(b.d), q8_sum.push_back(b.sum);
  }
  QuantizedRow Row(int t = 0) const {
    const int64_t first = t * (stride / 32);
    return {q8.data() + first, q8k.data() + t * (stride / 256), q8_d.data() + first, q8_sum.data() + first};
  }
  // The value the kernels see for x[i] of token 0 under `type`'s activation blocks.
  double Value(DType type, int64_t i) const {
    if (ReadsQ8K(type)) return static_cast<double>(q8k[i / 256].d) * q8k[i / 256].q[i % 256];
    return static_cast<double>(q8[i / 32].d) * q8[i / 32].q[i % 32];
  }
};

// Checks a several-token kernel on one random row of `n` values: each of 1..kDotTokens tokens (a
// token stride that is not the row length) against the scalar one-token kernel, and bit for bit
// against `one` (the same ISA's one-token kernel: the same operations in the same order); nothing
// written past n_tok. Returns the number of token results checked.
inline int CheckTokensKernel(DType type, DotTokensFn many, DotFn one, int64_t n, std::mt19937& rng,
                             const std::string& label) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t stride = n + 256;
  const auto w = RandomWeights(type, 1, n, rng);
  std::vector<float> x(n * kDotTokens);
  for (auto& v : x) v = normal(rng);
  const Quantized xq(x.data(), n, kDotTokens, stride);
  int checked = 0;
  for (int n_tok = 1; n_tok <= kDotTokens; ++n_tok) {
    std::vector<float> y(static_cast<size_t>(2 * kDotTokens), -1.0f);
    many(w.data(), xq.Row(), stride, n_tok, n, y.data(), 2);
    for (int t = 0; t < kDotTokens; ++t) {
      if (t >= n_tok) {
        EXPECT_EQ(y[2 * t], -1.0f) << label << ": wrote past n_tok";
        continue;
      }
      const float ref = GetDotKernel(type, Isa::kScalar)(w.data(), nullptr, xq.Row(t), n);
      EXPECT_NEAR(y[2 * t], ref, 1e-4f * (1 + std::fabs(ref))) << label << " n_tok=" << n_tok << " t=" << t;
      EXPECT_EQ(y[2 * t], one(w.data(), nullptr, xq.Row(t), n)) << label << " n_tok=" << n_tok << " t=" << t;
      ++checked;
    }
  }
  return checked;
}

}  // namespace cadence::engine
