// Causal grouped-query attention over a key/value cache: the decoder's attention for a prompt
// (many query tokens) and for one generated token alike.
//
// For each key/value head, the group of query heads that share it (n_head / n_head_kv; 7 for
// Qwen2.5-0.5B) is computed together, in blocks of query tokens: the queries of a block and group
// are stacked into one matrix, scores = Q·Kᵀ and out = softmax(scores)·V are two GEMMs
// (engine/gemm.h) that read the cache's keys and values once per group and block instead of once
// per query head and token. Blocks and key/value heads spread over the team.
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

}  // namespace cadence::engine
