// GEMM: C = A · Wᵀ (+ bias) over many rows of activations at once — the shape of a transformer
// layer applied to a prompt or a whole audio window (Whisper's encoder: 1500 positions), and,
// with W packed once (PackedMatrix), of attention's Q·Kᵀ and P·V.
//
// The mat-vec kernels (kernels.h) read each weight row once per few tokens and so are bound by
// arithmetic per load; here W is packed panel by panel (kGemmNr rows, transposed and converted to
// f32 from F16/BF16) into a per-thread buffer, and a register-blocked micro-kernel keeps a
// kGemmMr x kGemmNr tile of C in registers while it streams the panel over K: 2 loads and kGemmMr
// broadcasts feed 2 x kGemmMr FMAs. Panels are spread over a WorkerTeam; each is packed once. The AVX2 kernel is chosen at run time; the
// scalar kernel is the reference the tests hold it to.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/kernels.h"

namespace cadence::engine {

constexpr int kGemmMr = 6;   // rows of A per micro-tile
constexpr int kGemmNr = 16;  // weight rows (columns of C) per panel
// From this many rows of activations on, MatMul and Whisper's layers use GemmFloat for float
// weights; below, the dot kernels win (GEMM packs the whole weight matrix first).
constexpr int kGemmMinRows = 16;
// MatMul's threshold on a weight type GemmQuantized lacks (Q5_1): its rows are dequantized into
// the panels (with AVX2), which pays only over longer prompts (0.5B Q8_0 measured so, dot kernels
// vs GEMM: at 64 tokens 107 vs 110 tok/s, at 128 100 vs 139).
constexpr int kGemmDequantizedMinRows = 64;
int GemmMinRows(DType type);

// c[i * ldc + j] = sum_k a[i * lda + k] * w(row j, k) (+ bias[j]) for i < m, j < w.rows, k < w.cols.
// w: any DType; quantized rows are dequantized into the panels, so the product is the f32
// activations times the stored weights (the dot kernels, for fewer rows, quantize the
// activations instead). bias may be null; team may be null (single-threaded). isa kScalar runs the
// reference tile, any other the AVX2 one.
void GemmFloat(const WeightMatrix& w, const float* a, int64_t m, int64_t lda, const float* bias, float* c, int64_t ldc,
               WorkerTeam* team, Isa isa);

// W packed once into the GEMM's panels, for a matrix that many products reuse: attention packs a
// head's keys and values once and every block of queries multiplies by them (GemmFloat packs
// each panel again on every call). Panel p holds w(row p * kGemmNr + j, q) at [q][j], zero past
// the last row.
class PackedMatrix {
 public:
  // Packs every row of w (any DType; quantized rows are dequantized), panels spread over team.
  void PackRows(const WeightMatrix& w, WorkerTeam* team, Isa isa);
  // Packs an f32 W stored column-major: w(row j, q) = wt[q * ldw + j] for j < rows, q < cols.
  void PackColumns(const float* wt, int64_t rows, int64_t cols, int64_t ldw, WorkerTeam* team);
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  const float* panel(int64_t p) const { return data_.data() + p * cols_ * kGemmNr; }

 private:
  void Resize(int64_t rows, int64_t cols);
  int64_t rows_ = 0, cols_ = 0;
  std::vector<float> data_;
};

// c = a · Wᵀ over W's first n rows and first k columns (n <= w.rows(), k <= w.cols()), on the
// calling thread: c[i * ldc + j] = sum_{q<k} a[i * lda + q] * w(j, q) (+ bias[j]) for i < m, j < n.
void GemmPacked(const PackedMatrix& w, int64_t n, int64_t k, const float* a, int64_t m, int64_t lda, const float* bias,
                float* c, int64_t ldc, Isa isa);

// Integer GEMM for quantized weights (gemm_int8*.cc): y = W · x for every target of a MatMulMany,
// with x quantized once per token row into Q8 / Q8K blocks (QuantizedActivations, exactly as the
// dot kernels read it) and W kept quantized. Each panel of kGemmNr weight rows is unpacked into
// unsigned bytes, four consecutive values of each row side by side (gemm_int8.h), in a per-thread
// buffer; a register tile of tokens x 16 rows runs over it with int32 sums per block (AVX-512
// VNNI: vpdpbusd with the activation bytes broadcast; AVX2: vpmaddubsw / vpmaddwd) that meet the
// block scales once, in f32. The results equal the dot kernels' up to the order of the float sums.
// Q8_0, Q4_0, Q5_0, Q5_0R, Q4_K and Q6_K; `xq` must hold the block sizes those types read, for
// tokens 0 .. m - 1. team may be null (single-threaded).
bool GemmQuantizedSupports(DType type);
// From this many tokens on MatMul runs a supported quantized type on GemmQuantized (below, on the
// dot kernels): the integer GEMM unpacks each panel once per call, which pays from a few tokens.
// Measured on AVX-512 VNNI (AVX2 machines take the same thresholds, unmeasured; Q4_0 takes Q8_0's)
// with cadence bench engine --synthetic 0.5b --prompt-tokens N --prompt-runs 15 (median
// tok/s, dot kernels vs integer GEMM): Q8_0 at 4 tokens 65 vs 51 (one 4-token pass of the dot
// kernels), at 5 60 vs 66, at 6 55 vs 72; the Q4_K_M mix (mostly Q5_0R) at 5 60-63 vs 61-63, at 6
// 68 vs 72, at 8 82 vs 93.
constexpr int kGemmQuantizedMinRows = 6;
constexpr int kGemmQ8_0MinRows = 5;
int GemmQuantizedMinRows(DType type);
void GemmQuantized(std::span<const MatMulTarget> targets, const QuantizedActivations& xq, int64_t m, WorkerTeam* team,
                   Isa isa);

}  // namespace cadence::engine
