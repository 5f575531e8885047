#include "engine/gemm.h"
#include "engine/kernels.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/parallel.h"
#include "kernels_test_util.h"

namespace cadence::engine {
namespace {

const DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ5_0,
                        DType::kQ5_0R, DType::kQ5_1, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K};

TEST(KernelsTest, Q5_0RHoldsQ5_0sValuesAndDots) {
  // The load-time layout against ggml's Q5_0 it was made from: the same values, and every
  // kernel's dot (scalar, SIMD, several tokens) within float rounding of Q5_0's scalar dot, for
  // every mix of groups of eight, the group of four and plain blocks (the 0.5B's 896 columns are
  // 3 x 8 + 4 blocks).
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t blocks : {3, 4, 7, 8, 28, 35}) {
    const int64_t n = 32 * blocks;
    const std::vector<uint8_t> q5 = RandomWeights(DType::kQ5_0, 1, n, rng);
    std::vector<uint8_t> packed(q5.size());
    RepackQ5_0Row(q5.data(), packed.data(), blocks);
    std::vector<float> want(n), got(n);
    DequantizeRow(DType::kQ5_0, q5.data(), want.data(), n);
    DequantizeRow(DType::kQ5_0R, packed.data(), got.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], want[i]) << "blocks " << blocks << " value " << i;
    std::vector<float> x(n * kDotTokens);
    for (auto& v : x) v = normal(rng);
    const Quantized xq(x.data(), n, kDotTokens);
    for (int t = 0; t < kDotTokens; ++t) {
      const float ref = GetDotKernel(DType::kQ5_0, Isa::kScalar)(q5.data(), nullptr, xq.Row(t), n);
      for (Isa isa : {Isa::kScalar, Isa::kAvx2}) {
        if (!IsaSupported(isa)) continue;
        const float dot = GetDotKernel(DType::kQ5_0R, isa)(packed.data(), nullptr, xq.Row(t), n);
        EXPECT_NEAR(dot, ref, 1e-5f * (1 + std::fabs(ref))) << IsaName(isa) << " blocks " << blocks << " t " << t;
      }
    }
    // The GEMM widens both layouts to the same panels: equal products.
    for (Isa isa : {Isa::kScalar, Isa::kAvx2}) {
      if (!IsaSupported(isa)) continue;
      std::vector<float> c_q5(kDotTokens), c_r(kDotTokens);
      GemmFloat(WeightMatrix{DType::kQ5_0, 1, n, q5.data(), q5.size()}, x.data(), kDotTokens, n, nullptr, c_q5.data(), 1,
                nullptr, isa);
      GemmFloat(WeightMatrix{DType::kQ5_0R, 1, n, packed.data(), packed.size()}, x.data(), kDotTokens, n, nullptr,
                c_r.data(), 1, nullptr, isa);
      EXPECT_EQ(c_r, c_q5) << IsaName(isa) << " blocks " << blocks;
    }
    if (!IsaSupported(Isa::kAvx2)) continue;
    for (int n_tok = 1; n_tok <= kDotTokens; ++n_tok) {
      std::vector<float> y(kDotTokens);
      GetDotTokensKernel(DType::kQ5_0R, Isa::kAvx2)(packed.data(), xq.Row(), n, n_tok, n, y.data(), 1);
      for (int t = 0; t < n_tok; ++t)
        EXPECT_EQ(y[t], GetDotKernel(DType::kQ5_0R, Isa::kAvx2)(packed.data(), nullptr, xq.Row(t), n))
            << "blocks " << blocks << " n_tok " << n_tok << " t " << t;
    }
  }
}

TEST(KernelsTest, ScalarDotMatchesDequantizedReference) {
  // The scalar kernel against an independent path: dequantize the row, dot with the
  // dequantized Q8 activations in double.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t n = 512;
  // Also activations all of one magnitude (every quant at +-127): the integer sums' worst case.
  for (bool extreme : {false, true}) {
    for (DType type : kTypes) {
      auto w = RandomWeights(type, 1, n, rng);
      std::vector<float> x(n), wf(n);
      for (auto& v : x) v = extreme ? (normal(rng) < 0 ? -3.0f : 3.0f) : normal(rng);
      const Quantized xq(x.data(), n);
      DequantizeRow(type, w.data(), wf.data(), n);
      double ref = 0;
      for (int64_t i = 0; i < n; ++i) ref += static_cast<double>(wf[i]) * (IsQuantized(type) ? xq.Value(type, i) : x[i]);
      const float got = GetDotKernel(type, Isa::kScalar)(w.data(), x.data(), xq.Row(), n);
      EXPECT_NEAR(got, ref, 1e-4 * (1 + std::fabs(ref))) << DTypeName(type) << (extreme ? " extreme" : "");
      if (extreme && IsaSupported(Isa::kAvx2)) {
        const float simd = ResolveDotKernel(type, BestIsa())(w.data(), x.data(), xq.Row(), n);
        EXPECT_NEAR(simd, ref, 1e-4 * (1 + std::fabs(ref))) << DTypeName(type) << " extreme " << IsaName(BestIsa());
      }
    }
  }
}

