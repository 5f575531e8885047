// Grouped-query attention on the GEMM: the decoder's causal attention over a key/value cache (a
// prompt of many query tokens, or one generated token) and the unmasked attention of an encoder
// over a whole window (Whisper's: 1500 positions).
//
// For each key/value head, the group of query heads that share it (n_head / n_head_kv; 7 for
// Qwen2.5-0.5B, 1 for Whisper) is computed together, in blocks of query tokens: the queries of a
// block and group are stacked into one matrix, and scores = Q·Kᵀ and out = softmax(scores)·V are
// two GEMMs (engine/gemm.h). Each head's keys and values are packed into GEMM panels once per call
// and shared by every block, whose scores (block rows x positions) stay in the thread's cache.
// Packing, then blocks x key/value heads, spread over the team. Calls with at most
// kMaxDirectTokens query tokens (a decode step) skip the packing and read the rows directly
// (engine/attention_direct.h).
#pragma once

#include <cstdint>

#include "engine/kernels.h"

namespace cadence::engine {

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
};

// q: [n_tokens][n_head * head_dim] queries of positions first_pos .. first_pos + n_tokens - 1.
// k_cache, v_cache: [position][n_head_kv * head_dim], holding at least every position up to the
// last query's. Query token t attends to positions 0 .. first_pos + t, its scores scaled by
// `scale`. out: [n_tokens][n_head * head_dim]. team may be null.
void CausalAttention(const float* q, int n_tokens, int first_pos, const float* k_cache, const float* v_cache,
                     const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa);

// Every query token attends to all n_keys positions of k and v ([position][n_head_kv *
// head_dim]), no mask. q and out as above.
void FullAttention(const float* q, int n_tokens, const float* k, const float* v, int n_keys,
                   const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa);

}  // namespace cadence::engine
