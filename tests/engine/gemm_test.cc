// GemmFloat against a plain double-precision triple loop, for every float weight type, shapes
// that are and are not multiples of the tile (6 x 16), strided A and C, bias, and a team.
#include "engine/gemm.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/parallel.h"

namespace cadence::engine {
namespace {

struct Weights {
  std::vector<uint8_t> data;
  std::vector<float> values;  // the stored values, decoded
  WeightMatrix matrix;
};

Weights RandomWeights(DType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Weights w;
  w.data.resize(RowBytes(type, cols) * static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = normal(rng);
    uint8_t* p = w.data.data() + i * (type == DType::kF32 ? 4 : 2);
    if (type == DType::kF32) {
      std::memcpy(p, &v, 4);
    } else {
      uint16_t h = type == DType::kF16 ? Fp32ToFp16(v) : static_cast<uint16_t>([&] {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        return bits >> 16;
      }());
      std::memcpy(p, &h, 2);
    }
  }
  w.values.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    DequantizeRow(type, w.data.data() + r * RowBytes(type, cols), w.values.data() + r * cols, cols);
  w.matrix = WeightMatrix{type, rows, cols, w.data.data(), RowBytes(type, cols)};
  return w;
}

TEST(GemmTest, MatchesTripleLoopForEveryTypeAndShape) {
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WorkerTeam team(2);
  struct Shape {
    int64_t m, n, k;
  };
  int checked = 0;
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (Shape s : {Shape{1, 1, 1}, Shape{5, 15, 7}, Shape{6, 16, 64}, Shape{7, 17, 33}, Shape{13, 40, 100},
                    Shape{100, 33, 64}, Shape{203, 70, 129}}) {
      const Weights w = RandomWeights(type, s.n, s.k, rng);
      const int64_t lda = s.k + 3, ldc = s.n + 5;
      std::vector<float> a(static_cast<size_t>(s.m * lda)), bias(static_cast<size_t>(s.n));
      for (auto& v : a) v = normal(rng);
      for (auto& v : bias) v = normal(rng);
      for (Isa isa : {Isa::kScalar, BestIsa()}) {
        for (bool with_bias : {false, true}) {
          std::vector<float> c(static_cast<size_t>(s.m * ldc), 12345.0f);
          GemmFloat(w.matrix, a.data(), s.m, lda, with_bias ? bias.data() : nullptr, c.data(), ldc,
                    isa == Isa::kScalar ? nullptr : &team, isa);
          for (int64_t i = 0; i < s.m; ++i) {
            for (int64_t j = 0; j < ldc; ++j) {
              const float got = c[i * ldc + j];
              if (j >= s.n) {
                ASSERT_EQ(got, 12345.0f) << "wrote past the row at " << i << "," << j;
                continue;
              }
              double want = with_bias ? bias[j] : 0.0;
              for (int64_t p = 0; p < s.k; ++p) want += static_cast<double>(a[i * lda + p]) * w.values[j * s.k + p];
              ASSERT_NEAR(got, want, 1e-4 * (std::sqrt(static_cast<double>(s.k)) + std::fabs(want)))
                  << DTypeName(type) << " " << IsaName(isa) << " m=" << s.m << " n=" << s.n << " k=" << s.k << " at "
                  << i << "," << j;
            }
          }
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 3 * 7 * 2 * 2);
}

}  // namespace
}  // namespace cadence::engine
