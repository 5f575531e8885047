// Conv1d and ConvTranspose1d against direct double-precision loops written from PyTorch's
// definitions: stride, dilation, symmetric and causal padding, groups, depthwise, kernel 1, the
// HiFT upsamplers' transposed shapes, both GEMM tiles and a team of threads.
#include "engine/nn/conv1d.h"

#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace cadence::engine::nn {
namespace {

std::vector<float> Random(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// x [T][Cin] time-major, w [Cout][Cin/g][K]: the definition, in double.
std::vector<double> DirectConv(const Conv1dSpec& s, const std::vector<float>& w, const std::vector<float>& b,
                               const std::vector<float>& x, int64_t frames) {
  const int64_t span = static_cast<int64_t>(s.dilation) * (s.kernel - 1) + 1;
  const int64_t out_frames = (frames + s.pad_left + s.pad_right - span) / s.stride + 1;
  const int cin_g = s.in_channels / s.groups, cout_g = s.out_channels / s.groups;
  std::vector<double> y(out_frames * s.out_channels);
  for (int64_t t = 0; t < out_frames; ++t) {
    for (int o = 0; o < s.out_channels; ++o) {
      double acc = b.empty() ? 0.0 : b[o];
      const int g = o / cout_g;
      for (int i = 0; i < cin_g; ++i) {
        for (int k = 0; k < s.kernel; ++k) {
          const int64_t src = t * s.stride + static_cast<int64_t>(k) * s.dilation - s.pad_left;
          if (src < 0 || src >= frames) continue;
          acc += static_cast<double>(w[(static_cast<int64_t>(o) * cin_g + i) * s.kernel + k]) *
                 x[src * s.in_channels + g * cin_g + i];
        }
      }
      y[t * s.out_channels + o] = acc;
    }
  }
  return y;
}

// w [Cin][Cout][K].
std::vector<double> DirectConvTranspose(const ConvTranspose1dSpec& s, const std::vector<float>& w,
                                        const std::vector<float>& b, const std::vector<float>& x, int64_t frames) {
  const int64_t out_frames = (frames - 1) * s.stride - 2 * s.padding + s.kernel;
  std::vector<double> y(out_frames * s.out_channels, 0.0);
  for (int64_t t = 0; t < out_frames; ++t) {
    for (int o = 0; o < s.out_channels; ++o) y[t * s.out_channels + o] = b.empty() ? 0.0 : b[o];
  }
  for (int64_t t = 0; t < frames; ++t) {
    for (int k = 0; k < s.kernel; ++k) {
      const int64_t dst = t * s.stride + k - s.padding;
      if (dst < 0 || dst >= out_frames) continue;
      for (int o = 0; o < s.out_channels; ++o) {
        double acc = 0.0;
        for (int i = 0; i < s.in_channels; ++i) {
          acc += static_cast<double>(w[(static_cast<int64_t>(i) * s.out_channels + o) * s.kernel + k]) *
                 x[t * s.in_channels + i];
        }
        y[dst * s.out_channels + o] += acc;
      }
    }
  }
  return y;
}

double MaxDiff(const std::vector<float>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double m = 0.0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) m = std::max(m, std::abs(got[i] - want[i]));
  return m;
}

struct ConvCase {
  Conv1dSpec spec;
  int64_t frames;
  bool bias;
};

TEST(Conv1dTest, MatchesDirectLoop) {
  std::mt19937 rng(7);
  const ConvCase cases[] = {
      {{80, 24, 3, 1, 1, 1, 1, 1}, 37, true},     // F0 predictor: padding 1
      {{16, 16, 7, 1, 3, 9, 9, 1}, 100, true},    // ResBlock: dilation 3, padding 9
      {{16, 16, 11, 1, 5, 25, 25, 1}, 130, true}, // dilation 5
      {{18, 8, 30, 15, 1, 7, 7, 1}, 301, true},   // source_downs: kernel 2u, stride u, padding u / 2
      {{18, 8, 1, 1, 1, 0, 0, 1}, 70, true},      // kernel 1 (direct rows)
      {{12, 20, 4, 1, 2, 6, 0, 1}, 50, false},    // causal: left padding only, no bias
      {{12, 20, 3, 2, 1, 1, 1, 4}, 45, true},     // groups 4
      {{32, 32, 5, 1, 1, 2, 2, 32}, 140, true},   // depthwise
      {{32, 32, 3, 1, 2, 4, 0, 32}, 9, false},    // causal depthwise, short input
      {{5, 3, 3, 1, 1, 0, 0, 1}, 3, true},        // one output frame
  };
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    for (int threads : {1, 2}) {
      WorkerTeam team(threads);
      for (const ConvCase& c : cases) {
        const Conv1dSpec& s = c.spec;
        const auto w = Random(static_cast<size_t>(s.out_channels) * (s.in_channels / s.groups) * s.kernel, rng);
        const auto b = c.bias ? Random(s.out_channels, rng) : std::vector<float>{};
        const auto x = Random(static_cast<size_t>(c.frames) * s.in_channels, rng);
        auto conv = Conv1d::Create(s, w, b, isa);
        ASSERT_TRUE(conv.ok()) << conv.status().ToString();
        const auto want = DirectConv(s, w, b, x, c.frames);
        EXPECT_EQ(conv->OutputFrames(c.frames) * s.out_channels, static_cast<int64_t>(want.size()));
        const auto got = conv->Forward(x, &team);
        EXPECT_LT(MaxDiff(got, want), 1e-4) << "in " << s.in_channels << " out " << s.out_channels << " kernel "
                                            << s.kernel << " groups " << s.groups << " isa " << IsaName(isa);
      }
    }
  }
}

