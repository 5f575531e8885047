#include "engine/attention_direct.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/parallel.h"
#include "engine/simd_avx2.h"
#include "engine/softmax.h"

namespace cadence::engine {
namespace {

// Positions per chunk at least: below this a chunk's fork/join and merge cost more than its sums.
// 48 rather than 128 lets short contexts (a 0.5B decode at 64-320 positions) use both cores:
// decode at 76.7 against 74.3 % of the bandwidth bound (medians of nine alternating runs).
constexpr int64_t kMinChunkPositions = 48;
// Bytes of value rows the weighted sum keeps in L1 while every head tile passes over them.
constexpr int64_t kValueChunkBytes = 16384;
// How far ahead (in rows of every head) the scores prefetch the keys.
constexpr int64_t kPrefetchRows = 16;

// One job: a token's queries (pre-scaled, [n_head][hd]) against rows [0, n) of a chunk of the
// cache (rows `stride` floats apart, every key/value head side by side). scores [n_head][n] is
// scratch; out [n_head][hd] gets the sums weighted by e^(score - the head's max in the chunk).
struct Chunk {
  const float* q;
  const float* k;
  const float* v;
  int64_t stride;
  int64_t n;
  int n_kv;
  int group;
  int hd;
  float* scores;
  float* out;
};

void ScoresScalar(const Chunk& c) {
  for (int h = 0; h < c.n_kv * c.group; ++h) {
    const float* qh = c.q + static_cast<int64_t>(h) * c.hd;
    const float* kh = c.k + static_cast<int64_t>(h / c.group) * c.hd;
    for (int64_t p = 0; p < c.n; ++p) {
      float s = 0.0f;
      for (int i = 0; i < c.hd; ++i) s += qh[i] * kh[p * c.stride + i];
      c.scores[h * c.n + p] = s;
    }
  }
}

void WeightedValuesScalar(const Chunk& c) {
  const int n_head = c.n_kv * c.group;
  std::fill(c.out, c.out + static_cast<int64_t>(n_head) * c.hd, 0.0f);
  for (int64_t p = 0; p < c.n; ++p) {
    for (int h = 0; h < n_head; ++h) {
      const float w = c.scores[h * c.n + p];
      const float* vp = c.v + p * c.stride + static_cast<int64_t>(h / c.group) * c.hd;
      float* o = c.out + static_cast<int64_t>(h) * c.hd;
      for (int i = 0; i < c.hd; ++i) o[i] += w * vp[i];
    }
  }
}

// The four lanes' sums of a0..a3 (each an 8-lane partial dot) as one 4-lane vector.
CADENCE_AVX2 inline __m128 SumFour(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Scores of R (1 or 2) query heads q (rows hd apart) against the four key rows at k: head r's
// four scores go to s + r * s_stride.
template <int R>
CADENCE_AVX2 inline void ScoresFour(const float* k, int64_t stride, const float* q, int hd, float* s,
                                    int64_t s_stride) {
  __m256 acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int i = 0; i < hd; i += 8) {
    __m256 key[4];
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) key[c] = _mm256_loadu_ps(k + c * stride + i);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 qr = _mm256_loadu_ps(q + static_cast<int64_t>(r) * hd + i);
#pragma GCC unroll 4
      for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_fmadd_ps(key[c], qr, acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) _mm_storeu_ps(s + r * s_stride, SumFour(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

// Positions four at a time, every head of those four rows before the next (the rows of all heads
// are contiguous, so the cache is read as one stream).
CADENCE_AVX2 void ScoresAvx2(const Chunk& c) {
  const int row_floats = c.n_kv * c.hd;
  int64_t p = 0;
  for (; p + 4 <= c.n; p += 4) {
    // Keys ahead into L1; values into L2, where the weighted sum finds them (a chunk's values fit).
    if (p + kPrefetchRows + 4 <= c.n) {
      for (int i = 0; i < 4 * row_floats; i += 16) {
        _mm_prefetch(reinterpret_cast<const char*>(c.k + (p + kPrefetchRows) * c.stride + i), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c.v + (p + kPrefetchRows) * c.stride + i), _MM_HINT_T1);
      }
    }
    for (int kvh = 0; kvh < c.n_kv; ++kvh) {
      const float* k = c.k + p * c.stride + static_cast<int64_t>(kvh) * c.hd;
      const int h0 = kvh * c.group;
      int r = 0;
      for (; r + 2 <= c.group; r += 2)
        ScoresFour<2>(k, c.stride, c.q + static_cast<int64_t>(h0 + r) * c.hd, c.hd, c.scores + (h0 + r) * c.n + p, c.n);
      if (r < c.group)
        ScoresFour<1>(k, c.stride, c.q + static_cast<int64_t>(h0 + r) * c.hd, c.hd, c.scores + (h0 + r) * c.n + p, c.n);
    }
  }
  for (; p < c.n; ++p) {
    for (int h = 0; h < c.n_kv * c.group; ++h) {
      const float* kp = c.k + p * c.stride + static_cast<int64_t>(h / c.group) * c.hd;
      __m256 acc = _mm256_setzero_ps();
      for (int i = 0; i < c.hd; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(kp + i), _mm256_loadu_ps(c.q + static_cast<int64_t>(h) * c.hd + i), acc);
      c.scores[h * c.n + p] = avx2::HorizontalSum(acc);
    }
  }
}

// out[r][0 .. 8W) += sum over rows p < rows of s[r * s_stride + p] * v[p * stride + 0 .. 8W) for
// R heads (out rows hd apart), every accumulator in a register.
template <int R, int W>
CADENCE_AVX2 void WeightedValuesTile(const float* v, int64_t stride, int64_t rows, const float* s, int64_t s_stride,
                                     float* out, int hd) {
  __m256 acc[R][W];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w) acc[r][w] = _mm256_loadu_ps(out + static_cast<int64_t>(r) * hd + 8 * w);
  for (int64_t p = 0; p < rows; ++p) {
    __m256 val[W];
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w) val[w] = _mm256_loadu_ps(v + p * stride + 8 * w);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 weight = _mm256_broadcast_ss(s + r * s_stride + p);
#pragma GCC unroll 4
      for (int w = 0; w < W; ++w) acc[r][w] = _mm256_fmadd_ps(weight, val[w], acc[r][w]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int w = 0; w < W; ++w) _mm256_storeu_ps(out + static_cast<int64_t>(r) * hd + 8 * w, acc[r][w]);
}

// Query heads h0 + r .. h0 + r + R - 1 of key/value head kvh's group (h0 = kvh * group) over
// dimensions [i0, i0 + 8W) of rows p0 .. p0 + rows - 1.
template <int R, int W>
CADENCE_AVX2 inline void WeightedValuesHeads(const Chunk& c, int kvh, int r, int i0, int64_t p0, int64_t rows) {
  const int h = kvh * c.group + r;
  WeightedValuesTile<R, W>(c.v + p0 * c.stride + static_cast<int64_t>(kvh) * c.hd + i0, c.stride, rows,
                           c.scores + h * c.n + p0, c.n, c.out + static_cast<int64_t>(h) * c.hd + i0, c.hd);
}

// Two heads x 4 vectors: 8 accumulators, 4 values and a weight stay in AVX2's 16 registers.
template <int W>
CADENCE_AVX2 void WeightedValuesSlice(const Chunk& c, int kvh, int i0, int64_t p0, int64_t rows) {
  int r = 0;
  for (; r + 2 <= c.group; r += 2) WeightedValuesHeads<2, W>(c, kvh, r, i0, p0, rows);
  if (r < c.group) WeightedValuesHeads<1, W>(c, kvh, r, i0, p0, rows);
}

CADENCE_AVX2 void WeightedValuesAvx2(const Chunk& c) {
  std::fill(c.out, c.out + static_cast<int64_t>(c.n_kv) * c.group * c.hd, 0.0f);
  const int64_t row_bytes = static_cast<int64_t>(c.n_kv) * c.hd * static_cast<int64_t>(sizeof(float));
  const int64_t block = std::max<int64_t>(8, kValueChunkBytes / row_bytes);
  for (int64_t p0 = 0; p0 < c.n; p0 += block) {
    const int64_t rows = std::min(block, c.n - p0);
    for (int kvh = 0; kvh < c.n_kv; ++kvh) {
      for (int i0 = 0; i0 < c.hd; i0 += 32) {
        switch (std::min(4, (c.hd - i0) / 8)) {
          case 4: WeightedValuesSlice<4>(c, kvh, i0, p0, rows); break;
          case 3: WeightedValuesSlice<3>(c, kvh, i0, p0, rows); break;
          case 2: WeightedValuesSlice<2>(c, kvh, i0, p0, rows); break;
          default: WeightedValuesSlice<1>(c, kvh, i0, p0, rows); break;
        }
      }
    }
  }
}

// Where one job's chunk lies: token t's positions [p0, p0 + n).
struct ChunkPlace {
  int token;
  int64_t p0;
  int64_t n;
};

}  // namespace

void DirectAttention(const float* q, int n_tokens, const int64_t* keys_seen, const float* k, const float* v,
                     const AttentionShape& shape, float scale, float* out, WorkerTeam* team, Isa isa) {
  const int hd = shape.head_dim, n_kv = shape.n_head_kv, group = shape.n_head / n_kv;
  const int64_t q_stride = static_cast<int64_t>(shape.n_head) * hd;
  const int64_t kv_stride = static_cast<int64_t>(n_kv) * hd;
  const bool simd = isa != Isa::kScalar && hd % 8 == 0;
  // Each token's positions in up to two chunks per thread, so that one kv head or one long
  // context still spreads over the team; chunks are joined by their maxes and sums (as in
  // flash-decoding).
  const int threads = team != nullptr ? team->threads() : 1;
  std::vector<ChunkPlace> places;
  std::vector<int> first_chunk(static_cast<size_t>(n_tokens) + 1);
  for (int t = 0; t < n_tokens; ++t) {
    first_chunk[static_cast<size_t>(t)] = static_cast<int>(places.size());
    const int64_t n = keys_seen[t];
    const int64_t chunks =
        std::clamp<int64_t>((n + kMinChunkPositions - 1) / kMinChunkPositions, 1, 2 * static_cast<int64_t>(threads));
    const int64_t len = (n + chunks - 1) / chunks;
    if (n <= 0) places.push_back({t, 0, 0});  // no keys: the output is zero
    for (int64_t p0 = 0; p0 < n; p0 += len) places.push_back({t, p0, std::min(len, n - p0)});
  }
  first_chunk[static_cast<size_t>(n_tokens)] = static_cast<int>(places.size());
  // The calling thread's scratch (named through references: a lambda naming a thread_local
  // directly would reach the running worker's own instance).
  thread_local std::vector<float> caller_queries, caller_partials;
  thread_local std::vector<ShiftedExp> caller_stats;
  std::vector<float>& queries = caller_queries;
  std::vector<float>& partials = caller_partials;
  std::vector<ShiftedExp>& stats = caller_stats;
  queries.resize(static_cast<size_t>(n_tokens * q_stride));
  for (size_t i = 0; i < queries.size(); ++i) queries[i] = q[i] * scale;
  partials.resize(places.size() * static_cast<size_t>(q_stride));
  stats.resize(places.size() * static_cast<size_t>(shape.n_head));
  auto job = [&](int64_t index) {
    const ChunkPlace& place = places[static_cast<size_t>(index)];
    thread_local std::vector<float> scores;
    scores.resize(static_cast<size_t>(shape.n_head) * std::max<int64_t>(place.n, 1));
    const Chunk c{queries.data() + place.token * q_stride, k + place.p0 * kv_stride, v + place.p0 * kv_stride,
                  kv_stride, place.n, n_kv, group, hd, scores.data(), partials.data() + index * q_stride};
    if (simd) {
      ScoresAvx2(c);
    } else {
      ScoresScalar(c);
    }
    for (int h = 0; h < shape.n_head; ++h)
      stats[static_cast<size_t>(index * shape.n_head + h)] = ExpShifted(c.scores + h * c.n, c.n, isa);
    if (simd) {
      WeightedValuesAvx2(c);
    } else {
      WeightedValuesScalar(c);
    }
  };
  const int64_t jobs = static_cast<int64_t>(places.size());
  if (team != nullptr && jobs > 1) {
    team->ParallelFor(jobs, job);
  } else {
    for (int64_t i = 0; i < jobs; ++i) job(i);
  }
  // Join each head's chunks: out = sum_c e^(m_c - M) o_c / sum_c e^(m_c - M) l_c.
  for (int t = 0; t < n_tokens; ++t) {
    const int c0 = first_chunk[static_cast<size_t>(t)], c1 = first_chunk[static_cast<size_t>(t) + 1];
    for (int h = 0; h < shape.n_head; ++h) {
      float m = -INFINITY;
      for (int c = c0; c < c1; ++c) m = std::max(m, stats[static_cast<size_t>(c * shape.n_head + h)].max);
      float total = 0.0f;
      float* o = out + t * q_stride + static_cast<int64_t>(h) * hd;
      std::fill(o, o + hd, 0.0f);
      for (int c = c0; c < c1; ++c) {
        const ShiftedExp& s = stats[static_cast<size_t>(c * shape.n_head + h)];
        if (s.sum == 0.0f) continue;  // an empty chunk
        const float w = std::exp(s.max - m);
        total += w * s.sum;
        const float* part = partials.data() + static_cast<int64_t>(c) * q_stride + static_cast<int64_t>(h) * hd;
        for (int i = 0; i < hd; ++i) o[i] += w * part[i];
      }
      const float inv = total > 0.0f ? 1.0f / total : 0.0f;
      for (int i = 0; i < hd; ++i) o[i] *= inv;
    }
  }
}

}  // namespace cadence::engine
