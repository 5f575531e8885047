#include "engine/attention.h"

#include <algorithm>
#include <vector>

#include "engine/attention_direct.h"
#include "engine/gemm.h"
#include "engine/parallel.h"
#include "engine/softmax.h"

namespace cadence::engine {
namespace {

// Rows of scores (query tokens x group) a block aims at: 48 rows over 1500 positions are 288 KiB,
// inside a core's L2 with the panels they meet; 8 tiles of kGemmMr rows. A block has at least 16
// tokens, so a long causal prompt still splits into few blocks per head.
constexpr int kRowsPerBlock = 48;
constexpr int kMinTokensPerBlock = 16;

// Query token t (0-based in the call) sees keys [0, visible(t)).
template <typename Visible>
void Attend(const float* q, int n_tokens, const float* k, const float* v, int n_keys, const AttentionShape& shape,
            float scale, float* out, WorkerTeam* team, Isa isa, const Visible& visible) {
  if (n_tokens <= kMaxDirectTokens) {
    int64_t keys_seen[kMaxDirectTokens];
    for (int t = 0; t < n_tokens; ++t) keys_seen[t] = visible(t);
    DirectAttention(q, n_tokens, keys_seen, k, v, shape, scale, out, team, isa);
    return;
  }
  const int hd = shape.head_dim, group = shape.n_head / shape.n_head_kv, n_kv = shape.n_head_kv;
  const int64_t q_stride = static_cast<int64_t>(shape.n_head) * hd;
  const int64_t kv_stride = static_cast<int64_t>(n_kv) * hd;
  // Keys and values of every head packed once (the calling thread's buffers, reused across calls).
  // (Named through references: a lambda naming a thread_local directly would reach the running
  // worker's own instance.)
  thread_local std::vector<PackedMatrix> caller_keys, caller_values;
  std::vector<PackedMatrix>& keys = caller_keys;
  std::vector<PackedMatrix>& values = caller_values;
  keys.resize(n_kv);
  values.resize(n_kv);
  auto pack = [&](int64_t index) {
    const int h = static_cast<int>(index / 2);
    if (index % 2 == 0) {
      keys[h].PackRows({DType::kF32, n_keys, hd, reinterpret_cast<const uint8_t*>(k + h * hd),
                        static_cast<size_t>(kv_stride) * sizeof(float)},
                       nullptr, isa);
    } else {
      values[h].PackColumns(v + h * hd, hd, n_keys, kv_stride, nullptr);
    }
  };
  const int tokens_per_block = std::max(kMinTokensPerBlock, kRowsPerBlock / group);
  const int blocks = (n_tokens + tokens_per_block - 1) / tokens_per_block;
  auto job = [&](int64_t index) {
    const int kvh = static_cast<int>(index % n_kv);
    const int t0 = static_cast<int>(index / n_kv) * tokens_per_block;
    const int t1 = std::min(n_tokens, t0 + tokens_per_block);
    const int rows = (t1 - t0) * group;          // row r: token t0 + r / group, head kvh * group + r % group
    const int64_t block_keys = visible(t1 - 1);  // the block's last token sees the most
    thread_local std::vector<float> qg, scores, og;
    qg.resize(static_cast<size_t>(rows) * hd);
    scores.resize(static_cast<size_t>(rows) * block_keys);
    og.resize(static_cast<size_t>(rows) * hd);
    for (int r = 0; r < rows; ++r) {
      const float* src = q + (t0 + r / group) * q_stride + static_cast<int64_t>(kvh * group + r % group) * hd;
      for (int i = 0; i < hd; ++i) qg[static_cast<size_t>(r) * hd + i] = src[i] * scale;
    }
    GemmPacked(keys[kvh], block_keys, hd, qg.data(), rows, hd, nullptr, scores.data(), block_keys, isa);
    for (int r = 0; r < rows; ++r) {
      float* s = scores.data() + static_cast<int64_t>(r) * block_keys;
      const int64_t seen = visible(t0 + r / group);
      Softmax(s, seen, isa);
      std::fill(s + seen, s + block_keys, 0.0f);
    }
    GemmPacked(values[kvh], hd, block_keys, scores.data(), rows, block_keys, nullptr, og.data(), hd, isa);
    for (int r = 0; r < rows; ++r) {
      float* dst = out + (t0 + r / group) * q_stride + static_cast<int64_t>(kvh * group + r % group) * hd;
      std::copy_n(og.data() + static_cast<size_t>(r) * hd, hd, dst);
    }
  };
  const int64_t jobs = static_cast<int64_t>(blocks) * n_kv;
  if (team != nullptr) {
    team->ParallelFor(2 * n_kv, pack);
    team->ParallelFor(jobs, job);
  } else {
    for (int64_t j = 0; j < 2 * n_kv; ++j) pack(j);
    for (int64_t j = 0; j < jobs; ++j) job(j);
  }
}

}  // namespace

void CausalAttention(const float* q, int n_tokens, int first_pos, const float* k_cache, const float* v_cache,
                     const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa) {
  Attend(q, n_tokens, k_cache, v_cache, first_pos + n_tokens, shape, scale, out, team, isa,
         [first_pos](int t) { return static_cast<int64_t>(first_pos) + t + 1; });
}

void FullAttention(const float* q, int n_tokens, const float* k, const float* v, int n_keys,
                   const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa) {
  Attend(q, n_tokens, k, v, n_keys, shape, scale, out, team, isa, [n_keys](int) { return static_cast<int64_t>(n_keys); });
}

}  // namespace cadence::engine
