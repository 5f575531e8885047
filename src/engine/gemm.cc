#include "engine/gemm.h"

#include <algorithm>
#include <vector>

#include "engine/parallel.h"

namespace cadence::engine {

// One micro-tile: c[i][j] (+)= sum_k a[i][k] * panel[k][j] for i < mr (<= kGemmMr), j < nr
// (<= kGemmNr); `panel` holds kGemmNr floats per k (zero beyond the matrix). Defined in
// gemm_avx2.cc; the scalar one below is the reference.
using GemmTileFn = void (*)(const float* a, int64_t lda, int mr, const float* panel, int64_t k, float* c,
                            int64_t ldc, int nr, const float* bias);
GemmTileFn GetGemmTileAvx2();
// A weight row widened to f32 (packing); defined in gemm_avx2.cc.
using RowToF32Fn = void (*)(DType type, const uint8_t* src, float* dst, int64_t n);
RowToF32Fn GetRowToF32Avx2();
// kGemmNr f32 rows of length k ([kGemmNr][k]) transposed into a panel ([k][kGemmNr]).
using PackPanelFn = void (*)(const float* rows, int64_t k, float* panel);
PackPanelFn GetPackPanelAvx2();

namespace {

void RowToF32Scalar(DType type, const uint8_t* src, float* dst, int64_t n) { DequantizeRow(type, src, dst, n); }

void PackPanelScalar(const float* rows, int64_t k, float* panel) {
  for (int64_t q = 0; q < k; ++q)
    for (int j = 0; j < kGemmNr; ++j) panel[q * kGemmNr + j] = rows[j * k + q];
}

void GemmTileScalar(const float* a, int64_t lda, int mr, const float* panel, int64_t k, float* c, int64_t ldc, int nr,
                    const float* bias) {
  for (int i = 0; i < mr; ++i) {
    for (int j = 0; j < nr; ++j) {
      float s = 0.0f;
      for (int64_t p = 0; p < k; ++p) s += a[i * lda + p] * panel[p * kGemmNr + j];
      c[i * ldc + j] = s + (bias ? bias[j] : 0.0f);
    }
  }
}

// The GEMM over panels of an n x k weight matrix: pack(j0, nr, panel) fills panel[q][j] with
// w(row j0 + j, q) for j < nr (and zero up to kGemmNr). One work item per panel: pack its rows into
// this thread's buffer, then run every row tile of A against it. The panel (k x 64 bytes) stays in
// cache while A streams by; nothing the size of W is ever allocated.
template <typename Pack>
void GemmPanels(int64_t n, int64_t k, const Pack& pack, const float* a, int64_t m, int64_t lda, const float* bias,
                float* c, int64_t ldc, WorkerTeam* team, Isa isa) {
  if (m <= 0 || n <= 0) return;
  const int64_t panels = (n + kGemmNr - 1) / kGemmNr;
  const GemmTileFn tile = isa == Isa::kScalar ? GemmTileScalar : GetGemmTileAvx2();
  auto run = [&](int64_t p) {
    thread_local std::vector<float> panel;
    panel.resize(static_cast<size_t>(k * kGemmNr));
    const int64_t j0 = p * kGemmNr;
    const int nr = static_cast<int>(std::min<int64_t>(kGemmNr, n - j0));
    pack(j0, nr, panel.data());
    for (int64_t i = 0; i < m; i += kGemmMr) {
      const int mr = static_cast<int>(std::min<int64_t>(kGemmMr, m - i));
      tile(a + i * lda, lda, mr, panel.data(), k, c + i * ldc + j0, ldc, nr, bias ? bias + j0 : nullptr);
    }
  };
  if (team != nullptr) {
    team->ParallelFor(panels, run);
  } else {
    for (int64_t p = 0; p < panels; ++p) run(p);
  }
}

}  // namespace

int GemmMinRows(DType type) { return IsQuantized(type) ? kGemmQuantizedMinRows : kGemmMinRows; }

void GemmFloat(const WeightMatrix& w, const float* a, int64_t m, int64_t lda, const float* bias, float* c, int64_t ldc,
               WorkerTeam* team, Isa isa) {
  const int64_t k = w.cols;
  const RowToF32Fn to_f32 = isa == Isa::kScalar ? RowToF32Scalar : GetRowToF32Avx2();
  const PackPanelFn transpose = isa == Isa::kScalar ? PackPanelScalar : GetPackPanelAvx2();
  auto pack = [&](int64_t j0, int nr, float* panel) {
    // The panel's rows widened to f32 side by side (zero past the matrix), then transposed.
    thread_local std::vector<float> rows;
    rows.resize(static_cast<size_t>(kGemmNr * k));
    for (int j = 0; j < kGemmNr; ++j) {
      float* row = rows.data() + static_cast<size_t>(j) * k;
      if (j < nr) {
        to_f32(w.type, w.data + static_cast<size_t>(j0 + j) * w.row_bytes, row, k);
      } else {
        std::fill(row, row + k, 0.0f);
      }
    }
    transpose(rows.data(), k, panel);
  };
  GemmPanels(w.rows, k, pack, a, m, lda, bias, c, ldc, team, isa);
}

void GemmFloatColumnMajor(const float* wt, int64_t n, int64_t k, int64_t ldw, const float* a, int64_t m, int64_t lda,
                          float* c, int64_t ldc, WorkerTeam* team, Isa isa) {
  // Column-major W: a panel row (one k) is nr consecutive floats of wt.
  auto pack = [&](int64_t j0, int nr, float* panel) {
    for (int64_t q = 0; q < k; ++q) {
      float* dst = panel + q * kGemmNr;
      const float* src = wt + q * ldw + j0;
      for (int j = 0; j < nr; ++j) dst[j] = src[j];
      for (int j = nr; j < kGemmNr; ++j) dst[j] = 0.0f;
    }
  };
  GemmPanels(n, k, pack, a, m, lda, nullptr, c, ldc, team, isa);
}

}  // namespace cadence::engine
