#include "engine/nn/conv1d.h"
#include "engine/formats/stored_tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>

namespace cadence::engine::nn {
namespace {

// Output frames per GEMM call: 12 micro-tiles of 6 rows; the im2col block of 72 rows of up to
// 256 x 11 values is 810 KB at most for the published HiFT shapes.
constexpr int64_t kBlockFrames = 72;

int64_t Blocks(int64_t frames) { return (frames + kBlockFrames - 1) / kBlockFrames; }

void RunBlocks(int64_t chunks, WorkerTeam* team, const std::function<void(int64_t)>& fn) {
  if (team != nullptr && team->threads() > 1 && chunks > 1) {
    team->ParallelFor(chunks, fn);
  } else {
    for (int64_t c = 0; c < chunks; ++c) fn(c);
  }
}

float* Scratch(size_t n) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

PackedMatrix Pack(const std::vector<float>& rows, int64_t n_rows, int64_t n_cols, Isa isa) {
  WeightMatrix m;
  m.type = DType::kF32;
  m.rows = n_rows;
  m.cols = n_cols;
  m.data = reinterpret_cast<const uint8_t*>(rows.data());
  m.row_bytes = static_cast<size_t>(n_cols) * sizeof(float);
  PackedMatrix packed;
  packed.PackRows(m, nullptr, isa);
  return packed;
}

// The weight holds want[0] x want[1] x want[2] values and the bias none or `out_channels`.
Status CheckWeights(const std::vector<int64_t>& want, const std::vector<float>& weight, const std::vector<float>& bias,
                    int64_t out_channels, const std::string& what) {
  if (static_cast<int64_t>(weight.size()) != want[0] * want[1] * want[2])
    return Status::InvalidArgument(what + ": weight has " + std::to_string(weight.size()) + " values, expected " +
                                   ShapeString(want));
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != out_channels)
    return Status::InvalidArgument(what + ": bias has " + std::to_string(bias.size()) + " values, expected [" +
                                   std::to_string(out_channels) + "]");
  return Status::Ok();
}

}  // namespace

Result<Conv1d> Conv1d::Create(const Conv1dSpec& spec, const std::vector<float>& weight, const std::vector<float>& bias,
                              Isa isa, const std::string& what) {
  const Conv1dSpec& s = spec;
  if (s.in_channels <= 0 || s.out_channels <= 0 || s.kernel <= 0 || s.stride <= 0 || s.dilation <= 0 ||
      s.pad_left < 0 || s.pad_right < 0 || s.groups <= 0 || s.in_channels % s.groups != 0 ||
      s.out_channels % s.groups != 0) {
    return Status::InvalidArgument(what + ": invalid conv1d spec (in " + std::to_string(s.in_channels) + ", out " +
                                   std::to_string(s.out_channels) + ", kernel " + std::to_string(s.kernel) +
                                   ", groups " + std::to_string(s.groups) + ")");
  }
  const int64_t cin_g = s.in_channels / s.groups, cout_g = s.out_channels / s.groups;
  CADENCE_RETURN_IF_ERROR(CheckWeights({s.out_channels, cin_g, s.kernel}, weight, bias, s.out_channels, what));
  Conv1d conv;
  conv.spec_ = spec;
  conv.isa_ = isa;
  conv.bias_ = bias.empty() ? std::vector<float>(s.out_channels, 0.0f) : bias;
  const int64_t k_n = s.kernel;
  if (s.groups > 1 && cin_g == 1 && cout_g == 1) {
    conv.depthwise_.resize(static_cast<size_t>(k_n * s.out_channels));
    for (int64_t o = 0; o < s.out_channels; ++o) {
      for (int64_t k = 0; k < k_n; ++k) conv.depthwise_[k * s.out_channels + o] = weight[o * k_n + k];
    }
    return conv;
  }
  const int64_t cols = k_n * cin_g;
  std::vector<float> rows(static_cast<size_t>(cout_g * cols));
  for (int g = 0; g < s.groups; ++g) {
    for (int64_t o = 0; o < cout_g; ++o) {
      const float* w = weight.data() + (g * cout_g + o) * cin_g * k_n;
      for (int64_t k = 0; k < k_n; ++k) {
        for (int64_t i = 0; i < cin_g; ++i) rows[o * cols + k * cin_g + i] = w[i * k_n + k];
      }
    }
    conv.packed_.push_back(Pack(rows, cout_g, cols, isa));
  }
  return conv;
}