TEST(KernelsTest, EverySimdKernelMatchesScalar) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checked = 0;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) {
      std::printf("note: CPU lacks %s; its kernels are not checked here\n", std::string(IsaName(isa)).c_str());
      continue;
    }
    for (DType type : kTypes) {
      DotFn simd = GetDotKernel(type, isa);
      if (!simd) continue;
      for (int64_t n : {256, 512, 1024 + 256}) {
        auto w = RandomWeights(type, 1, n, rng);
        std::vector<float> x(n);
        for (auto& v : x) v = normal(rng);
        const Quantized xq(x.data(), n);
        const float ref = GetDotKernel(type, Isa::kScalar)(w.data(), x.data(), xq.Row(), n);
        const float got = simd(w.data(), x.data(), xq.Row(), n);
        EXPECT_NEAR(got, ref, 1e-4f * (1 + std::fabs(ref))) << IsaName(isa) << " " << DTypeName(type) << " n=" << n;
        ++checked;
      }
    }
  }
  if (IsaSupported(Isa::kAvx2)) {
    EXPECT_GE(checked, 21);
  }
}

TEST(KernelsTest, MultiThreadedMatMulMatchesSingleThreadedScalar) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WorkerTeam team(3);
  const int64_t rows = 75, cols = 512;
  const int tokens = 5;
  for (DType type : kTypes) {
    auto data = RandomWeights(type, rows, cols, rng);
    WeightMatrix w{type, rows, cols, data.data(), RowBytes(type, cols)};
    std::vector<float> x(cols * tokens);
    for (auto& v : x) v = normal(rng);
    std::vector<float> ref(rows * tokens), got(rows * tokens);
    MatMulScratch s1, s2;
    MatMul(w, x.data(), tokens, ref.data(), nullptr, Isa::kScalar, &s1);
    MatMul(w, x.data(), tokens, got.data(), &team, BestIsa(), &s2);
    for (size_t i = 0; i < ref.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], 1e-4f * (1 + std::fabs(ref[i]))) << DTypeName(type) << " at " << i;
  }
}

TEST(KernelsTest, MultiTokenKernelsEqualOneTokenKernels) {
  // The prompt path's several-token kernels against the scalar one-token kernel, token by token,
  // for every token count and with a token stride that is not the row length.
  std::mt19937 rng(11);
  int checked = 0;
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    for (DType type : kTypes) {
      DotTokensFn many = GetDotTokensKernel(type, isa);
      if (!many) continue;
      checked += CheckTokensKernel(type, many, GetDotKernel(type, isa), 512, rng,
                                   std::string(IsaName(isa)) + " " + std::string(DTypeName(type)));
    }
  }
  if (IsaSupported(Isa::kAvx2)) {
    EXPECT_GE(checked, 4 * 10);
  }
}

