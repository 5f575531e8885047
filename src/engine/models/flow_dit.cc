#include "engine/models/flow_dit.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/attention.h"
#include "engine/gemm.h"

namespace cadence::engine {
namespace {

constexpr float kPlainNormEps = 1e-6f;   // norm1/2/3 and norm_final (no affine)
constexpr float kAffineNormEps = 1e-5f;  // q/k norms and the conv block's LayerNorm (PyTorch's default)
constexpr double kMaxPeriod = 10000.0;   // the sinusoids' longest period
constexpr float kTimeScale = 1000.0f;    // t in [0, 1] is embedded as t * 1000
constexpr int64_t kRowsPerJob = 16;

// fn(begin, end) over [0, n) in blocks of rows, spread over `team` (may be null).
template <typename Fn>
void ForRows(int64_t n, WorkerTeam* team, const Fn& fn) {
  const int64_t jobs = (n + kRowsPerJob - 1) / kRowsPerJob;
  auto job = [&](int64_t i) { fn(i * kRowsPerJob, std::min(n, (i + 1) * kRowsPerJob)); };
  if (team == nullptr || jobs <= 1) {
    for (int64_t i = 0; i < jobs; ++i) job(i);
  } else {
    team->ParallelFor(jobs, job);
  }
}

// y = (x - mean) / sqrt(var + eps) over n values, the biased variance as PyTorch's LayerNorm.
void Normalize(const float* x, int64_t n, float eps, float* y) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / static_cast<double>(n);
  double var = 0.0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float inv = static_cast<float>(1.0 / std::sqrt(var / static_cast<double>(n) + eps));
  const float m = static_cast<float>(mean);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) * inv;
}

void AffineNorm(float* x, int64_t n, const float* w, const float* b) {
  Normalize(x, n, kAffineNormEps, x);
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * w[i] + b[i];
}

float Silu(float x) { return x / (1.0f + std::exp(-x)); }

