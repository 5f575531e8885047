#include "engine/nn/whisper_block.h"

#include <algorithm>
#include <cmath>

#include "engine/activation.h"
#include "engine/attention.h"
#include "engine/gemm.h"

namespace cadence::engine::nn {
namespace {

void AddInPlace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

void Linear(const WeightMatrix& w, const float* bias, const float* x, int64_t n, float* y, WorkerTeam* team, Isa isa) {
  if (n >= kGemmMinRows && isa != Isa::kScalar) {
    GemmFloat(w, x, n, w.cols, bias, y, w.rows, team, isa);
    return;
  }
  MatMulScratch scratch;
  MatMul(w, x, static_cast<int>(n), y, team, isa, &scratch);
  if (bias == nullptr) return;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < w.rows; ++r) y[t * w.rows + r] += bias[r];
}

void LayerNorm(const float* x, int64_t n, int64_t d, const float* g, const float* b, double eps, float* y,
               WorkerTeam* team) {
  ParallelRange(n > 64 ? team : nullptr, n, 64, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* xr = x + t * d;
      double mean = 0.0, var = 0.0;
      for (int64_t i = 0; i < d; ++i) mean += xr[i];
      mean /= d;
      for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= d;
      const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
      for (int64_t i = 0; i < d; ++i) y[t * d + i] = (xr[i] - static_cast<float>(mean)) * inv * g[i] + b[i];
    }
  });
}

void GeluParallel(float* x, int64_t n, WorkerTeam* team, Isa isa) {
  ParallelRange(n > 65536 ? team : nullptr, n, 65536, [&](int64_t i0, int64_t i1) { Gelu(x + i0, i1 - i0, isa); });
}

void WhisperBlockForward(const WhisperBlockWeights& w, int n_head, float* x, int rows, int n_keys,
                         WhisperBlockScratch* s, WorkerTeam* team, Isa isa) {
  const int64_t d = w.query.cols;
  const size_t nd = static_cast<size_t>(rows) * d;
  for (auto* buf : {&s->norm, &s->q, &s->k, &s->v, &s->att, &s->proj}) buf->resize(nd);
  s->hidden.resize(static_cast<size_t>(rows) * w.mlp0.rows);
  const int head_dim = static_cast<int>(d / n_head);
  const AttentionShape heads{n_head, n_head, head_dim};
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));  // hd^-0.25 on q and on k
  LayerNorm(x, rows, d, w.attn_ln_weight, w.attn_ln_bias, 1e-5, s->norm.data(), team);
  Linear(w.query, w.query_bias, s->norm.data(), rows, s->q.data(), team, isa);
  // Keys and values only of the rows attended to.
  Linear(w.key, nullptr, s->norm.data(), n_keys, s->k.data(), team, isa);
  Linear(w.value, w.value_bias, s->norm.data(), n_keys, s->v.data(), team, isa);
  FullAttention(s->q.data(), rows, s->k.data(), s->v.data(), n_keys, heads, scale, s->att.data(), team, isa);
  Linear(w.out, w.out_bias, s->att.data(), rows, s->proj.data(), team, isa);
  AddInPlace(x, s->proj.data(), static_cast<int64_t>(nd));
  LayerNorm(x, rows, d, w.mlp_ln_weight, w.mlp_ln_bias, 1e-5, s->norm.data(), team);
  Linear(w.mlp0, w.mlp0_bias, s->norm.data(), rows, s->hidden.data(), team, isa);
  GeluParallel(s->hidden.data(), static_cast<int64_t>(s->hidden.size()), team, isa);
  Linear(w.mlp2, w.mlp2_bias, s->hidden.data(), rows, s->proj.data(), team, isa);
  AddInPlace(x, s->proj.data(), static_cast<int64_t>(nd));
}

}  // namespace cadence::engine::nn