TEST(KernelsTest, RowsKernelsEqualOneTokenKernels) {
  // The mat-vec's loop over rows in one call against the one-token kernel, row by row.
  if (!IsaSupported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(19);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checked = 0;
  for (DType type : kTypes) {
    const DotRowsFn rows_kernel = ResolveDotRowsKernel(type, Isa::kAvx2);
    if (!rows_kernel) continue;
    const int64_t rows = 5, n = 1024 + 128;  // Q8K kernels read whole super-blocks: 1280 for them
    const int64_t cols = ReadsQ8K(type) ? 1280 : n;
    const auto w = RandomWeights(type, rows, cols, rng);
    std::vector<float> x(cols);
    for (auto& v : x) v = normal(rng);
    const Quantized xq(x.data(), cols);
    std::vector<float> y(rows + 1, -1.0f);
    rows_kernel(w.data(), RowBytes(type, cols), rows, xq.Row(), cols, y.data());
    for (int64_t r = 0; r < rows; ++r)
      EXPECT_EQ(y[r], GetDotKernel(type, Isa::kAvx2)(w.data() + r * RowBytes(type, cols), nullptr, xq.Row(), cols))
          << DTypeName(type) << " row " << r;
    EXPECT_EQ(y[rows], -1.0f) << DTypeName(type) << " wrote past the last row";
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

TEST(KernelsTest, SimdQuantizerEqualsScalar) {
  // Includes exact halves (x.5 after scaling), zeros, a zero block and large magnitudes, where
  // round-half-away-from-zero and clamping differ from the SIMD defaults.
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const int64_t n = 32 * 40;
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i - 16) * 0.5f;
  for (int i = 32; i < 64; ++i) x[i] = 0.0f;
  for (int i = 64; i < 96; ++i) x[i] = (i % 2 ? 1 : -1) * 127.0f * static_cast<float>(i - 63) / 32.0f;
  for (int i = 96; i < 128; ++i) x[i] = 1e30f * static_cast<float>(i - 112);
  for (int i = 128; i < 160; ++i) x[i] = static_cast<float>(i - 128) - 15.5f;  // d = 1 (127 below): exact ties
  x[159] = 127.0f;
  std::vector<Q8Block> ref(n / 32);
  QuantizeRowQ8(x.data(), ref.data(), n);
  std::vector<Q8KBlock> ref_k(n / 256);
  QuantizeRowQ8K(x.data(), ref_k.data(), n);
  for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
    if (!IsaSupported(isa)) continue;
    std::vector<Q8Block> got(n / 32);
    GetQuantizeKernel(isa)(x.data(), got.data(), n);
    for (size_t k = 0; k < ref.size(); ++k) {
      ASSERT_EQ(got[k].d, ref[k].d) << IsaName(isa) << " block " << k;
      ASSERT_EQ(got[k].sum, ref[k].sum) << IsaName(isa) << " block " << k;
      for (int i = 0; i < 32; ++i) ASSERT_EQ(got[k].q[i], ref[k].q[i]) << IsaName(isa) << " block " << k << " i " << i;
    }
    // The K-quants' 256-value blocks from the same input.
    std::vector<Q8KBlock> got_k(n / 256);
    GetQuantizeKKernel(isa)(x.data(), got_k.data(), n);
    for (size_t k = 0; k < ref_k.size(); ++k) {
      ASSERT_EQ(got_k[k].d, ref_k[k].d) << IsaName(isa) << " Q8K block " << k;
      ASSERT_EQ(std::memcmp(got_k[k].q, ref_k[k].q, 256), 0) << IsaName(isa) << " Q8K block " << k;
      ASSERT_EQ(std::memcmp(got_k[k].bsums, ref_k[k].bsums, sizeof ref_k[k].bsums), 0) << IsaName(isa) << " Q8K block " << k;
    }
  }
  // The 16-value sums are the sums of the quants.
  for (const Q8KBlock& b : ref_k) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b.q[g * 16 + i];
      ASSERT_EQ(b.bsums[g], sum) << "group " << g;
    }
  }
}

TEST(KernelsTest, FusedMatMulManyEqualsSeparateMatMuls) {
  // q/k/v-style fusion: matrices of different types and row counts over one input, several
  // tokens (the blocked path), one token (the mat-vec path), a prompt long enough that the float
  // matrices go to the GEMM and one long enough that all do (every quantized type's AVX2
  // dequantization into the panels), on a team, against each matrix alone on the scalar reference.
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WorkerTeam team(2);
  const int64_t cols = 512;
  const DType types[] = {DType::kQ8_0, DType::kQ4_K, DType::kF16,  DType::kBF16, DType::kQ5_0,
                         DType::kQ6_K, DType::kQ4_0, DType::kQ5_1, DType::kQ5_0R};
  const int64_t rows[] = {70, 33, 17, 21, 19, 9, 11, 23, 13};
  constexpr int kTargets = 9;
  std::vector<std::vector<uint8_t>> data;
  std::vector<WeightMatrix> ws;
  for (int i = 0; i < kTargets; ++i) {
    data.push_back(RandomWeights(types[i], rows[i], cols, rng));
    ws.push_back(WeightMatrix{types[i], rows[i], cols, data.back().data(), RowBytes(types[i], cols)});
  }
  for (int tokens : {1, 6, 40, kGemmQuantizedMinRows}) {
    std::vector<float> x(cols * tokens);
    for (auto& v : x) v = normal(rng);
    std::vector<std::vector<float>> fused(kTargets), separate(kTargets);
    std::vector<MatMulTarget> targets;
    for (int i = 0; i < kTargets; ++i) {
      fused[i].assign(rows[i] * tokens, 0.0f);
      separate[i].assign(rows[i] * tokens, 0.0f);
      targets.push_back({&ws[i], fused[i].data()});
    }
    MatMulScratch s1, s2;
    MatMulMany(targets, x.data(), tokens, &team, BestIsa(), &s1);
    for (int i = 0; i < kTargets; ++i) MatMul(ws[i], x.data(), tokens, separate[i].data(), nullptr, Isa::kScalar, &s2);
    for (int i = 0; i < kTargets; ++i)
      for (size_t j = 0; j < fused[i].size(); ++j)
        ASSERT_NEAR(fused[i][j], separate[i][j], 1e-4f * (1 + std::fabs(separate[i][j])))
            << DTypeName(types[i]) << " tokens=" << tokens << " at " << j;
  }
}

