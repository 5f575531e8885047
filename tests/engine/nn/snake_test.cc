// Snake's AVX2 polynomial against the scalar std::sin form, over the argument range HiFT's
// activations reach, past the polynomial's limit (the std::sin fallback), and with a team.
#include "engine/nn/snake.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace cadence::engine::nn {
namespace {

TEST(SnakeTest, MatchesDefinition) {
  std::mt19937 rng(3);
  const int channels = 37;  // not a multiple of 8: the scalar tail runs too
  const int64_t frames = 300;
  std::vector<float> alpha(channels);
  std::uniform_real_distribution<float> a(0.05f, 3.0f);
  for (float& v : alpha) v = a(rng);
  std::vector<float> x(frames * channels);
  std::normal_distribution<float> n(0.0f, 1.0f);
  for (int64_t i = 0; i < frames * channels; ++i) x[i] = n(rng) * (i % 5 == 0 ? 500.0f : 4.0f);
  x[5] = 1e5f;  // beyond the polynomial's range
  const Snake snake(alpha);
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    WorkerTeam team(2);
    std::vector<float> y(x.size());
    snake.Forward(x.data(), y.data(), frames, &team, isa);
    double max_err = 0.0;
    for (int64_t i = 0; i < frames * channels; ++i) {
      const double al = alpha[i % channels];
      const double s = std::sin(static_cast<double>(x[i]) * al);
      const double want = x[i] + s * s / al;
      // The argument alpha * x is rounded to float first (as in PyTorch): allow its ulp's effect.
      const double tol = 1e-5 * std::max(1.0, std::abs(static_cast<double>(x[i]))) +
                         2.0 * std::abs(x[i] * al) * 6e-8 / al;
      max_err = std::max(max_err, std::abs(y[i] - want) - tol);
      ASSERT_NEAR(y[i], want, tol) << "x " << x[i] << " alpha " << al << " isa " << IsaName(isa);
    }
  }
}

TEST(SnakeTest, InPlace) {
  const Snake snake({1.0f, 2.0f});
  std::vector<float> x = {0.5f, -1.0f, 3.0f, 0.0f};
  std::vector<float> want(4);
  snake.Forward(x.data(), want.data(), 2, nullptr, Isa::kScalar);
  snake.Forward(x.data(), x.data(), 2, nullptr, BestIsa());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(x[i], want[i], 1e-6);
}

}  // namespace
}  // namespace cadence::engine::nn
