// The SIMD softmax (polynomial exp) against the scalar one (std::exp), element by element.
#include "engine/softmax.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace cadence::engine {
namespace {

TEST(SoftmaxTest, SimdMatchesStdExpWithinAMillionth) {
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(23);
  int checked = 0;
  for (float spread : {0.1f, 3.0f, 30.0f, 200.0f}) {
    std::normal_distribution<float> normal(0.0f, spread);
    for (int64_t n : {1, 2, 7, 8, 9, 31, 64, 1500}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = normal(rng);
      if (n > 2) x[1] = -INFINITY;  // a masked score
      std::vector<float> want = x, got = x;
      Softmax(want.data(), n, Isa::kScalar);
      Softmax(got.data(), n, Isa::kAvx2);
      double total = 0;
      for (int64_t j = 0; j < n; ++j) {
        total += got[j];
        // Relative to the value (exp within 2 ulp, plus the sum taken in another order), or absolute
        // below 1e-30 (the polynomial clamps at e^-87).
        ASSERT_NEAR(got[j], want[j], 1e-6 * want[j] + 1e-30) << "n=" << n << " spread=" << spread << " j=" << j;
        ++checked;
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
  }
  EXPECT_GT(checked, 6000);
}

}  // namespace
}  // namespace cadence::engine
