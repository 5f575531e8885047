// Kernels: dot products of one weight row with activations, and the multi-threaded mat-vec /
// mat-mat built on them.
//
// Float weights (F32, F16, BF16) multiply f32 activations. Quantized weights multiply quantized
// activations: Q8_0, Q5_0, Q5_1 and Q4_0 read Q8 blocks of 32 (one f32 scale per 32 values, like
// their own blocks); the K-quants Q4_K and Q6_K read Q8K blocks of 256 (one scale per super-block,
// as ggml's Q8_K), so a super-block's sub-block products add up in integers and meet a float once
// (the per-32 scheme cost them a conversion and a float FMA every 32 values and made them
// compute-bound). A mat-mul quantizes its input once in each block size its matrices need.
// Each kernel exists as a scalar reference and as SIMD versions (AVX2; AVX-512 where built in)
// chosen at run time with __builtin_cpu_supports — the binary is portable (no -march=native).
// Tests check every SIMD kernel against the scalar one. Pure functions; thread-safe.
//
// Short prompts use the same kernels over several tokens at once (DotTokensFn): each weight row
// is loaded and unpacked once per kDotTokens tokens; results equal the one-token kernel's bit for
// bit. Longer ones (GemmQuantizedMinRows, gemm.h) go to the integer GEMM over the same quantized
// activations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/dtype.h"

namespace cadence::engine {

class WorkerTeam;

struct Q8Block {
  float d;      // scale: value = d * q
  int32_t sum;  // sum of q, for the min term of Q5_1
  int8_t q[32];
};

struct Q8KBlock {
  float d;             // scale: value = d * q
  int16_t bsums[16];   // sums of each 16 consecutive q: the min terms of Q4_K, the offset of Q6_K
  int8_t q[256];
};

// One row of activations quantized for the quantized kernels: `q8` (n/32 blocks) for Q8_0, Q5_0,
// Q5_0R, Q5_1 and Q4_0, `q8k` (n/256 blocks) for Q4_K and Q6_K. Q5_0R also reads the q8 blocks' d
// and sum as contiguous arrays (`q8_d`, `q8_sum`, one entry per block, at the q8 blocks' stride):
// it takes eight blocks' scales with one load. Only the forms a kernel reads need be set.
struct QuantizedRow {
  const Q8Block* q8 = nullptr;
  const Q8KBlock* q8k = nullptr;
  const float* q8_d = nullptr;
  const int32_t* q8_sum = nullptr;
};

enum class Isa { kScalar, kAvx2, kAvx512 };
std::string_view IsaName(Isa isa);
// The best ISA this CPU supports among those compiled in.
Isa BestIsa();
bool IsaSupported(Isa isa);

// Quantizes n values (a multiple of 32): d = max|x| / 127, q = round(x / d) (ties away from 0).
void QuantizeRowQ8(const float* x, Q8Block* out, int64_t n);
// The same per 256 values (n a multiple of 256), with the 16-value sums.
void QuantizeRowQ8K(const float* x, Q8KBlock* out, int64_t n);

// Which activation blocks a weight type's kernels read.
bool ReadsQ8(DType type);   // Q8_0, Q5_0, Q5_0R, Q5_1, Q4_0
bool ReadsQ8K(DType type);  // Q4_K, Q6_K

// w_row: one weight row of `n` values in `type`; x: n floats (float types); xq: the row quantized
// (quantized types). Returns the dot product.
using DotFn = float (*)(const void* w_row, const float* x, QuantizedRow xq, int64_t n);
// nullptr when `isa` has no kernel for `type` (callers fall back to scalar).
DotFn GetDotKernel(DType type, Isa isa);
// The kernel MatMul uses: `isa`'s own, else the next narrower ISA's, else scalar.
DotFn ResolveDotKernel(DType type, Isa isa);
bool IsQuantized(DType type);

// Tokens one DotTokensFn call serves.
constexpr int kDotTokens = 4;
// Quantized types only: y[t * y_stride] = dot(w_row, token t's row) for t < n_tok (1..kDotTokens),
// where token t's blocks start t * x_stride values after xq's (x_stride a multiple of 256 when the
// kernel reads Q8K blocks). nullptr when `isa` has none for `type` (scalar: loop the DotFn).
using DotTokensFn = void (*)(const void* w_row, QuantizedRow xq, int64_t x_stride, int n_tok, int64_t n, float* y,
                             int64_t y_stride);
DotTokensFn GetDotTokensKernel(DType type, Isa isa);

// Quantized types only: y[r] = dot(row r, xq) for r < rows, rows `row_bytes` apart — the mat-vec's
// loop over rows in one call around the one-token kernel, equal to it bit for bit. The kernel
// MatMul would use for `type` on `isa`, or nullptr where that is not an AVX2 kernel (loop the DotFn).
using DotRowsFn = void (*)(const uint8_t* w, size_t row_bytes, int64_t rows, QuantizedRow xq, int64_t n, float* y);
DotRowsFn ResolveDotRowsKernel(DType type, Isa isa);

// QuantizeRowQ8 / QuantizeRowQ8K for `isa` (SIMD versions give the scalar one's blocks bit for bit).
using QuantizeFn = void (*)(const float* x, Q8Block* out, int64_t n);
QuantizeFn GetQuantizeKernel(Isa isa);
using QuantizeKFn = void (*)(const float* x, Q8KBlock* out, int64_t n);
QuantizeKFn GetQuantizeKKernel(Isa isa);

// Quantized copies of n_tokens rows of `cols` activations, in the block sizes asked for; reused
// across calls to avoid allocation.
class QuantizedActivations {
 public:
  // Rows spread over `team` (may be null) when there are many.
  void Quantize(const float* x, int n_tokens, int64_t cols, bool q8, bool q8k, Isa isa, WorkerTeam* team = nullptr);
  // Token t's row (blocks of the sizes last quantized).
  QuantizedRow Row(int t) const;

 private:
  int64_t cols_ = 0;
  bool has_q8_ = false, has_q8k_ = false;
  std::vector<Q8Block> q8_;
  std::vector<Q8KBlock> q8k_;
  std::vector<float> q8_d_;
  std::vector<int32_t> q8_sum_;
};

// A weight matrix in row-major order: `rows` outputs, each a row of `cols` inputs.
struct WeightMatrix {
  DType type = DType::kF32;
  int64_t rows = 0, cols = 0;
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
};

// Scratch for MatMul's quantized activations; reused across calls to avoid allocation.
struct MatMulScratch {
  QuantizedActivations xq;
};

// y[t * w.rows + r] = dot(w row r, x[t * w.cols ...]) for t < n_tokens, rows split over `team`
// (which may be null: single-threaded).
void MatMul(const WeightMatrix& w, const float* x, int n_tokens, float* y, WorkerTeam* team, Isa isa,
            MatMulScratch* scratch);

// One output of MatMulMany: y[t * w->rows + r] as in MatMul.
struct MatMulTarget {
  const WeightMatrix* w;
  float* y;
};
// Several matrices over the same input (q/k/v, gate/up): the input is quantized once and all rows
// share one parallel loop (one fork/join instead of one per matrix). Every target's cols must equal
// the first's; types may differ. From GemmQuantizedMinRows(type) tokens on (gemm.h) a quantized
// matrix runs on the integer GEMM, over the same quantized activations; float matrices (and Q5_1)
// from GemmMinRows(type) tokens on the f32 GEMM.
void MatMulMany(std::span<const MatMulTarget> targets, const float* x, int n_tokens, WorkerTeam* team, Isa isa,
                MatMulScratch* scratch);

}  // namespace cadence::engine
