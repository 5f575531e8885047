#include "engine/gemm.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "engine/parallel.h"

namespace cadence::engine {

// One micro-tile: c[i][j] (+)= sum_k a[i][k] * panel[k][j] for i < mr (<= kGemmMr), j < nr
// (<= kGemmNr); `panel` holds kGemmNr floats per k (zero beyond the matrix). Defined in
// gemm_avx2.cc; the scalar one below is the reference.
using GemmTileFn = void (*)(const float* a, int64_t lda, int mr, const float* panel, int64_t k, float* c,
                            int64_t ldc, int nr, const float* bias);
GemmTileFn GetGemmTileAvx2();

namespace {

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

// Rows of A per work item: enough tiles to reuse each packed panel from cache many times.
constexpr int64_t kRowsPerItem = 16 * kGemmMr;
// Panels per work item: the item's A rows stay in cache across them.
constexpr int64_t kPanelsPerItem = 4;

}  // namespace

bool GemmSupports(DType type) { return type == DType::kF32 || type == DType::kF16 || type == DType::kBF16; }

void GemmFloat(const WeightMatrix& w, const float* a, int64_t m, int64_t lda, const float* bias, float* c, int64_t ldc,
               WorkerTeam* team, Isa isa) {
  assert(GemmSupports(w.type));
  const int64_t n = w.rows, k = w.cols;
  if (m <= 0 || n <= 0) return;
  const int64_t panels = (n + kGemmNr - 1) / kGemmNr;
  // Pack: panel p holds rows [p * kGemmNr, +kGemmNr) of W as [k][kGemmNr] f32, zero-padded.
  std::vector<float> packed(static_cast<size_t>(panels * k * kGemmNr));
  auto pack = [&](int64_t p) {
    std::vector<float> row(static_cast<size_t>(k));
    float* dst = packed.data() + p * k * kGemmNr;
    for (int j = 0; j < kGemmNr; ++j) {
      const int64_t r = p * kGemmNr + j;
      if (r < n) {
        DequantizeRow(w.type, w.data + static_cast<size_t>(r) * w.row_bytes, row.data(), k);
      } else {
        std::fill(row.begin(), row.end(), 0.0f);
      }
      for (int64_t q = 0; q < k; ++q) dst[q * kGemmNr + j] = row[q];
    }
  };
  const GemmTileFn tile = isa == Isa::kScalar ? GemmTileScalar : GetGemmTileAvx2();
  const int64_t row_items = (m + kRowsPerItem - 1) / kRowsPerItem;
  const int64_t panel_items = (panels + kPanelsPerItem - 1) / kPanelsPerItem;
  auto run = [&](int64_t item) {
    const int64_t i0 = (item / panel_items) * kRowsPerItem, i1 = std::min(m, i0 + kRowsPerItem);
    const int64_t p0 = (item % panel_items) * kPanelsPerItem, p1 = std::min(panels, p0 + kPanelsPerItem);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j0 = p * kGemmNr;
      const int nr = static_cast<int>(std::min<int64_t>(kGemmNr, n - j0));
      for (int64_t i = i0; i < i1; i += kGemmMr) {
        const int mr = static_cast<int>(std::min<int64_t>(kGemmMr, i1 - i));
        tile(a + i * lda, lda, mr, packed.data() + p * k * kGemmNr, k, c + i * ldc + j0, ldc, nr,
             bias ? bias + j0 : nullptr);
      }
    }
  };
  if (team != nullptr) {
    team->ParallelFor(panels, pack);
    team->ParallelFor(row_items * panel_items, run);
  } else {
    for (int64_t p = 0; p < panels; ++p) pack(p);
    for (int64_t item = 0; item < row_items * panel_items; ++item) run(item);
  }
}

}  // namespace cadence::engine
