// GemmFloat and GemmPacked against a plain double-precision triple loop, for every float weight
// type, shapes that are and are not multiples of the tile (6 x 16), strided A and C, bias, a
// team, and packed matrices used over their leading rows and columns only.
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

// A matrix packed once (from rows, or from a column-major copy) and multiplied over sub-blocks of
// it: the first n rows and k columns, as attention uses a head's keys for a causal block.
TEST(GemmTest, PackedMatrixProductsOverLeadingRowsAndColumns) {
  std::mt19937 rng(29);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WorkerTeam team(2);
  const int64_t rows = 37, cols = 53, m = 11, lda = cols + 2, ldc = rows + 1;
  const Weights w = RandomWeights(DType::kF16, rows, cols, rng);
  std::vector<float> column_major(static_cast<size_t>(cols * (rows + 4)));
  for (int64_t j = 0; j < rows; ++j)
    for (int64_t q = 0; q < cols; ++q) column_major[q * (rows + 4) + j] = w.values[j * cols + q];
  std::vector<float> a(static_cast<size_t>(m * lda)), bias(static_cast<size_t>(rows));
  for (auto& v : a) v = normal(rng);
  for (auto& v : bias) v = normal(rng);
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    PackedMatrix from_rows, from_columns;
    from_rows.PackRows(w.matrix, &team, isa);
    from_columns.PackColumns(column_major.data(), rows, cols, rows + 4, nullptr);
    ASSERT_EQ(from_rows.rows(), rows);
    ASSERT_EQ(from_columns.cols(), cols);
    for (const PackedMatrix* packed : {&from_rows, &from_columns}) {
      for (auto [n, k] : {std::pair<int64_t, int64_t>{rows, cols}, {17, 53}, {37, 20}, {5, 1}}) {
        std::vector<float> c(static_cast<size_t>(m * ldc), 12345.0f);
        GemmPacked(*packed, n, k, a.data(), m, lda, bias.data(), c.data(), ldc, isa);
        for (int64_t i = 0; i < m; ++i) {
          for (int64_t j = 0; j < ldc; ++j) {
            if (j >= n) {
              ASSERT_EQ(c[i * ldc + j], 12345.0f) << "wrote past column " << n << " at " << i << "," << j;
              continue;
            }
            double want = bias[j];
            for (int64_t q = 0; q < k; ++q) want += static_cast<double>(a[i * lda + q]) * w.values[j * cols + q];
            ASSERT_NEAR(c[i * ldc + j], want, 1e-4 * (std::sqrt(static_cast<double>(k)) + std::fabs(want)))
                << IsaName(isa) << (packed == &from_rows ? " rows" : " columns") << " n=" << n << " k=" << k << " at "
                << i << "," << j;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace cadence::engine