int64_t Conv1d::OutputFrames(int64_t frames) const {
  const int64_t span = static_cast<int64_t>(spec_.dilation) * (spec_.kernel - 1) + 1;
  const int64_t padded = frames + spec_.pad_left + spec_.pad_right;
  if (padded < span) return 0;
  return (padded - span) / spec_.stride + 1;
}

void Conv1d::Forward(const float* x, int64_t frames, float* y, WorkerTeam* team) const {
  const Conv1dSpec& s = spec_;
  const int64_t out_frames = OutputFrames(frames);
  const int64_t cin = s.in_channels, cout = s.out_channels;
  if (!depthwise_.empty()) {
    RunBlocks(Blocks(out_frames), team, [&](int64_t b) {
      const int64_t t_end = std::min(out_frames, (b + 1) * kBlockFrames);
      for (int64_t t = b * kBlockFrames; t < t_end; ++t) {
        float* out = y + t * cout;
        std::memcpy(out, bias_.data(), sizeof(float) * cout);
        for (int k = 0; k < s.kernel; ++k) {
          const int64_t src = t * s.stride + static_cast<int64_t>(k) * s.dilation - s.pad_left;
          if (src < 0 || src >= frames) continue;
          const float* in = x + src * cin;
          const float* w = depthwise_.data() + static_cast<int64_t>(k) * cout;
          for (int64_t c = 0; c < cout; ++c) out[c] += w[c] * in[c];
        }
      }
    });
    return;
  }
  const int64_t cin_g = cin / s.groups, cout_g = cout / s.groups;
  const int64_t cols = cin_g * s.kernel;
  const bool direct = s.kernel == 1 && s.stride == 1 && s.groups == 1 && s.pad_left == 0 && s.pad_right == 0;
  RunBlocks(Blocks(out_frames), team, [&](int64_t b) {
    const int64_t t0 = b * kBlockFrames;
    const int64_t m = std::min(kBlockFrames, out_frames - t0);
    if (direct) {
      GemmPacked(packed_[0], cout, cin, x + t0 * cin, m, cin, bias_.data(), y + t0 * cout, cout, isa_);
      return;
    }
    float* a = Scratch(static_cast<size_t>(m * cols));
    for (int g = 0; g < s.groups; ++g) {
      for (int64_t i = 0; i < m; ++i) {
        float* row = a + i * cols;
        for (int k = 0; k < s.kernel; ++k) {
          const int64_t src = (t0 + i) * s.stride + static_cast<int64_t>(k) * s.dilation - s.pad_left;
          float* dst = row + static_cast<int64_t>(k) * cin_g;
          if (src < 0 || src >= frames) {
            std::memset(dst, 0, sizeof(float) * cin_g);
          } else {
            std::memcpy(dst, x + src * cin + g * cin_g, sizeof(float) * cin_g);
          }
        }
      }
      GemmPacked(packed_[g], cout_g, cols, a, m, cols, bias_.data() + g * cout_g, y + t0 * cout + g * cout_g, cout,
                 isa_);
    }
  });
}

std::vector<float> Conv1d::Forward(const std::vector<float>& x, WorkerTeam* team) const {
  const int64_t frames = static_cast<int64_t>(x.size()) / spec_.in_channels;
  std::vector<float> y(static_cast<size_t>(OutputFrames(frames) * spec_.out_channels));
  Forward(x.data(), frames, y.data(), team);
  return y;
}

Result<ConvTranspose1d> ConvTranspose1d::Create(const ConvTranspose1dSpec& spec, const std::vector<float>& weight,
                                                const std::vector<float>& bias, Isa isa, const std::string& what) {
  const ConvTranspose1dSpec& s = spec;
  if (s.in_channels <= 0 || s.out_channels <= 0 || s.kernel <= 0 || s.stride <= 0 || s.padding < 0) {
    return Status::InvalidArgument(what + ": invalid conv_transpose1d spec");
  }
  CADENCE_RETURN_IF_ERROR(CheckWeights({s.in_channels, s.out_channels, s.kernel}, weight, bias, s.out_channels, what));
  ConvTranspose1d conv;
  conv.spec_ = spec;
  conv.isa_ = isa;
  conv.bias_ = bias.empty() ? std::vector<float>(s.out_channels, 0.0f) : bias;
  const int64_t cin = s.in_channels, cout = s.out_channels, k_n = s.kernel;
  for (int r = 0; r < s.stride; ++r) {
    const int taps = r < s.kernel ? (s.kernel - r + s.stride - 1) / s.stride : 0;
    conv.taps_.push_back(taps);
    if (taps == 0) {
      conv.phases_.emplace_back();
      continue;
    }
    const int64_t cols = static_cast<int64_t>(taps) * cin;
    std::vector<float> rows(static_cast<size_t>(cout * cols));
    for (int64_t o = 0; o < cout; ++o) {
      for (int j = 0; j < taps; ++j) {
        const int64_t k = r + static_cast<int64_t>(j) * s.stride;
        for (int64_t i = 0; i < cin; ++i) rows[o * cols + j * cin + i] = weight[(i * cout + o) * k_n + k];
      }
    }
    conv.phases_.push_back(Pack(rows, cout, cols, isa));
  }
  return conv;
}

