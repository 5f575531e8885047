// The activations (SIMD with polynomial exp and erf, scalar with std::erf / std::exp) against
// double-precision statements of GELU and SiLU, element by element, over the range transformer
// activations take and past it.
#include "engine/activation.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace cadence::engine {
namespace {

std::vector<float> Inputs(int64_t n, float spread, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = normal(rng);
  if (n > 3) {
    x[0] = 0.0f;
    x[1] = -12.0f;  // GELU's far negative tail: -12 Φ(-12) ~ -1e-32
    x[2] = 30.0f;
  }
  return x;
}

double GeluDouble(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double SiluDouble(double x) { return x / (1.0 + std::exp(-x)); }

TEST(ActivationTest, GeluMatchesTheErfDefinition) {
  std::mt19937 rng(41);
  int checked = 0;
  for (const Isa isa : {Isa::kScalar, BestIsa()}) {
    for (float spread : {0.3f, 1.0f, 4.0f}) {
      for (int64_t n : {1, 5, 8, 13, 1536}) {
        const std::vector<float> x = Inputs(n, spread, rng);
        std::vector<float> got = x;
        Gelu(got.data(), n, isa);
        for (int64_t i = 0; i < n; ++i, ++checked) {
          // erf within 1.5e-7 (A&S 7.1.26), plus float rounding in 1 - P e^{-z²} near z = 0: 1 + erf
          // within 6e-7, GELU within 3e-7 |x|.
          const double want = GeluDouble(x[i]);
          ASSERT_NEAR(got[i], want, 3e-7 * std::fabs(x[i]) + 1e-30)
              << IsaName(isa) << " x=" << x[i];
        }
      }
    }
  }
  EXPECT_GT(checked, 9000);
}

TEST(ActivationTest, SiluMulMatchesTheDefinition) {
  std::mt19937 rng(43);
  int checked = 0;
  for (const Isa isa : {Isa::kScalar, BestIsa()}) {
    for (float spread : {0.3f, 3.0f, 30.0f}) {
      for (int64_t n : {1, 7, 8, 9, 4864}) {
        const std::vector<float> gate = Inputs(n, spread, rng), up = Inputs(n, 1.0f, rng);
        std::vector<float> got = gate;
        SiluMul(got.data(), up.data(), n, isa);
        for (int64_t i = 0; i < n; ++i, ++checked) {
          const double want = SiluDouble(gate[i]) * up[i];
          // (e^x clamps at e^-87: below that, both are zero to 1e-30.)
          ASSERT_NEAR(got[i], want, 1e-6 * std::fabs(want) + 1e-30) << IsaName(isa) << " gate=" << gate[i];
        }
      }
    }
  }
  EXPECT_GT(checked, 20000);
}

}  // namespace
}  // namespace cadence::engine
