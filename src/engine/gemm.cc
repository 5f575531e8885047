#include "engine/gemm.h"

#include <algorithm>
#include <cstring>
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

GemmTileFn TileFor(Isa isa) { return isa == Isa::kScalar ? GemmTileScalar : GetGemmTileAvx2(); }

// Panels of an n-row W, and the rows of panel p (kGemmNr but for the last).
int64_t PanelCount(int64_t n) { return (n + kGemmNr - 1) / kGemmNr; }
int PanelRows(int64_t n, int64_t p) { return static_cast<int>(std::min<int64_t>(kGemmNr, n - p * kGemmNr)); }

// Every row tile of a (m rows) against one packed panel (columns j0 .. j0 + nr - 1 of c).
void PanelTimesRows(const float* panel, int64_t k, int64_t j0, int nr, const float* a, int64_t m, int64_t lda,
                    const float* bias, float* c, int64_t ldc, GemmTileFn tile) {
  for (int64_t i = 0; i < m; i += kGemmMr) {
    const int mr = static_cast<int>(std::min<int64_t>(kGemmMr, m - i));
    tile(a + i * lda, lda, mr, panel, k, c + i * ldc + j0, ldc, nr, bias ? bias + j0 : nullptr);
  }
}

// Panel of rows j0 .. j0 + nr - 1 of a row-major W (any DType), widened to f32 side by side
// (zero past the matrix), then transposed.
void PackRowPanel(const WeightMatrix& w, int64_t j0, int nr, float* panel, Isa isa) {
  const int64_t k = w.cols;
  const RowToF32Fn to_f32 = isa == Isa::kScalar ? RowToF32Scalar : GetRowToF32Avx2();
  const PackPanelFn transpose = isa == Isa::kScalar ? PackPanelScalar : GetPackPanelAvx2();
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
}

// Panel of rows j0 .. j0 + nr - 1 of a column-major f32 W: a panel row (one k) is nr consecutive
// floats of wt.
void PackColumnPanel(const float* wt, int64_t k, int64_t ldw, int64_t j0, int nr, float* panel) {
  if (nr == kGemmNr) {  // a full panel: one 64-byte copy per column (decode packs every value so)
    for (int64_t q = 0; q < k; ++q) std::memcpy(panel + q * kGemmNr, wt + q * ldw + j0, sizeof(float) * kGemmNr);
    return;
  }
  for (int64_t q = 0; q < k; ++q) {
    float* dst = panel + q * kGemmNr;
    const float* src = wt + q * ldw + j0;
    for (int j = 0; j < nr; ++j) dst[j] = src[j];
    for (int j = nr; j < kGemmNr; ++j) dst[j] = 0.0f;
  }
}

// Runs fn(p) for every panel p of an n-row W, on the team when there is one.
template <typename Fn>
void ForEachPanel(int64_t n, WorkerTeam* team, const Fn& fn) {
  const int64_t panels = PanelCount(n);
  if (team != nullptr) {
    team->ParallelFor(panels, fn);
  } else {
    for (int64_t p = 0; p < panels; ++p) fn(p);
  }
}

// Panels a GEMM work item packs side by side: each row tile of A, once in L1, meets all of them,
// so A streams from L3 once per group instead of once per panel (two threads at once: (1500 x 512)
// · (512 x 2048) 114 -> 146 GFLOP/s, Whisper's conv stem 114 -> 154).
constexpr int kPanelsPerItem = 4;
// Work items a GEMM aims to split into, so that every thread of a small team stays busy when
// another process takes a core for a while; a matrix with few panels splits A's rows instead.
constexpr int kMinItems = 8;

}  // namespace

int GemmMinRows(DType type) { return IsQuantized(type) ? kGemmDequantizedMinRows : kGemmMinRows; }

// A work item is a group of panels and a range of A's rows: it packs its panels into this
// thread's buffer, then runs every row tile of its range against each. Nothing the size of W is
// ever allocated.
void GemmFloat(const WeightMatrix& w, const float* a, int64_t m, int64_t lda, const float* bias, float* c, int64_t ldc,
               WorkerTeam* team, Isa isa) {
  const int64_t n = w.rows, k = w.cols;
  if (m <= 0 || n <= 0) return;
  const GemmTileFn tile = TileFor(isa);
  const int64_t panels = PanelCount(n);
  const int64_t group = std::clamp<int64_t>(panels / kMinItems, 1, kPanelsPerItem);
  const int64_t groups = (panels + group - 1) / group;
  const int64_t row_tiles = (m + kGemmMr - 1) / kGemmMr;
  const int64_t row_chunks = std::min(row_tiles, std::max<int64_t>(1, kMinItems / groups));
  const int64_t tiles_per_chunk = (row_tiles + row_chunks - 1) / row_chunks;
  auto run = [&](int64_t item) {
    const int64_t p0 = (item / row_chunks) * group, p1 = std::min(panels, p0 + group);
    const int64_t i0 = (item % row_chunks) * tiles_per_chunk * kGemmMr;
    const int64_t i1 = std::min(m, i0 + tiles_per_chunk * kGemmMr);
    thread_local std::vector<float> buffer;
    buffer.resize(static_cast<size_t>(group * k * kGemmNr));
    for (int64_t p = p0; p < p1; ++p) {
      PackRowPanel(w, p * kGemmNr, PanelRows(n, p), buffer.data() + (p - p0) * k * kGemmNr, isa);
    }
    for (int64_t i = i0; i < i1; i += kGemmMr) {
      const int mr = static_cast<int>(std::min<int64_t>(kGemmMr, i1 - i));
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t j0 = p * kGemmNr;
        tile(a + i * lda, lda, mr, buffer.data() + (p - p0) * k * kGemmNr, k, c + i * ldc + j0, ldc, PanelRows(n, p),
             bias ? bias + j0 : nullptr);
      }
    }
  };
  const int64_t items = groups * row_chunks;
  if (team != nullptr) {
    team->ParallelFor(items, run);
  } else {
    for (int64_t item = 0; item < items; ++item) run(item);
  }
}

void PackedMatrix::Resize(int64_t rows, int64_t cols) {
  rows_ = rows;
  cols_ = cols;
  data_.resize(static_cast<size_t>(PanelCount(rows) * cols * kGemmNr));
}

void PackedMatrix::PackRows(const WeightMatrix& w, WorkerTeam* team, Isa isa) {
  Resize(w.rows, w.cols);
  ForEachPanel(rows_, team, [&](int64_t p) { PackRowPanel(w, p * kGemmNr, PanelRows(rows_, p), &data_[p * cols_ * kGemmNr], isa); });
}

void PackedMatrix::PackColumns(const float* wt, int64_t rows, int64_t cols, int64_t ldw, WorkerTeam* team) {
  Resize(rows, cols);
  ForEachPanel(rows_, team, [&](int64_t p) {
    PackColumnPanel(wt, cols_, ldw, p * kGemmNr, PanelRows(rows_, p), &data_[p * cols_ * kGemmNr]);
  });
}

void GemmPacked(const PackedMatrix& w, int64_t n, int64_t k, const float* a, int64_t m, int64_t lda, const float* bias,
                float* c, int64_t ldc, Isa isa) {
  const GemmTileFn tile = TileFor(isa);
  for (int64_t p = 0; p < PanelCount(n); ++p) {
    PanelTimesRows(w.panel(p), k, p * kGemmNr, PanelRows(n, p), a, m, lda, bias, c, ldc, tile);
  }
}

}  // namespace cadence::engine
