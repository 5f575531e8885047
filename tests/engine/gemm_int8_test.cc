// GemmQuantized (the integer GEMM) against the scalar dot kernels on the same quantized
// activations, for every weight type it runs and every ISA this CPU has: odd shapes (rows not a
// multiple of the 16-row panel, blocks per row odd, 1..600 tokens), a team, several targets of
// mixed types at once, and the integer sums' worst case (every quant and activation at its
// extreme, which overflows an int16 partial sum if one adds too many steps). The SIMD packers must
// write the scalar packer's panels byte for byte.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/gemm.h"
#include "engine/gemm_int8.h"
#include "engine/kernels.h"
#include "engine/kernels_test_util.h"
#include "engine/parallel.h"

namespace cadence::engine {
namespace {

constexpr DType kTypes[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ5_0, DType::kQ5_0R, DType::kQ4_K, DType::kQ6_K};

std::vector<Isa> Isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512})
    if (IsaSupported(isa)) isas.push_back(isa);
  return isas;
}

std::string Name(DType type, Isa isa, int64_t m, int64_t n, int64_t k) {
  return std::string(DTypeName(type)) + " " + std::string(IsaName(isa)) + " m=" + std::to_string(m) +
         " n=" + std::to_string(n) + " k=" + std::to_string(k);
}

// y[t * rows + r] by the scalar dot kernel.
std::vector<float> Reference(const WeightMatrix& w, const QuantizedActivations& xq, int64_t m) {
  const DotFn dot = GetDotKernel(w.type, Isa::kScalar);
  std::vector<float> y(static_cast<size_t>(m * w.rows));
  for (int64_t t = 0; t < m; ++t)
    for (int64_t r = 0; r < w.rows; ++r)
      y[t * w.rows + r] = dot(w.data + r * w.row_bytes, nullptr, xq.Row(static_cast<int>(t)), w.cols);
  return y;
}

// Equal up to the order of the float sums: within 2e-6 of the largest magnitude in the result.
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  float scale = 1.0f;
  for (float v : want) scale = std::max(scale, std::fabs(v));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 2e-6f * scale) << what << " at " << i;
  }
}

void CheckShape(DType type, int64_t m, int64_t n, int64_t k, std::mt19937& rng, WorkerTeam* team) {
  const std::vector<uint8_t> data = RandomWeights(type, n, k, rng);
  const WeightMatrix w{type, n, k, data.data(), RowBytes(type, k)};
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = normal(rng);
  QuantizedActivations xq;
  xq.Quantize(x.data(), static_cast<int>(m), k, ReadsQ8(type), ReadsQ8K(type), Isa::kScalar);
  const std::vector<float> want = Reference(w, xq, m);
  for (Isa isa : Isas()) {
    std::vector<float> y(want.size(), -1.0f);
    const MatMulTarget target{&w, y.data()};
    GemmQuantized(std::span<const MatMulTarget>(&target, 1), xq, m, team, isa);
    ExpectClose(y, want, Name(type, isa, m, n, k));
  }
}

TEST(GemmInt8Test, MatchesDotKernelsForEveryTypeIsaAndShape) {
  std::mt19937 rng(5);
  WorkerTeam team(2);
  for (DType type : kTypes) {
    const bool k_quant = ReadsQ8K(type);
    // Q8 family: 1, 5 (odd), 28 (Q5_0R's 3 x 8 + 4 groups), 31 (3 x 8 + 4 + 3 plain) blocks.
    const std::vector<int64_t> ks = k_quant ? std::vector<int64_t>{256, 1280} : std::vector<int64_t>{32, 160, 896, 992};
    for (int64_t k : ks) {
      for (int64_t n : {1, 15, 16, 17, 40}) {
        for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 13, 17}) CheckShape(type, m, n, k, rng, m % 2 ? &team : nullptr);
      }
    }
    CheckShape(type, 600, 70, k_quant ? 512 : 160, rng, &team);
  }
}

