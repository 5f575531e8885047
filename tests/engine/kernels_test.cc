#include "engine/kernels.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/parallel.h"

namespace cadence::engine {
namespace {

// Random but valid blocks of `type` for `rows` x `cols` values.
std::vector<uint8_t> RandomWeights(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
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
      case DType::kQ8_0: case DType::kQ4_0: put_half(base, 0.01f + 0.02f * std::fabs(normal(rng))); break;
      case DType::kQ4_K:
        put_half(base, 0.01f * std::fabs(normal(rng)));
        put_half(base + 2, 0.01f * std::fabs(normal(rng)));
        break;
      case DType::kQ6_K: put_half(base + 208, 0.001f * std::fabs(normal(rng))); break;
    }
  }
  return data;
}

const DType kTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};

TEST(KernelsTest, ScalarDotMatchesDequantizedReference) {
  // The scalar kernel against an independent path: dequantize the row, dot with the
  // dequantized Q8 activations in double.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 512;
  for (DType type : kTypes) {
    auto w = RandomWeights(type, 1, n, rng);
    std::vector<float> x(n), wf(n);
    for (auto& v : x) v = normal(rng);
    std::vector<Q8Block> xq(n / 32);
    QuantizeRowQ8(x.data(), xq.data(), n);
    DequantizeRow(type, w.data(), wf.data(), n);
    double ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double xi = IsQuantized(type) ? static_cast<double>(xq[i / 32].d) * xq[i / 32].q[i % 32] : x[i];
      ref += static_cast<double>(wf[i]) * xi;
    }
    const float got = GetDotKernel(type, Isa::kScalar)(w.data(), x.data(), xq.data(), n);
    EXPECT_NEAR(got, ref, 1e-4 * (1 + std::fabs(ref))) << DTypeName(type);
  }
}

TEST(KernelsTest, EverySimdKernelMatchesScalar) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checked = 0;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) {
      std::printf("note: CPU lacks %s; its kernels are not checked here\n", std::string(IsaName(isa)).c_str());
      continue;
    }
    for (DType type : kTypes) {
      DotFn simd = GetDotKernel(type, isa);
      if (!simd) continue;
      for (int64_t n : {256, 512, 1024 + 256}) {
        auto w = RandomWeights(type, 1, n, rng);
        std::vector<float> x(n);
        for (auto& v : x) v = normal(rng);
        std::vector<Q8Block> xq(n / 32);
        QuantizeRowQ8(x.data(), xq.data(), n);
        const float ref = GetDotKernel(type, Isa::kScalar)(w.data(), x.data(), xq.data(), n);
        const float got = simd(w.data(), x.data(), xq.data(), n);
        EXPECT_NEAR(got, ref, 1e-4f * (1 + std::fabs(ref))) << IsaName(isa) << " " << DTypeName(type) << " n=" << n;
        ++checked;
      }
    }
  }
  if (IsaSupported(Isa::kAvx2)) EXPECT_GE(checked, 21);
}

TEST(KernelsTest, MultiThreadedMatMulMatchesSingleThreadedScalar) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WorkerTeam team(3);
  const int64_t rows = 75, cols = 512;
  const int tokens = 5;
  for (DType type : kTypes) {
    auto data = RandomWeights(type, rows, cols, rng);
    WeightMatrix w{type, rows, cols, data.data(), RowBytes(type, cols)};
    std::vector<float> x(cols * tokens);
    for (auto& v : x) v = normal(rng);
    std::vector<float> ref(rows * tokens), got(rows * tokens);
    MatMulScratch s1, s2;
    MatMul(w, x.data(), tokens, ref.data(), nullptr, Isa::kScalar, &s1);
    MatMul(w, x.data(), tokens, got.data(), &team, BestIsa(), &s2);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-4f * (1 + std::fabs(ref[i]))) << DTypeName(type) << " at " << i;
  }
}

TEST(DtypeTest, Fp16RoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035e-05f, 5.96e-08f, 0.1f}) {
    const float back = Fp16ToFp32(Fp32ToFp16(v));
    EXPECT_NEAR(back, v, std::fabs(v) * 1e-3 + 1e-7) << v;
  }
  EXPECT_EQ(Fp32ToFp16(1.0f), 0x3C00);
  EXPECT_EQ(Fp32ToFp16(-2.0f), 0xC000);
}

}  // namespace
}  // namespace cadence::engine