TEST(WorkerTeamTest, EveryChunkRunsOnceAcrossSpinAndSleep) {
  // Back-to-back loops (the spinning hand-over) and loops after the workers fell asleep (the
  // condition-variable path) must each run every chunk exactly once.
  WorkerTeam team(3);
  std::vector<std::atomic<int>> hits(1000);
  for (int round = 0; round < 200; ++round) {
    if (round % 50 == 49) std::this_thread::sleep_for(std::chrono::microseconds(3 * WorkerTeam::kSpinMicros));
    const int64_t chunks = 1 + (round * 37) % 1000;
    for (auto& h : hits) h.store(0);
    team.ParallelFor(chunks, [&](int64_t c) { hits[static_cast<size_t>(c)].fetch_add(1); });
    for (int64_t c = 0; c < 1000; ++c) ASSERT_EQ(hits[static_cast<size_t>(c)].load(), c < chunks ? 1 : 0) << round;
  }
}

TEST(WorkerTeamTest, EachThreadRunsItsRangeInOrderAndIdleThreadsSteal) {
  // Two threads, 100 chunks: the caller owns [0, 50), the worker [50, 100). The worker's first
  // chunk holds on until the caller has stolen one (or 2 s pass, which fails below), so the caller
  // must finish its own range in order, front to back, and then take chunks from the back of the
  // worker's.
  WorkerTeam team(2);
  const std::thread::id caller = std::this_thread::get_id();
  for (int round = 0; round < 3; ++round) {
    std::mutex mu;
    std::vector<int64_t> by_caller;
    std::atomic<bool> held{false}, stolen{false};
    std::vector<std::atomic<int>> hits(100);
    team.ParallelFor(100, [&](int64_t c) {
      hits[static_cast<size_t>(c)].fetch_add(1);
      if (std::this_thread::get_id() == caller) {
        std::lock_guard<std::mutex> lock(mu);
        by_caller.push_back(c);
        if (c >= 50) stolen = true;
      } else if (!held.exchange(true)) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!stolen && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      }
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << round;
    ASSERT_TRUE(stolen) << round;
    ASSERT_GE(by_caller.size(), 51u) << round;
    for (int64_t c = 0; c < 50; ++c) ASSERT_EQ(by_caller[static_cast<size_t>(c)], c) << round;
    for (size_t i = 50; i < by_caller.size(); ++i) {
      ASSERT_GE(by_caller[i], 50) << round;
      if (i > 50) {
        ASSERT_LT(by_caller[i], by_caller[i - 1]) << round;  // from the back
      }
    }
  }
}

TEST(DtypeTest, Fp16ToFp32IsExactForEveryHalf) {
  // All 65536 halves against the definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m.
  for (uint32_t h = 0; h < 65536; ++h) {
    const int e = (h >> 10) & 0x1F, m = h & 0x3FF;
    const double mag = e == 0 ? std::ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp(m | 0x400, e - 25);
    const double want = (h & 0x8000) ? -mag : mag;
    const float got = Fp16ToFp32(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << h;
    } else {
      ASSERT_EQ(got, static_cast<float>(want)) << h;
      ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << h;
    }
  }
}

TEST(DtypeTest, Fp16RoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035e-05f, 5.96e-08f, 0.1f}) {
    const float back = Fp16ToFp32(Fp32ToFp16(v));
    EXPECT_NEAR(back, v, std::fabs(v) * 1e-3 + 1e-7) << v;
  }
  EXPECT_EQ(Fp32ToFp16(1.0f), 0x3C00);
  EXPECT_EQ(Fp32ToFp16(-2.0f), 0xC000);
}

}  // namespace
}  // namespace cadence::engine
