#include "engine/attention.h"

#include <algorithm>
#include <vector>

#include "engine/gemm.h"
#include "engine/parallel.h"
#include "engine/softmax.h"

namespace cadence::engine {
namespace {

// Query tokens per block: a block's scores (block x group x positions floats) stay a few hundred
// KiB at long contexts, and a prompt still splits into enough blocks to keep every thread busy.
constexpr int kTokensPerBlock = 16;

}  // namespace

void CausalAttention(const float* q, int n_tokens, int first_pos, const float* k_cache, const float* v_cache,
                     const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa) {
  const int hd = shape.head_dim, group = shape.n_head / shape.n_head_kv;
  const int64_t q_stride = static_cast<int64_t>(shape.n_head) * hd;
  const int64_t kv_stride = static_cast<int64_t>(shape.n_head_kv) * hd;
  const int blocks = (n_tokens + kTokensPerBlock - 1) / kTokensPerBlock;
  auto job = [&](int64_t index) {
    const int kvh = static_cast<int>(index % shape.n_head_kv);
    const int t0 = static_cast<int>(index / shape.n_head_kv) * kTokensPerBlock;
    const int t1 = std::min(n_tokens, t0 + kTokensPerBlock);
    const int rows = (t1 - t0) * group;            // row r: token t0 + r / group, head kvh * group + r % group
    const int64_t n_keys = first_pos + t1;          // the block's last token sees them all
    thread_local std::vector<float> qg, scores, og;
    qg.resize(static_cast<size_t>(rows) * hd);
    scores.resize(static_cast<size_t>(rows) * n_keys);
    og.resize(static_cast<size_t>(rows) * hd);
    for (int r = 0; r < rows; ++r) {
      const float* src = q + (t0 + r / group) * q_stride + static_cast<int64_t>(kvh * group + r % group) * hd;
      for (int i = 0; i < hd; ++i) qg[static_cast<size_t>(r) * hd + i] = src[i] * scale;
    }
    const WeightMatrix keys{DType::kF32, n_keys, hd, reinterpret_cast<const uint8_t*>(k_cache + kvh * hd),
                            static_cast<size_t>(kv_stride) * sizeof(float)};
    GemmFloat(keys, qg.data(), rows, hd, nullptr, scores.data(), n_keys, nullptr, isa);
    for (int r = 0; r < rows; ++r) {
      float* s = scores.data() + static_cast<int64_t>(r) * n_keys;
      const int64_t visible = first_pos + t0 + r / group + 1;
      Softmax(s, visible, isa);
      std::fill(s + visible, s + n_keys, 0.0f);
    }
    GemmFloatColumnMajor(v_cache + kvh * hd, hd, n_keys, kv_stride, scores.data(), rows, n_keys, og.data(), hd, nullptr,
                         isa);
    for (int r = 0; r < rows; ++r) {
      float* dst = out + (t0 + r / group) * q_stride + static_cast<int64_t>(kvh * group + r % group) * hd;
      std::copy_n(og.data() + static_cast<size_t>(r) * hd, hd, dst);
    }
  };
  const int64_t jobs = static_cast<int64_t>(blocks) * shape.n_head_kv;
  if (team != nullptr) {
    team->ParallelFor(jobs, job);
  } else {
    for (int64_t j = 0; j < jobs; ++j) job(j);
  }
}

}  // namespace cadence::engine
