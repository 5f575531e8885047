// The AVX-512 kernels' source (src/engine/kernels_avx512.inc) compiled on SIMDe's portable
// implementation of the x86 intrinsics (Debian's libsimde-dev) and checked against the scalar
// kernels, so that their arithmetic is tested on every machine — this project's own has no
// AVX-512. kernels_test checks the native build against scalar wherever the CPU has AVX-512.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/kernel_families.h"
#include "engine/kernels.h"
#include "kernels_test_util.h"

// After every other header: the aliases turn the _mm* names of what follows into SIMDe's.
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
// Two gaps in SIMDe 0.7.4's aliases: _mm512_madd_epi16's takes four arguments (a typo), and
// __mmask32 has none.
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
#define __mmask32 simde__mmask32

namespace cadence::engine::emulated {

// The three intrinsics SIMDe 0.7 lacks, element by element with the instructions' semantics
// (int32 -> float rounds to nearest, as C's conversion does).
inline simde__m512 CvtEpi32Ps(simde__m512i v) {
  int32_t in[16];
  float out[16];
  simde_mm512_storeu_si512(in, v);
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(in[i]);
  return simde_mm512_loadu_ps(out);
}
inline simde__m512 CvtPhPs(simde__m256i v) {
  uint16_t in[16];
  float out[16];
  simde_mm256_storeu_si256(reinterpret_cast<simde__m256i*>(in), v);
  for (int i = 0; i < 16; ++i) out[i] = Fp16ToFp32(in[i]);
  return simde_mm512_loadu_ps(out);
}
inline float ReduceAddPs(simde__m512 v) {
  float in[16];
  simde_mm512_storeu_ps(in, v);
  float s = 0.0f;
  for (float x : in) s += x;
  return s;
}

#define CADENCE_AVX512
#define CADENCE_HALF(p) Fp16ToFp32(static_cast<uint16_t>((p)[0] | ((p)[1] << 8)))
#define CADENCE_CVTEPI32_PS(v) CvtEpi32Ps(v)
#define CADENCE_CVTPH_PS(v) CvtPhPs(v)
#define CADENCE_REDUCE_ADD_PS(v) ReduceAddPs(v)
#include "engine/kernels_avx512.inc"

namespace {

TEST(KernelsAvx512EmulatedTest, EveryKernelMatchesScalar) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int checked = 0;
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ5_0, DType::kQ5_1, DType::kQ4_0,
                     DType::kQ4_K, DType::kQ6_K}) {
    const DotFn kernel = Avx512DotKernel(type);
    if (kernel == nullptr) continue;
    // 256 and 512: whole 512-bit steps; 288 / 1056 (per-32 types): an odd last block.
    for (int64_t n : {256, 512, 1024 + 256, 288, 1056}) {
      if (n % BlockElems(type) != 0) continue;
      for (bool extreme : {false, true}) {  // extreme: every activation quant at +-127
        auto w = RandomWeights(type, 1, n, rng);
        std::vector<float> x(n);
        for (auto& v : x) v = extreme ? (normal(rng) < 0 ? -3.0f : 3.0f) : normal(rng);
        const Quantized xq(x.data(), n);
        const float want = GetDotKernel(type, Isa::kScalar)(w.data(), x.data(), xq.Row(), n);
        const float got = kernel(w.data(), x.data(), xq.Row(), n);
        EXPECT_NEAR(got, want, 1e-4f * (1 + std::fabs(want)))
            << DTypeName(type) << " n=" << n << (extreme ? " extreme" : "");
        ++checked;
      }
    }
  }
  // Q8_0, Q4_0, Q5_0, Q5_1 (5 lengths x 2), Q4_K, Q6_K (3 x 2), F16 (5 x 2).
  EXPECT_EQ(checked, 4 * 10 + 2 * 6 + 10);
}

TEST(KernelsAvx512EmulatedTest, MultiTokenKernelsEqualOneTokenKernels) {
  // The prompt path's 1-4 token kernels: each token against the scalar kernel, and bit for bit
  // against the emulated one-token kernel, with a token stride that is not the row length and an
  // odd last block for the per-32 types.
  std::mt19937 rng(13);
  int checked = 0;
  for (DType type : {DType::kQ8_0, DType::kQ5_0, DType::kQ5_1, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K}) {
    const DotTokensFn many = Avx512DotTokensKernel(type);
    ASSERT_NE(many, nullptr) << DTypeName(type);
    checked += CheckTokensKernel(type, many, Avx512DotKernel(type), ReadsQ8K(type) ? 512 : 544, rng,
                                 "emulated avx512 " + std::string(DTypeName(type)));
  }
  EXPECT_EQ(checked, 6 * (1 + 2 + 3 + 4));
  // Types without an AVX-512 family fall back to AVX2 (ResolveDotTokensKernel).
  EXPECT_EQ(Avx512DotTokensKernel(DType::kQ5_0R), nullptr);
  EXPECT_EQ(Avx512DotTokensKernel(DType::kF16), nullptr);
}

}  // namespace
}  // namespace cadence::engine::emulated