// Every quant at its largest magnitude against activations all at +127: the integer partial sums'
// worst case (an int16 overflow would show as a wrong sign or a saturated value).
TEST(GemmInt8Test, ExtremeQuantsDoNotOverflow) {
  std::mt19937 rng(9);
  const int64_t n = 17, m = 9;
  for (DType type : kTypes) {
    const int64_t k = ReadsQ8K(type) ? 512 : 160;
    const DType raw_type = type == DType::kQ5_0R ? DType::kQ5_0 : type;
    std::vector<uint8_t> data = RandomWeights(raw_type, n, k, rng);
    const size_t bb = BlockBytes(raw_type);
    for (size_t at = 0; at < data.size(); at += bb) {
      uint8_t* b = data.data() + at;
      switch (raw_type) {
        case DType::kQ8_0: std::fill(b + 2, b + bb, 0x80); break;  // -128
        case DType::kQ4_0:
        case DType::kQ5_0: std::fill(b + 2, b + bb, 0xFF); break;    // 15 / 31
        case DType::kQ4_K: std::fill(b + 4, b + bb, 0xFF); break;    // scales and mins 63, quants 15
        case DType::kQ6_K: std::fill(b, b + 192, 0xFF); std::fill(b + 192, b + 208, 0x81); break;  // 63, scales -127
        default: break;
      }
    }
    if (type == DType::kQ5_0R) {
      std::vector<uint8_t> repacked(data.size());
      for (int64_t r = 0; r < n; ++r)
        RepackQ5_0Row(data.data() + r * RowBytes(type, k), repacked.data() + r * RowBytes(type, k), k / 32);
      data = repacked;
    }
    const WeightMatrix w{type, n, k, data.data(), RowBytes(type, k)};
    for (float sign : {1.0f, -1.0f}) {
      std::vector<float> x(static_cast<size_t>(m * k), sign);
      QuantizedActivations xq;
      xq.Quantize(x.data(), static_cast<int>(m), k, ReadsQ8(type), ReadsQ8K(type), Isa::kScalar);
      ASSERT_EQ(std::abs(ReadsQ8(type) ? xq.Row(0).q8[0].q[0] : xq.Row(0).q8k[0].q[0]), 127);
      const std::vector<float> want = Reference(w, xq, m);
      for (Isa isa : Isas()) {
        std::vector<float> y(want.size());
        const MatMulTarget target{&w, y.data()};
        GemmQuantized(std::span<const MatMulTarget>(&target, 1), xq, m, nullptr, isa);
        ExpectClose(y, want, Name(type, isa, m, n, k) + " extreme");
      }
    }
  }
}

TEST(GemmInt8Test, SimdPackersWriteTheScalarPanels) {
  std::mt19937 rng(3);
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  for (DType type : kTypes) {
    const int64_t k = ReadsQ8K(type) ? 768 : 992, n = 21;
    const std::vector<uint8_t> data = RandomWeights(type, n, k, rng);
    const WeightMatrix w{type, n, k, data.data(), RowBytes(type, k)};
    const gemm_int8::Family f = gemm_int8::FamilyOf(type);
    const size_t bytes = static_cast<size_t>(k / gemm_int8::UnitElems(f)) * gemm_int8::UnitBytes(f);
    for (int64_t j0 : {0, 16}) {
      const int nr = static_cast<int>(std::min<int64_t>(kGemmNr, n - j0));
      std::vector<uint8_t> scalar(bytes, 0xAA), simd(bytes, 0x55);
      gemm_int8::ScalarKernels(type).pack(w, j0, nr, scalar.data());
      gemm_int8::Avx2Pack(type)(w, j0, nr, simd.data());
      ASSERT_EQ(scalar, simd) << DTypeName(type) << " rows from " << j0;
    }
  }
}

// MatMulMany over targets of several types at token counts on both sides of the integer GEMM's
// threshold, against the scalar MatMul of each target alone.
TEST(GemmInt8Test, MatMulManyRoutesEveryTokenCount) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WorkerTeam team(2);
  const int64_t cols = 768;
  const DType types[] = {DType::kQ8_0, DType::kQ4_K, DType::kQ5_0R, DType::kQ6_K, DType::kF16, DType::kQ5_1};
  const int64_t rows[] = {40, 33, 18, 16, 9, 7};
  std::vector<std::vector<uint8_t>> data;
  std::vector<WeightMatrix> ws;
  for (size_t i = 0; i < std::size(types); ++i) {
    data.push_back(RandomWeights(types[i], rows[i], cols, rng));
    ws.push_back(WeightMatrix{types[i], rows[i], cols, data.back().data(), RowBytes(types[i], cols)});
  }
  for (int tokens : {1, 2, kGemmQuantizedMinRows - 1, kGemmQuantizedMinRows, 33, 70}) {
    std::vector<float> x(static_cast<size_t>(cols * tokens));
    for (float& v : x) v = normal(rng);
    std::vector<std::vector<float>> fused(ws.size()), separate(ws.size());
    std::vector<MatMulTarget> targets;
    for (size_t i = 0; i < ws.size(); ++i) {
      fused[i].assign(static_cast<size_t>(rows[i] * tokens), 0.0f);
      separate[i].assign(fused[i].size(), 0.0f);
      targets.push_back({&ws[i], fused[i].data()});
    }
    MatMulScratch s1, s2;
    MatMulMany(targets, x.data(), tokens, &team, BestIsa(), &s1);
    for (size_t i = 0; i < ws.size(); ++i) MatMul(ws[i], x.data(), tokens, separate[i].data(), nullptr, Isa::kScalar, &s2);
    for (size_t i = 0; i < ws.size(); ++i)
      ExpectClose(fused[i], separate[i], std::string(DTypeName(types[i])) + " tokens=" + std::to_string(tokens));
  }
}

}  // namespace
}  // namespace cadence::engine
