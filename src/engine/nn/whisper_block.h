// Whisper's pre-norm encoder block, shared by Whisper's encoder (speech/asr/whisper/transformer.cc)
// and Step-Audio 2's audio encoder (engine/models/step_audio2_encoder.h), whose blocks are the same
// math (openai-whisper's ResidualAttentionBlock without cross-attention):
//
//   x += out(attention(query(ln1(x)), key(ln1(x)), value(ln1(x))))      (key has no bias)
//   x += mlp.2(gelu(mlp.0(ln2(x))))                                      (mlp.0: [4d, d])
//
// LayerNorm eps 1e-5 (mean and variance summed in double), exact erf GELU (engine::Gelu), attention
// per head with q and k each scaled by head_dim^-0.25 (one 1/sqrt(head_dim) on the scores), softmax
// over keys 0 .. n_keys - 1 (engine::FullAttention; n_keys < rows leaves the padding suffix out,
// exactly what adding -inf to those keys' logits does).
//
// Activations are f32, time-major [rows][d]. Weights are views (WeightMatrix: any stored type
// engine/gemm.h takes: F32, F16, BF16, quantized) and f32 vectors, all owned by the caller. From
// kGemmMinRows rows on a Linear runs on the f32 GEMM, below on the dot kernels (MatMul). Work is
// spread over `team` (may be null); calls sharing a team must be serialized by its owner.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/kernels.h"
#include "engine/parallel.h"

namespace cadence::engine::nn {

// y[t][r] = dot(w row r, x[t]) + bias[r] for t < n (bias may be null); y must not alias x.
void Linear(const WeightMatrix& w, const float* bias, const float* x, int64_t n, float* y, WorkerTeam* team, Isa isa);

// y[t] = (x[t] - mean) / sqrt(var + eps) * gamma + beta over each of n rows of d values (y may be x).
void LayerNorm(const float* x, int64_t n, int64_t d, const float* gamma, const float* beta, double eps, float* y,
               WorkerTeam* team);

// engine::Gelu over n values, in blocks spread over the team.
void GeluParallel(float* x, int64_t n, WorkerTeam* team, Isa isa);

struct WhisperBlockWeights {
  const float* attn_ln_weight = nullptr;  // [d]
  const float* attn_ln_bias = nullptr;
  WeightMatrix query, key, value, out;  // [d, d]
  const float* query_bias = nullptr;    // [d]
  const float* value_bias = nullptr;
  const float* out_bias = nullptr;
  const float* mlp_ln_weight = nullptr;  // [d]
  const float* mlp_ln_bias = nullptr;
  WeightMatrix mlp0;                // [hidden, d]
  const float* mlp0_bias = nullptr;  // [hidden]
  WeightMatrix mlp2;                // [d, hidden]
  const float* mlp2_bias = nullptr;  // [d]
};

// Buffers one block needs; reuse across blocks and calls to skip the allocations.
struct WhisperBlockScratch {
  std::vector<float> norm, q, k, v, att, proj, hidden;
};

// x: [rows][d] (d = w.query.cols), updated in place. Every row is a query; keys and values are rows
// 0 .. n_keys - 1 (1 <= n_keys <= rows).
void WhisperBlockForward(const WhisperBlockWeights& w, int n_head, float* x, int rows, int n_keys,
                         WhisperBlockScratch* scratch, WorkerTeam* team, Isa isa);

}  // namespace cadence::engine::nn
