// CausalAttention and FullAttention (engine/attention.h) against a direct double-precision statement
// of grouped-query attention: a prompt of several blocks after a cached prefix, one decoded token,
// and an encoder's unmasked window.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/attention.h"
#include "engine/parallel.h"

namespace cadence::engine {
namespace {

// out[t][h] = sum_p softmax_p(scale * q[t][h] . k[p][h / group]) v[p][h / group], p <= first + t.
// (causal = false: every token sees all positions of k.)
std::vector<float> Reference(const std::vector<float>& q, int n_tokens, int first_pos, const std::vector<float>& k,
                             const std::vector<float>& v, const AttentionShape& s, float scale, bool causal = true) {
  const int hd = s.head_dim, group = s.n_head / s.n_head_kv;
  std::vector<float> out(q.size());
  for (int t = 0; t < n_tokens; ++t) {
    for (int h = 0; h < s.n_head; ++h) {
      const int kvh = h / group;
      const int n = causal ? first_pos + t + 1 : static_cast<int>(k.size() / (s.n_head_kv * hd));
      const float* qh = q.data() + (static_cast<size_t>(t) * s.n_head + h) * hd;
      std::vector<double> w(n);
      double max_w = -INFINITY, sum = 0;
      for (int p = 0; p < n; ++p) {
        const float* kp = k.data() + (static_cast<size_t>(p) * s.n_head_kv + kvh) * hd;
        double d = 0;
        for (int i = 0; i < hd; ++i) d += static_cast<double>(qh[i]) * kp[i];
        w[p] = d * scale;
        max_w = std::max(max_w, w[p]);
      }
      for (double& x : w) sum += (x = std::exp(x - max_w));
      for (int i = 0; i < hd; ++i) {
        double o = 0;
        for (int p = 0; p < n; ++p) o += w[p] / sum * v[(static_cast<size_t>(p) * s.n_head_kv + kvh) * hd + i];
        out[(static_cast<size_t>(t) * s.n_head + h) * hd + i] = static_cast<float>(o);
      }
    }
  }
  return out;
}

// Normal random queries for n_tokens and keys and values for `positions` positions.
struct Qkv {
  std::vector<float> q, k, v;
};
Qkv RandomQkv(int n_tokens, int positions, const AttentionShape& s, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Qkv r;
  r.q.resize(static_cast<size_t>(n_tokens) * s.n_head * s.head_dim);
  r.k.resize(static_cast<size_t>(positions) * s.n_head_kv * s.head_dim);
  r.v.resize(r.k.size());
  for (auto* x : {&r.q, &r.k, &r.v})
    for (float& value : *x) value = normal(rng);
  return r;
}

// CausalAttention on random queries, keys and values, on both ISAs, with and without the team,
// against Reference. Returns the data for further checks.
Qkv ExpectCausalMatchesReference(const AttentionShape& shape, int first_pos, int n_tokens, float scale,
                                 std::mt19937& rng, WorkerTeam* team) {
  Qkv data = RandomQkv(n_tokens, first_pos + n_tokens, shape, rng);
  const auto& [q, k, v] = data;
  const std::vector<float> want = Reference(q, n_tokens, first_pos, k, v, shape, scale);
  for (const Isa isa : {Isa::kScalar, BestIsa()}) {
    for (WorkerTeam* t : {static_cast<WorkerTeam*>(nullptr), team}) {
      std::vector<float> got(q.size(), NAN);
      CausalAttention(q.data(), n_tokens, first_pos, k.data(), v.data(), shape, scale, got.data(), t, isa);
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], want[i], 2e-5f) << "heads " << shape.n_head << "/" << shape.n_head_kv << " dim "
                                            << shape.head_dim << " first_pos " << first_pos << " tokens " << n_tokens
                                            << " isa " << IsaName(isa) << (t ? " team" : "") << " at " << i;
        if (std::abs(got[i] - want[i]) > 2e-5f) return data;  // one report per case is enough
      }
    }
  }
  return data;
}

TEST(AttentionTest, GroupedCausalAttentionMatchesTheDirectSum) {
  const AttentionShape shape{6, 2, 16};  // groups of 3 query heads per key/value head
  std::mt19937 rng(5);
  WorkerTeam team(2);
  for (const auto& [first_pos, n_tokens] : {std::pair{5, 37}, std::pair{41, 1}, std::pair{0, 16}})
    ExpectCausalMatchesReference(shape, first_pos, n_tokens, 0.25f, rng, &team);
}

// Decode steps (up to kMaxDirectTokens query tokens, read straight from the cache): groups of 1-7
// query heads (pairs and a remainder), head sizes of 1-4 vectors of 8 and one that is no multiple
// of 8, caches that end inside a block of four keys, and contexts split into 1-4 chunks joined by
// their maxes and sums (with the team; without it, one chunk).
TEST(AttentionTest, DecodeStepsMatchTheDirectSum) {
  std::mt19937 rng(11);
  WorkerTeam team(2);
  for (const AttentionShape shape : {AttentionShape{14, 2, 64}, AttentionShape{5, 1, 40}, AttentionShape{6, 2, 24},
                                     AttentionShape{4, 4, 8}, AttentionShape{6, 1, 12}, AttentionShape{12, 2, 128}}) {
    for (const auto& [first_pos, n_tokens] : {std::pair{0, 1}, std::pair{130, 1}, std::pair{66, 3}, std::pair{7, 4},
                                            std::pair{600, 2}}) {
      const float scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
      const auto [q, k, v] = ExpectCausalMatchesReference(shape, first_pos, n_tokens, scale, rng, &team);
      // Cross-attention's shape: the first token's queries over the whole window.
      const int positions = first_pos + n_tokens;
      const std::vector<float> full = Reference(q, 1, 0, k, v, shape, scale, /*causal=*/false);
      for (const Isa isa : {Isa::kScalar, BestIsa()}) {
        std::vector<float> got(static_cast<size_t>(shape.n_head) * shape.head_dim, NAN);
        FullAttention(q.data(), 1, k.data(), v.data(), positions, shape, scale, got.data(), &team, isa);
        for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], full[i], 2e-5f) << "full, at " << i;
      }
    }
  }
}

// Whisper's encoder shape in small: no grouping, no mask, a window over several query blocks whose
// last block is partial.
TEST(AttentionTest, FullAttentionMatchesTheDirectSum) {
  std::mt19937 rng(8);
  WorkerTeam team(2);
  for (const AttentionShape shape : {AttentionShape{4, 4, 16}, AttentionShape{6, 2, 8}}) {
    const int n = 131;
    const auto [q, k, v] = RandomQkv(n, n, shape, rng);
    const float scale = 1.0f / std::sqrt(static_cast<float>(shape.head_dim));
    const std::vector<float> want = Reference(q, n, 0, k, v, shape, scale, /*causal=*/false);
    for (const Isa isa : {Isa::kScalar, BestIsa()}) {
      for (WorkerTeam* t : {static_cast<WorkerTeam*>(nullptr), &team}) {
        std::vector<float> got(q.size(), NAN);
        FullAttention(q.data(), n, k.data(), v.data(), n, shape, scale, got.data(), t, isa);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], 2e-5f) << "heads " << shape.n_head << "/" << shape.n_head_kv << " isa "
                                              << IsaName(isa) << " at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace cadence::engine