// nn.GELU(approximate="tanh"): 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = √(2/π) (x + 0.044715 x³).
// One exp instead of tanh: the MLP takes 16 x 2048 of them per frame and row, and std::tanh made
// them a sixth of an estimator call (measured 50-60 ms of 316 per call at the published width).
float GeluTanh(float x) {
  constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;
  return x / (1.0f + std::exp(-kTwoSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

// nn.Mish: x * tanh(softplus(x)). With e = exp(x), tanh(log(1 + e)) = (e² + 2e) / (e² + 2e + 2):
// one exp instead of exp, log1p and tanh. Past 20 the factor is 1 in float.
float Mish(float x) {
  if (x > 20.0f) return x;
  const float e = std::exp(x);
  const float p = e * (e + 2.0f);
  return x * p / (p + 2.0f);
}

}  // namespace

Status DitConfig::Validate() const {
  auto bad = [this](const std::string& what) { return Status::InvalidArgument("DiT config " + ToString() + ": " + what); };
  if (out_channels < 1 || hidden_size < 1 || depth < 1 || num_heads < 1 || head_dim < 1 || conv_kernel < 1) {
    return bad("every size must be positive");
  }
  if (in_channels != 4 * out_channels) {
    return bad("in_channels must be 4 x out_channels (x, mu, spks and cond are concatenated)");
  }
  if (mlp_hidden() < 1) return bad("mlp_ratio x hidden_size must be at least 1");
  if (frequency_embedding_size < 2 || frequency_embedding_size % 2 != 0) {
    return bad("frequency_embedding_size must be even and positive");
  }
  return Status::Ok();
}

std::string DitConfig::ToString() const {
  std::ostringstream s;
  s << "{in_channels " << in_channels << ", out_channels " << out_channels << ", hidden_size " << hidden_size
    << ", depth " << depth << ", num_heads " << num_heads << ", head_dim " << head_dim << ", mlp_ratio " << mlp_ratio
    << ", frequency_embedding_size " << frequency_embedding_size << ", conv_kernel " << conv_kernel << "}";
  return s.str();
}

void DitCache::Trim(int64_t first, int64_t last) {
  first = std::max<int64_t>(first, 0);
  last = std::max<int64_t>(last, 0);
  if (first + last >= frames_) return;
  std::vector<int64_t> kept(layout_.begin(), layout_.begin() + first);
  kept.insert(kept.end(), layout_.end() - last, layout_.end());
  std::vector<int64_t> rows = kept;  // stored rows to keep, in time order
  std::sort(rows.begin(), rows.end());
  std::vector<int64_t> moved(frames_, -1);
  for (size_t i = 0; i < rows.size(); ++i) moved[rows[i]] = static_cast<int64_t>(i);
  for (Block& block : blocks_) {
    for (auto* lists : {&block.keys, &block.values}) {
      for (std::vector<float>& data : *lists) {
        const int64_t width = static_cast<int64_t>(data.size()) / frames_;
        // rows[i] >= i: moving front to back never overwrites a row still to be read.
        for (size_t i = 0; i < rows.size(); ++i) {
          std::copy_n(data.begin() + rows[i] * width, width, data.begin() + static_cast<int64_t>(i) * width);
        }
        data.resize(rows.size() * width);
      }
    }
  }
  for (int64_t& row : kept) row = moved[row];
  layout_ = std::move(kept);
  frames_ = static_cast<int64_t>(rows.size());
}

int64_t DitCache::bytes() const {
  int64_t n = 0;
  for (const Block& block : blocks_) {
    for (const auto& rows : block.keys) n += static_cast<int64_t>(rows.size());
    for (const auto& rows : block.values) n += static_cast<int64_t>(rows.size());
  }
  return n * static_cast<int64_t>(sizeof(float));
}

Result<std::unique_ptr<Dit>> Dit::Load(const TorchCheckpoint& checkpoint, const DitConfig& config,
                                       const std::string& prefix, Isa isa) {
  CADENCE_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<Dit> dit(new Dit());
  dit->config_ = config;
  dit->isa_ = isa;
  const int64_t h = config.hidden_size, hd = config.head_dim, inner = config.inner(), mlp = config.mlp_hidden();
  auto floats = [&](const std::string& name, const std::vector<int64_t>& shape, std::vector<float>* out) -> Status {
    const std::string full = prefix + name;
    if (checkpoint.Find(full) == nullptr) {
      return Status::NotFound(checkpoint.path() + ": the DiT estimator's tensor " + full + " is missing (config " +
                              config.ToString() + ")");
    }
    auto values = checkpoint.Floats(full, shape);
    if (!values.ok()) return values.status();
    *out = std::move(values).value();
    return Status::Ok();
  };
  auto linear = [&](const std::string& name, int64_t rows, int64_t cols, Linear* l) -> Status {
    l->rows = rows;
    l->cols = cols;
    CADENCE_RETURN_IF_ERROR(floats(name + ".weight", {rows, cols}, &l->w));
    return floats(name + ".bias", {rows}, &l->b);
  };
  CADENCE_RETURN_IF_ERROR(linear("t_embedder.mlp.0", h, config.frequency_embedding_size, &dit->t_fc1_));
  CADENCE_RETURN_IF_ERROR(linear("t_embedder.mlp.2", h, h, &dit->t_fc2_));
  CADENCE_RETURN_IF_ERROR(linear("in_proj", h, config.in_channels, &dit->in_proj_));
  dit->blocks_.resize(config.depth);
  const nn::Conv1dSpec conv_spec{.in_channels = config.hidden_size,
                                 .out_channels = config.hidden_size,
                                 .kernel = config.conv_kernel};  // no padding: the caller supplies the history
  for (int i = 0; i < config.depth; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    Block& b = dit->blocks_[i];
    CADENCE_RETURN_IF_ERROR(linear(p + "attn.to_q", inner, h, &b.to_q));
    CADENCE_RETURN_IF_ERROR(linear(p + "attn.to_k", inner, h, &b.to_k));
    CADENCE_RETURN_IF_ERROR(linear(p + "attn.to_v", inner, h, &b.to_v));
    CADENCE_RETURN_IF_ERROR(floats(p + "attn.q_norm.weight", {hd}, &b.q_norm_w));
    CADENCE_RETURN_IF_ERROR(floats(p + "attn.q_norm.bias", {hd}, &b.q_norm_b));
    CADENCE_RETURN_IF_ERROR(floats(p + "attn.k_norm.weight", {hd}, &b.k_norm_w));
    CADENCE_RETURN_IF_ERROR(floats(p + "attn.k_norm.bias", {hd}, &b.k_norm_b));
    CADENCE_RETURN_IF_ERROR(linear(p + "attn.proj", h, inner, &b.proj));
    CADENCE_RETURN_IF_ERROR(linear(p + "mlp.fc1", mlp, h, &b.fc1));
    CADENCE_RETURN_IF_ERROR(linear(p + "mlp.fc2", h, mlp, &b.fc2));
    CADENCE_RETURN_IF_ERROR(linear(p + "adaLN_modulation.1", 9 * h, h, &b.ada));
    // conv.block: [1] CausalConv1d, [3] LayerNorm, [6] CausalConv1d (the rest hold no weights).
    for (int which : {1, 6}) {
      const std::string name = p + "conv.block." + std::to_string(which);
      std::vector<float> w, bias;
      CADENCE_RETURN_IF_ERROR(floats(name + ".weight", {h, h, config.conv_kernel}, &w));
      CADENCE_RETURN_IF_ERROR(floats(name + ".bias", {h}, &bias));
      auto conv = nn::Conv1d::Create(conv_spec, w, bias, isa, prefix + name);
      if (!conv.ok()) return conv.status();
      (which == 1 ? b.conv1 : b.conv2) = std::move(conv).value();
    }
    CADENCE_RETURN_IF_ERROR(floats(p + "conv.block.3.weight", {h}, &b.conv_norm_w));
    CADENCE_RETURN_IF_ERROR(floats(p + "conv.block.3.bias", {h}, &b.conv_norm_b));
  }
  CADENCE_RETURN_IF_ERROR(linear("final_layer.adaLN_modulation.1", 2 * h, h, &dit->final_ada_));
  CADENCE_RETURN_IF_ERROR(linear("final_layer.linear", config.out_channels, h, &dit->final_linear_));
  return dit;
}

void Dit::Apply(const Linear& l, const float* a, int64_t m, float* c, WorkerTeam* team) const {
  const WeightMatrix w{DType::kF32, l.rows, l.cols, reinterpret_cast<const uint8_t*>(l.w.data()),
                       static_cast<size_t>(l.cols) * sizeof(float)};
  GemmFloat(w, a, m, l.cols, l.b.data(), c, l.rows, team, isa_);
}

DitTimestep Dit::Timestep(float t, WorkerTeam* team) const {
  const DitConfig& cfg = config_;
  const int half = cfg.frequency_embedding_size / 2;
  const int64_t h = cfg.hidden_size;
  // As PyTorch computes it in float: rate_i = exp(-ln(max_period) * i / half), angle = t * 1000 * rate_i.
  std::vector<float> freq(cfg.frequency_embedding_size);
  const float scaled = t * kTimeScale;
  const float neg_log = static_cast<float>(-std::log(kMaxPeriod));
  for (int i = 0; i < half; ++i) {
    const float rate = std::exp(neg_log * static_cast<float>(i) / static_cast<float>(half));
    const float angle = scaled * rate;
    freq[i] = std::cos(angle);
    freq[half + i] = std::sin(angle);
  }
  std::vector<float> hidden(h), c(h);
  Apply(t_fc1_, freq.data(), 1, hidden.data(), team);
  for (float& v : hidden) v = Silu(v);
  Apply(t_fc2_, hidden.data(), 1, c.data(), team);
  for (float& v : c) v = Silu(v);  // every adaLN_modulation starts with SiLU
  DitTimestep out;
  out.t = t;
  out.modulation.resize(cfg.modulation_size());
  for (int i = 0; i < cfg.depth; ++i) {
    Apply(blocks_[i].ada, c.data(), 1, out.modulation.data() + i * 9 * h, team);
  }
  Apply(final_ada_, c.data(), 1, out.modulation.data() + static_cast<int64_t>(cfg.depth) * 9 * h, team);
  return out;
}

Status Dit::Check(const DitInputs& in) const {
  if (in.batch < 1 || in.frames < 1) return Status::InvalidArgument("DiT: empty batch or chunk");
  if (in.x == nullptr || in.mu == nullptr || in.timesteps == nullptr) {
    return Status::InvalidArgument("DiT: x, mu and timesteps are required");
  }
  for (int b = 0; b < in.batch; ++b) {
    const DitTimestep* ts = in.timesteps[b];
    if (ts == nullptr || static_cast<int64_t>(ts->modulation.size()) != config_.modulation_size()) {
      return Status::InvalidArgument("DiT: timestep of sequence " + std::to_string(b) +
                                     " is missing or was made by another config (use Dit::Timestep)");
    }
    if (in.valid_frames != nullptr && (in.valid_frames[b] < 1 || in.valid_frames[b] > in.frames)) {
      return Status::InvalidArgument("DiT: valid_frames of sequence " + std::to_string(b) + " is " +
                                     std::to_string(in.valid_frames[b]) + ", outside [1, " +
                                     std::to_string(in.frames) + "]");
    }
  }
  return Status::Ok();
}

Status Dit::Forward(const DitInputs& in, float* out, WorkerTeam* team) const { return Run(in, nullptr, out, team); }

Status Dit::ForwardChunk(const DitInputs& in, DitCache* cache, float* out, WorkerTeam* team) const {
  if (in.valid_frames != nullptr) {
    return Status::InvalidArgument("DiT: a chunk is unmasked (valid_frames is for Forward)");
  }
  if (cache->blocks_.empty()) {
    const int64_t width = static_cast<int64_t>(in.batch) * (config_.conv_kernel - 1) * config_.hidden_size;
    cache->batch_ = in.batch;
    cache->frames_ = 0;
    cache->layout_.clear();
    cache->blocks_.resize(config_.depth);
    for (DitCache::Block& block : cache->blocks_) {
      block.conv1.assign(width, 0.0f);
      block.conv2.assign(width, 0.0f);
      block.keys.assign(in.batch, {});
      block.values.assign(in.batch, {});
    }
  } else if (cache->batch_ != in.batch || static_cast<int>(cache->blocks_.size()) != config_.depth) {
    return Status::InvalidArgument("DiT: the cache holds " + std::to_string(cache->batch_) +
                                   " sequences, the chunk " + std::to_string(in.batch));
  }
  return Run(in, cache, out, team);
}

Status Dit::Run(const DitInputs& in, DitCache* cache, float* out, WorkerTeam* team) const {
  CADENCE_RETURN_IF_ERROR(Check(in));
  const DitConfig& cfg = config_;
  const int batch = in.batch;
  const int64_t frames = in.frames, rows = batch * frames;
  const int64_t h = cfg.hidden_size, mel = cfg.out_channels, inner = cfg.inner(), mlp = cfg.mlp_hidden();
  const int64_t hd = cfg.head_dim, history = cfg.conv_kernel - 1;

  // Input rows: x | mu | spks | cond.
  std::vector<float> packed(rows * cfg.in_channels);
  for (int b = 0; b < batch; ++b) {
    for (int64_t f = 0; f < frames; ++f) {
      const int64_t r = b * frames + f;
      float* dst = packed.data() + r * cfg.in_channels;
      std::copy_n(in.x + r * mel, mel, dst);
      std::copy_n(in.mu + r * mel, mel, dst + mel);
      if (in.spks != nullptr) std::copy_n(in.spks + b * mel, mel, dst + 2 * mel);
      else std::fill_n(dst + 2 * mel, mel, 0.0f);
      if (in.cond != nullptr) std::copy_n(in.cond + r * mel, mel, dst + 3 * mel);
      else std::fill_n(dst + 3 * mel, mel, 0.0f);
    }
  }
  std::vector<float> x(rows * h), n(rows * h), y(rows * h), q(rows * inner), k(rows * inner), v(rows * inner),
      att(rows * inner), wide(rows * mlp), conv_in((history + frames) * h);
  Apply(in_proj_, packed.data(), rows, x.data(), team);

  // Chunk `chunk` of block `block`'s modulation for sequence b (block == depth: the final layer's).
  auto modulation = [&](int b, int block, int chunk) {
    return in.timesteps[b]->modulation.data() + (static_cast<int64_t>(block) * 9 + chunk) * h;
  };
  // n = LN(x) * (1 + scale) + shift.
  auto modulate = [&](int block, int shift_chunk, int scale_chunk) {
    ForRows(rows, team, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int b = static_cast<int>(r / frames);
        const float* shift = modulation(b, block, shift_chunk);
        const float* scale = modulation(b, block, scale_chunk);
        float* row = n.data() + r * h;
        Normalize(x.data() + r * h, h, kPlainNormEps, row);
        for (int64_t c = 0; c < h; ++c) row[c] = row[c] * (1.0f + scale[c]) + shift[c];
      }
    });
  };
  // x += gate * branch.
  auto gated_add = [&](int block, int gate_chunk, const float* branch) {
    ForRows(rows, team, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* gate = modulation(static_cast<int>(r / frames), block, gate_chunk);
        float* row = x.data() + r * h;
        const float* add = branch + r * h;
        for (int64_t c = 0; c < h; ++c) row[c] += gate[c] * add[c];
      }
    });
  };
  // dst = causal conv of src (both [batch][frames][h]), continuing each sequence from `state`'s
  // last `history` input frames ([batch][history][h]; zeros at a start) and leaving the new ones.
  auto causal_conv = [&](const nn::Conv1d& conv, const float* src, float* dst, std::vector<float>* state) {
    for (int b = 0; b < batch; ++b) {
      float* prev = state != nullptr ? state->data() + b * history * h : nullptr;
      if (prev != nullptr) std::copy_n(prev, history * h, conv_in.data());
      else std::fill_n(conv_in.data(), history * h, 0.0f);
      std::copy_n(src + b * frames * h, frames * h, conv_in.data() + history * h);
      conv.Forward(conv_in.data(), history + frames, dst + b * frames * h, team);
      if (prev != nullptr) std::copy_n(conv_in.data() + frames * h, history * h, prev);
    }
  };

  const AttentionShape shape{cfg.num_heads, cfg.num_heads, cfg.head_dim};
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int i = 0; i < cfg.depth; ++i) {
    const Block& w = blocks_[i];
    DitCache::Block* state = cache != nullptr ? &cache->blocks_[i] : nullptr;

    modulate(i, 0, 1);
    Apply(w.to_q, n.data(), rows, q.data(), team);
    Apply(w.to_k, n.data(), rows, k.data(), team);
    Apply(w.to_v, n.data(), rows, v.data(), team);
    ForRows(rows, team, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        for (int head = 0; head < cfg.num_heads; ++head) {
          AffineNorm(q.data() + r * inner + head * hd, hd, w.q_norm_w.data(), w.q_norm_b.data());
          AffineNorm(k.data() + r * inner + head * hd, hd, w.k_norm_w.data(), w.k_norm_b.data());
        }
      }
    });
    for (int b = 0; b < batch; ++b) {
      const float* keys = k.data() + b * frames * inner;
      const float* values = v.data() + b * frames * inner;
      int64_t n_keys = in.valid_frames != nullptr ? in.valid_frames[b] : frames;
      if (state != nullptr) {
        std::vector<float>& ck = state->keys[b];
        std::vector<float>& cv = state->values[b];
        ck.insert(ck.end(), keys, keys + frames * inner);
        cv.insert(cv.end(), values, values + frames * inner);
        keys = ck.data();
        values = cv.data();
        n_keys = static_cast<int64_t>(ck.size()) / inner;
      }
      FullAttention(q.data() + b * frames * inner, static_cast<int>(frames), keys, values, static_cast<int>(n_keys),
                    shape, scale, att.data() + b * frames * inner, team, isa_);
    }
    Apply(w.proj, att.data(), rows, y.data(), team);
    gated_add(i, 2, y.data());

    modulate(i, 6, 7);
    causal_conv(w.conv1, n.data(), y.data(), state != nullptr ? &state->conv1 : nullptr);
    ForRows(rows, team, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = y.data() + r * h;
        AffineNorm(row, h, w.conv_norm_w.data(), w.conv_norm_b.data());
        for (int64_t c = 0; c < h; ++c) row[c] = Mish(row[c]);
      }
    });
    causal_conv(w.conv2, y.data(), n.data(), state != nullptr ? &state->conv2 : nullptr);
    gated_add(i, 8, n.data());

    modulate(i, 3, 4);
    Apply(w.fc1, n.data(), rows, wide.data(), team);
    ForRows(rows, team, [&](int64_t r0, int64_t r1) {
      for (float* p = wide.data() + r0 * mlp; p != wide.data() + r1 * mlp; ++p) *p = GeluTanh(*p);
    });
    Apply(w.fc2, wide.data(), rows, y.data(), team);
    gated_add(i, 5, y.data());
  }
  modulate(cfg.depth, 0, 1);
  Apply(final_linear_, n.data(), rows, out, team);
  if (cache != nullptr) {
    // The chunk's rows go in front of the published layout.
    std::vector<int64_t> layout(frames);
    for (int64_t f = 0; f < frames; ++f) layout[f] = cache->frames_ + f;
    cache->layout_.insert(cache->layout_.begin(), layout.begin(), layout.end());
    cache->frames_ += frames;
  }
  return Status::Ok();
}

}  // namespace cadence::engine
