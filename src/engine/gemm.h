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
#include <vector>

#include "engine/kernels.h"

namespace cadence::engine {

constexpr int kGemmMr = 6;   // rows of A per micro-tile
constexpr int kGemmNr = 16;  // weight rows (columns of C) per panel
// From this many rows of activations on, MatMul and Whisper's layers use GemmFloat for float
// weights; below, the dot kernels win (GEMM packs the whole weight matrix first).
constexpr int kGemmMinRows = 16;
// MatMul's threshold on a weight type: quantized rows are dequantized into the panels (with
// AVX2), which pays only over longer prompts. Measured with cadence bench engine --prompt-tokens
// N, dot kernels vs GEMM: 0.5B Q8_0 at 64 tokens 107 vs 110 tok/s, at 128 100 vs 139; 0.5B Q4_K_M-
// like (mostly Q5_0) at 64 96 vs 117; 1.5B Q4_K at 64 33 vs 36, at 128 38 vs 43.
constexpr int kGemmQuantizedMinRows = 64;
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

}  // namespace cadence::engine