TEST(Conv1dTest, ShortInputGivesNoFrames) {
  auto conv = Conv1d::Create({4, 4, 5, 1, 1, 0, 0, 1}, std::vector<float>(80, 0.1f), {});
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->OutputFrames(4), 0);
  EXPECT_TRUE(conv->Forward(std::vector<float>(16, 1.0f), nullptr).empty());
}

TEST(Conv1dTest, RejectsMisShapedWeights) {
  auto conv = Conv1d::Create({4, 6, 3, 1, 1, 1, 1, 1}, std::vector<float>(71), {}, BestIsa(), "conv_pre.weight");
  ASSERT_FALSE(conv.ok());
  EXPECT_NE(conv.status().message().find("conv_pre.weight"), std::string::npos);
  EXPECT_NE(conv.status().message().find("[6, 4, 3]"), std::string::npos);
  auto bias = Conv1d::Create({4, 6, 3, 1, 1, 1, 1, 1}, std::vector<float>(72), std::vector<float>(5));
  EXPECT_FALSE(bias.ok());
  auto groups = Conv1d::Create({4, 6, 3, 1, 1, 1, 1, 4}, std::vector<float>(18), {});
  EXPECT_FALSE(groups.ok());
  auto up = ConvTranspose1d::Create({4, 6, 3, 2, 1}, std::vector<float>(71), {});
  EXPECT_FALSE(up.ok());
}

TEST(ConvTranspose1dTest, MatchesDirectLoop) {
  std::mt19937 rng(11);
  struct Case {
    ConvTranspose1dSpec spec;
    int64_t frames;
  };
  const Case cases[] = {
      {{32, 16, 16, 8, 4}, 21},   // HiFT ups[0]: kernel 16, rate 8, padding (16 - 8) / 2
      {{16, 8, 11, 5, 3}, 70},    // ups[1]
      {{8, 4, 7, 3, 2}, 150},     // ups[2]
      {{6, 5, 4, 2, 1}, 1},       // one input frame
      {{6, 5, 2, 4, 0}, 33},      // stride above kernel: phases with no taps
      {{6, 5, 5, 1, 2}, 40},      // stride 1
  };
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    for (int threads : {1, 2}) {
      WorkerTeam team(threads);
      for (const Case& c : cases) {
        const ConvTranspose1dSpec& s = c.spec;
        const auto w = Random(static_cast<size_t>(s.in_channels) * s.out_channels * s.kernel, rng);
        const auto b = Random(s.out_channels, rng);
        const auto x = Random(static_cast<size_t>(c.frames) * s.in_channels, rng);
        auto conv = ConvTranspose1d::Create(s, w, b, isa);
        ASSERT_TRUE(conv.ok()) << conv.status().ToString();
        const auto want = DirectConvTranspose(s, w, b, x, c.frames);
        const auto got = conv->Forward(x, &team);
        EXPECT_LT(MaxDiff(got, want), 1e-4) << "kernel " << s.kernel << " stride " << s.stride << " isa "
                                            << IsaName(isa);
      }
    }
  }
}

TEST(WeightNormTest, ScalesEachRowToItsGain) {
  const std::vector<float> v = {3, 4, 0, 0, 1, 0};  // rows [3, 4, 0] and [0, 1, 0]
  const std::vector<float> g = {10, -2};
  const auto w = WeightNorm(g, v);
  const std::vector<float> want = {6, 8, 0, 0, -2, 0};
  for (size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i], want[i], 1e-6);
}

}  // namespace
}  // namespace cadence::engine::nn