int64_t ConvTranspose1d::OutputFrames(int64_t frames) const {
  if (frames <= 0) return 0;
  return std::max<int64_t>(0, (frames - 1) * spec_.stride - 2 * spec_.padding + spec_.kernel);
}

void ConvTranspose1d::Forward(const float* x, int64_t frames, float* y, WorkerTeam* team) const {
  const ConvTranspose1dSpec& s = spec_;
  const int64_t out_frames = OutputFrames(frames);
  const int64_t cin = s.in_channels, cout = s.out_channels, stride = s.stride;
  // Phase r's output frames are t = first[r] + u * stride, u < count[r].
  std::vector<int64_t> first(stride), count(stride), chunk_start(stride + 1, 0);
  for (int64_t r = 0; r < stride; ++r) {
    first[r] = (((r - s.padding) % stride) + stride) % stride;
    count[r] = first[r] < out_frames ? (out_frames - 1 - first[r]) / stride + 1 : 0;
    chunk_start[r + 1] = chunk_start[r] + Blocks(count[r]);
  }
  RunBlocks(chunk_start[stride], team, [&](int64_t chunk) {
    const int64_t r = std::upper_bound(chunk_start.begin(), chunk_start.end(), chunk) - chunk_start.begin() - 1;
    const int64_t u0 = (chunk - chunk_start[r]) * kBlockFrames;
    const int64_t m = std::min(kBlockFrames, count[r] - u0);
    const int64_t t0 = first[r] + u0 * stride;
    const int taps = taps_[r];
    if (taps == 0) {
      for (int64_t i = 0; i < m; ++i) std::memcpy(y + (t0 + i * stride) * cout, bias_.data(), sizeof(float) * cout);
      return;
    }
    const int64_t cols = static_cast<int64_t>(taps) * cin;
    float* a = Scratch(static_cast<size_t>(m * cols));
    for (int64_t i = 0; i < m; ++i) {
      const int64_t q = (t0 + i * stride + s.padding - r) / stride;
      for (int j = 0; j < taps; ++j) {
        const int64_t src = q - j;
        float* dst = a + i * cols + static_cast<int64_t>(j) * cin;
        if (src < 0 || src >= frames) {
          std::memset(dst, 0, sizeof(float) * cin);
        } else {
          std::memcpy(dst, x + src * cin, sizeof(float) * cin);
        }
      }
    }
    GemmPacked(phases_[r], cout, cols, a, m, cols, bias_.data(), y + t0 * cout, stride * cout, isa_);
  });
}

std::vector<float> ConvTranspose1d::Forward(const std::vector<float>& x, WorkerTeam* team) const {
  const int64_t frames = static_cast<int64_t>(x.size()) / spec_.in_channels;
  std::vector<float> y(static_cast<size_t>(OutputFrames(frames) * spec_.out_channels));
  Forward(x.data(), frames, y.data(), team);
  return y;
}

std::vector<float> WeightNorm(const std::vector<float>& g, const std::vector<float>& v) {
  std::vector<float> w(v.size());
  if (g.empty()) return w;
  const size_t per_row = v.size() / g.size();
  for (size_t o = 0; o < g.size(); ++o) {
    const float* row = v.data() + o * per_row;
    double sum = 0.0;
    for (size_t i = 0; i < per_row; ++i) sum += static_cast<double>(row[i]) * row[i];
    const double scale = sum > 0.0 ? g[o] / std::sqrt(sum) : 0.0;
    for (size_t i = 0; i < per_row; ++i) w[o * per_row + i] = static_cast<float>(row[i] * scale);
  }
  return w;
}

}  // namespace cadence::engine::nn
