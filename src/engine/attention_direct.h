// Attention for a few query tokens straight from the key/value rows (a decode step): no packing.
//
// engine/attention.h's GEMM path packs every head's keys and values into panels on each call,
// which pays off when many query tokens share them (a prompt, Whisper's encoder) but costs a
// decode step a copy of the whole cache per layer. Here each token's positions are split into
// chunks (at least 48 positions, up to two per thread), one job each, joined at the end by their
// maxes and sums as in flash-decoding: the split spreads even one key/value head over the team.
// A job reads its rows as one stream (every head of a row side by side): scores four rows at a
// time for two query heads per pass, then the weighted sum of the values in L1-sized blocks, two
// heads x 32 dimensions of accumulators in registers. Keys are prefetched into L1 and values into
// L2 while the scores run, since a decode step's weights have evicted the cache since the layer's
// last visit. Used by CausalAttention and FullAttention for up to kMaxDirectTokens query tokens.
#pragma once

#include <cstdint>

#include "engine/attention.h"
#include "engine/kernels.h"

namespace cadence::engine {

// Query tokens up to which attention reads the cache directly.
constexpr int kMaxDirectTokens = 4;

// q, k, v, out and shape as in CausalAttention; query token t sees key positions
// [0, keys_seen[t]). team may be null.
void DirectAttention(const float* q, int n_tokens, const int64_t* keys_seen, const float* k, const float* v,
                     const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa);

}  // namespace cadence::engine
