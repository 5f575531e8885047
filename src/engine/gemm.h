// GEMM for float weights: C = A · Wᵀ (+ bias) over many rows of activations at once — the shape of
// a transformer layer applied to a whole audio window (Whisper's encoder: 1500 positions) or of
// attention's Q·Kᵀ and P·V.
//
// The mat-vec kernels (kernels.h) read each weight row once per few tokens and so are bound by
// arithmetic per load; here W is packed panel by panel (kGemmNr rows, transposed and converted to
// f32 from F16/BF16) into a per-thread buffer, and a register-blocked micro-kernel keeps a
// kGemmMr x kGemmNr tile of C in registers while it streams the panel over K: 2 loads and kGemmMr
// broadcasts feed 2 x kGemmMr FMAs. Panels are spread over a WorkerTeam; each is packed once. The AVX2 kernel is chosen at run time; the
// scalar kernel is the reference the tests hold it to.
#pragma once

#include <cstdint>

#include "engine/kernels.h"

namespace cadence::engine {

constexpr int kGemmMr = 6;   // rows of A per micro-tile
constexpr int kGemmNr = 16;  // weight rows (columns of C) per panel
// From this many rows of activations on, MatMul and Whisper's layers use GemmFloat for float
// weights; below it the dot kernels win (GEMM packs the whole weight matrix first).
constexpr int kGemmMinRows = 16;

// c[i * ldc + j] = sum_k a[i * lda + k] * w(row j, k) (+ bias[j]) for i < m, j < w.rows, k < w.cols.
// w: any DType; quantized rows are dequantized into the panels, so the product is the f32
// activations times the stored weights (MatMul instead quantizes the activations; the LLM keeps
// that path for quantized weights, Whisper's encoder takes this one for every type). bias may be
// null; team may be null (single-threaded). isa kScalar runs the reference tile, any other the
// AVX2 one.
void GemmFloat(const WeightMatrix& w, const float* a, int64_t m, int64_t lda, const float* bias, float* c, int64_t ldc,
               WorkerTeam* team, Isa isa);

}  // namespace cadence::engine
