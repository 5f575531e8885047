// The integer GEMM's driver, scalar packing (the reference, and every panel's scales) and scalar
// tiles. Layout and ISA pieces: gemm_int8.h.
#include "engine/gemm_int8.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/parallel.h"

namespace cadence::engine {
namespace gemm_int8 {

namespace {

inline float Half(const uint8_t* p) { return Fp16ToFp32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

// Where block `k` of a Q5_0R row of `blocks` starts, and how to read it: the group holding it
// (its first block and size; size 0: a plain Q5_0 block at `row + k * kQ5_0Bytes`).
struct Q5_0RAt {
  int64_t first;
  int size;
};
Q5_0RAt LocateQ5_0R(int64_t k, int64_t blocks) {
  const int64_t eights = blocks / 8 * 8;
  if (k < eights) return {k / 8 * 8, 8};
  if (blocks - eights >= 4 && k < eights + 4) return {eights, 4};
  return {k, 0};
}

// The 32 stored quants of Q8-family block k of `row` as unsigned u = q + QuantOffset, and its scale.
float UnpackBlockQ8(DType type, const uint8_t* row, int64_t k, int64_t blocks, uint8_t* u) {
  switch (type) {
    case DType::kQ8_0: {
      const uint8_t* b = row + k * kQ8_0Bytes;
      for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(b[2 + i] ^ 0x80);
      return Half(b);
    }
    case DType::kQ4_0: {
      const uint8_t* b = row + k * kQ4_0Bytes;
      for (int i = 0; i < 16; ++i) u[i] = b[2 + i] & 0xF, u[i + 16] = b[2 + i] >> 4;
      return Half(b);
    }
    case DType::kQ5_0R: {
      const Q5_0RAt at = LocateQ5_0R(k, blocks);
      if (at.size > 0) {
        const uint8_t* g = row + at.first * kQ5_0Bytes;
        const int b = static_cast<int>(k - at.first);
        for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(Q5_0RQuant(g, at.size, b, i));
        return Half(g + 2 * b);
      }
      [[fallthrough]];
    }
    default: {  // Q5_0
      const uint8_t* b = row + k * kQ5_0Bytes;
      for (int i = 0; i < 32; ++i) u[i] = static_cast<uint8_t>(Q5Quant(b + 2, b + 6, i));
      return Half(b);
    }
  }
}

// The 256 quants of K-quant super-block `sb` of `row` (Q4_K: 0..15; Q6_K: 0..63, i.e. q + 32).
void UnpackSuperBlock(DType type, const uint8_t* row, int64_t sb, uint8_t* u) {
  if (type == DType::kQ4_K) {
    const uint8_t* q = row + sb * kQ4_KBytes + 16;
    for (int s = 0; s < 8; ++s)
      for (int l = 0; l < 32; ++l) u[32 * s + l] = (q[(s / 2) * 32 + l] >> (4 * (s % 2))) & 0xF;
    return;
  }
  const uint8_t* b = row + sb * kQ6_KBytes;
  for (int j = 0; j < 8; ++j) {
    const int half = j / 4, part = j % 4;
    const uint8_t* l = b + half * 64 + (part % 2) * 32;
    const uint8_t* h = b + 128 + half * 32;
    for (int i = 0; i < 32; ++i)
      u[32 * j + i] = static_cast<uint8_t>(((l[i] >> ((part / 2) * 4)) & 0xF) | (((h[i] >> (part * 2)) & 3) << 4));
  }
}

template <typename T>
void Put(uint8_t* base, size_t offset, int index, T v) {
  std::memcpy(base + offset + sizeof(T) * index, &v, sizeof(T));
}

int32_t Pair(int lo, int hi) { return static_cast<int32_t>(static_cast<uint16_t>(lo) | (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16)); }

void PackScalar(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel) {
  const Family f = FamilyOf(w.type);
  const int64_t units = w.cols / UnitElems(f);
  const size_t unit_bytes = UnitBytes(f);
  std::memset(panel, 0, unit_bytes * units);
  uint8_t u[256];
  for (int j = 0; j < nr; ++j) {
    const uint8_t* row = w.data + static_cast<size_t>(j0 + j) * w.row_bytes;
    for (int64_t k = 0; k < units; ++k) {
      uint8_t* unit = panel + k * unit_bytes;
      if (f == Family::kQ8) {
        Put(unit, kQuantBytesQ8, j, UnpackBlockQ8(w.type, row, k, units, u));
      } else {
        UnpackSuperBlock(w.type, row, k, u);
      }
      for (int v = 0; v < UnitElems(f); ++v) unit[64 * (v / 4) + 4 * j + v % 4] = u[v];
    }
  }
  PackScales(w, j0, nr, panel);
}

// Scalar tiles: each (token, row) pair summed as the dot kernels do (integer sums per block or
// super-block, met by the scales once each).
template <int kOffset>
void TileQ8Scalar(const uint8_t* panel, int64_t units, TileInput in, int mr, float* c, int64_t ldc,
                  int nr) {
  for (int i = 0; i < mr; ++i) {
    const Q8Block* x = static_cast<const Q8Block*>(in.x) + i * in.stride;
    for (int j = 0; j < nr; ++j) {
      float s = 0;
      for (int64_t k = 0; k < units; ++k) {
        const uint8_t* unit = panel + k * kUnitBytesQ8;
        int32_t acc = -kOffset * x[k].sum;
        for (int v = 0; v < 32; ++v) acc += unit[64 * (v / 4) + 4 * j + v % 4] * x[k].q[v];
        float d;
        std::memcpy(&d, unit + kQuantBytesQ8 + 4 * j, 4);
        s += d * x[k].d * static_cast<float>(acc);
      }
      c[i * ldc + j] = s;
    }
  }
}

template <typename T>
T Get(const uint8_t* base, size_t offset, int index) {
  T v;
  std::memcpy(&v, base + offset + sizeof(T) * index, sizeof(T));
  return v;
}

void TileQ4KScalar(const uint8_t* panel, int64_t units, TileInput in, int mr, float* c,
                   int64_t ldc, int nr) {
  for (int i = 0; i < mr; ++i) {
    const Q8KBlock* x = static_cast<const Q8KBlock*>(in.x) + i * in.stride;
    for (int j = 0; j < nr; ++j) {
      float s = 0;
      for (int64_t k = 0; k < units; ++k) {
        const uint8_t* unit = panel + k * kUnitBytesQ4_K;
        int32_t sum = 0, min_sum = 0;
        for (int sb = 0; sb < 8; ++sb) {
          int32_t acc = 0;
          for (int v = 32 * sb; v < 32 * sb + 32; ++v) acc += unit[64 * (v / 4) + 4 * j + v % 4] * x[k].q[v];
          sum += Get<int32_t>(unit, kQ4KSc, 16 * sb + j) * acc;
          min_sum += (Get<int32_t>(unit, kQ4KM2, 16 * sb + j) & 0xFFFF) * (x[k].bsums[2 * sb] + x[k].bsums[2 * sb + 1]);
        }
        s += x[k].d * (Get<float>(unit, kQ4KD, j) * static_cast<float>(sum) -
                       Get<float>(unit, kQ4KDmin, j) * static_cast<float>(min_sum));
      }
      c[i * ldc + j] = s;
    }
  }
}

void TileQ6KScalar(const uint8_t* panel, int64_t units, TileInput in, int mr, float* c,
                   int64_t ldc, int nr) {
  for (int i = 0; i < mr; ++i) {
    const Q8KBlock* x = static_cast<const Q8KBlock*>(in.x) + i * in.stride;
    for (int j = 0; j < nr; ++j) {
      float s = 0;
      for (int64_t k = 0; k < units; ++k) {
        const uint8_t* unit = panel + k * kUnitBytesQ6_K;
        int32_t sum = 0;
        for (int g = 0; g < 16; ++g) {
          int32_t acc = 0;
          for (int v = 16 * g; v < 16 * g + 16; ++v)
            acc += (unit[64 * (v / 4) + 4 * j + v % 4] - 32) * x[k].q[v];
          sum += Get<int32_t>(unit, kQ6KSc, 16 * g + j) * acc;
        }
        s += Get<float>(unit, kQ6KD, j) * x[k].d * static_cast<float>(sum);
      }
      c[i * ldc + j] = s;
    }
  }
}

}  // namespace

void PackScales(const WeightMatrix& w, int64_t j0, int nr, uint8_t* panel) {
  const Family f = FamilyOf(w.type);
  const int64_t units = w.cols / UnitElems(f);
  const size_t unit_bytes = UnitBytes(f);
  for (int j = 0; j < kGemmNr; ++j) {
    const uint8_t* row = j < nr ? w.data + static_cast<size_t>(j0 + j) * w.row_bytes : nullptr;
    for (int64_t k = 0; k < units; ++k) {
      uint8_t* unit = panel + k * unit_bytes;
      if (f == Family::kQ8) {
        float d = 0;
        if (row != nullptr) {
          switch (w.type) {
            case DType::kQ8_0: d = Half(row + k * kQ8_0Bytes); break;
            case DType::kQ4_0: d = Half(row + k * kQ4_0Bytes); break;
            case DType::kQ5_0R: {
              const Q5_0RAt at = LocateQ5_0R(k, units);
              d = Half(row + at.first * kQ5_0Bytes + (at.size > 0 ? 2 * (k - at.first) : 0));
              break;
            }
            default: d = Half(row + k * kQ5_0Bytes); break;
          }
        }
        Put(unit, kQuantBytesQ8, j, d);
      } else if (f == Family::kQ4_K) {
        const uint8_t* b = row ? row + k * kQ4_KBytes : nullptr;
        for (int s = 0; s < 8; ++s) {
          uint8_t sc = 0, m = 0;
          if (b) Q4KScaleMin(s, b + 4, &sc, &m);
          Put<int32_t>(unit, kQ4KSc, 16 * s + j, sc);
          Put<int32_t>(unit, kQ4KSc2, 16 * s + j, Pair(sc, sc));
          Put<int32_t>(unit, kQ4KM2, 16 * s + j, Pair(m, m));
        }
        Put(unit, kQ4KD, j, b ? Half(b) : 0.0f);
        Put(unit, kQ4KDmin, j, b ? Half(b + 2) : 0.0f);
      } else {
        const uint8_t* b = row ? row + k * kQ6_KBytes : nullptr;
        const int8_t* sc = b ? reinterpret_cast<const int8_t*>(b + 192) : nullptr;
        for (int g = 0; g < 16; ++g) {
          const int s = sc ? sc[g] : 0;
          Put<int32_t>(unit, kQ6KSc, 16 * g + j, s);
          Put<int32_t>(unit, kQ6KSc2, 16 * g + j, Pair(s, s));
        }
        for (int p = 0; p < 8; ++p) Put<int32_t>(unit, kQ6KSp, 16 * p + j, sc ? Pair(sc[2 * p], sc[2 * p + 1]) : 0);
        Put(unit, kQ6KD, j, b ? Half(b + 208) : 0.0f);
      }
    }
  }
}

Kernels ScalarKernels(DType type) {
  switch (type) {
    case DType::kQ8_0: return {PackScalar, TileQ8Scalar<128>, 8};
    case DType::kQ4_0: return {PackScalar, TileQ8Scalar<8>, 8};
    case DType::kQ5_0:
    case DType::kQ5_0R: return {PackScalar, TileQ8Scalar<16>, 8};
    case DType::kQ4_K: return {PackScalar, TileQ4KScalar, 8};
    case DType::kQ6_K: return {PackScalar, TileQ6KScalar, 8};
    default: return {};
  }
}

}  // namespace gemm_int8

namespace {

using gemm_int8::Kernels;

Kernels KernelsFor(DType type, Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return gemm_int8::Avx512Kernels(type);
    case Isa::kAvx2: return gemm_int8::Avx2Kernels(type);
    default: return gemm_int8::ScalarKernels(type);
  }
}

// As GemmFloat: a work item packs a group of up to kPanelsPerItem panels into this thread's
// buffer and runs every row tile of its range of tokens against them; matrices with few panels
// split the tokens instead, so that a small team has kMinItems items to balance.
constexpr int kPanelsPerItem = 4;
constexpr int kMinItems = 8;

struct Plan {
  const MatMulTarget* target;
  Kernels kernels;
  const int32_t* corr;
  int64_t units, panels, group, row_chunks, tiles_per_chunk, first_item;
};

}  // namespace

bool GemmQuantizedSupports(DType type) { return gemm_int8::ScalarKernels(type).tile != nullptr; }

int GemmQuantizedMinRows(DType type) {
  return type == DType::kQ8_0 || type == DType::kQ4_0 ? kGemmQ8_0MinRows : kGemmQuantizedMinRows;
}

void GemmQuantized(std::span<const MatMulTarget> targets, const QuantizedActivations& xq, int64_t m, WorkerTeam* team,
                   Isa isa) {
  if (targets.empty() || m <= 0) return;
  // The Q8 family's integer sums start at -offset * sum(x), one array per offset in use.
  const int64_t blocks = targets[0].w->cols / 32;
  thread_local std::vector<int32_t> corr[3];
  constexpr int kOffsets[3] = {128, 8, 16};
  bool made[3] = {false, false, false};
  auto corr_for = [&](DType type) -> const int32_t* {
    if (gemm_int8::FamilyOf(type) != gemm_int8::Family::kQ8) return nullptr;
    const int offset = gemm_int8::QuantOffset(type);
    const int at = offset == 128 ? 0 : offset == 8 ? 1 : 2;
    if (!made[at]) {
      const int32_t* sums = xq.Row(0).q8_sum;
      if (corr[at].size() < static_cast<size_t>(m * blocks)) corr[at].resize(static_cast<size_t>(m * blocks));
      for (int64_t t = 0; t < m; ++t)
        for (int64_t k = 0; k < blocks; ++k) corr[at][k * m + t] = -kOffsets[at] * sums[t * blocks + k];
      made[at] = true;
    }
    return corr[at].data();
  };
  std::vector<Plan> plans;
  plans.reserve(targets.size());
  int64_t items = 0;
  for (const MatMulTarget& t : targets) {
    Plan p{&t, KernelsFor(t.w->type, isa), corr_for(t.w->type), 0, 0, 0, 0, 0, items};
    p.units = t.w->cols / gemm_int8::UnitElems(gemm_int8::FamilyOf(t.w->type));
    p.panels = (t.w->rows + kGemmNr - 1) / kGemmNr;
    p.group = std::clamp<int64_t>(p.panels / kMinItems, 1, kPanelsPerItem);
    const int64_t groups = (p.panels + p.group - 1) / p.group;
    const int64_t row_tiles = (m + p.kernels.mr - 1) / p.kernels.mr;
    p.row_chunks = std::min(row_tiles, std::max<int64_t>(1, kMinItems / groups));
    p.tiles_per_chunk = (row_tiles + p.row_chunks - 1) / p.row_chunks;
    items += groups * p.row_chunks;
    plans.push_back(p);
  }
  // The weight rows work item `item` reads: [first, end), contiguous.
  struct Region {
    const uint8_t *first, *end;
  };
  auto region = [&](int64_t item) {
    size_t at = plans.size() - 1;
    while (plans[at].first_item > item) --at;
    const Plan& p = plans[at];
    const WeightMatrix& w = *p.target->w;
    const int64_t p0 = ((item - p.first_item) / p.row_chunks) * p.group;
    const int64_t r1 = std::min(w.rows, (p0 + p.group) * kGemmNr);
    return Region{w.data + static_cast<size_t>(p0 * kGemmNr) * w.row_bytes, w.data + static_cast<size_t>(r1) * w.row_bytes};
  };
  auto run = [&](int64_t item) {
    size_t at = plans.size() - 1;
    while (plans[at].first_item > item) --at;
    const Plan& p = plans[at];
    const WeightMatrix& w = *p.target->w;
    const gemm_int8::Family family = gemm_int8::FamilyOf(w.type);
    const int64_t local = item - p.first_item;
    const int64_t p0 = (local / p.row_chunks) * p.group, p1 = std::min(p.panels, p0 + p.group);
    const int mr_max = p.kernels.mr;
    const int64_t i0 = (local % p.row_chunks) * p.tiles_per_chunk * mr_max;
    const int64_t i1 = std::min(m, i0 + p.tiles_per_chunk * mr_max);
    if (i0 >= i1) return;
    const size_t panel_bytes = static_cast<size_t>(p.units) * gemm_int8::UnitBytes(family);
    thread_local std::vector<uint8_t> buffer;
    if (buffer.size() < p.group * panel_bytes + 64) buffer.resize(p.group * panel_bytes + 64);
    uint8_t* base = buffer.data() + (64 - reinterpret_cast<uintptr_t>(buffer.data()) % 64) % 64;
    auto rows_of = [&](int64_t panel) { return static_cast<int>(std::min<int64_t>(kGemmNr, w.rows - panel * kGemmNr)); };
    // A prompt's weights come from DRAM, and the 16 rows of a panel are 16 interleaved streams,
    // more than the hardware prefetcher follows: the packing waited on line after line. So the
    // item's rows are requested into L2 before packing (usually already there, see below), and
    // while the tiles run, the rows of the next item (which this thread most likely takes next:
    // ParallelFor hands out contiguous ranges) are requested a slice per row tile.
    const Region own = region(item);
    for (const uint8_t* a = own.first; a < own.end; a += 64) __builtin_prefetch(a, 0, 2);
    for (int64_t q = p0; q < p1; ++q) p.kernels.pack(w, q * kGemmNr, rows_of(q), base + (q - p0) * panel_bytes);
    Region next{nullptr, nullptr};
    if (item + 1 < items) next = region(item + 1);
    if (next.first == own.first) next.end = next.first;
    const int64_t tiles = (i1 - i0 + mr_max - 1) / mr_max;
    const int64_t lines_per_tile = ((next.end - next.first) / 64 + tiles - 1) / tiles;
    const uint8_t* ahead = next.first;
    const bool k_quant = family != gemm_int8::Family::kQ8;
    const int64_t x_stride = w.cols / (k_quant ? 256 : 32);
    for (int64_t i = i0; i < i1; i += mr_max) {
      for (int64_t l = 0; l < lines_per_tile && ahead < next.end; ++l, ahead += 64) {
        // A real load on each page's first line: a software prefetch that misses the TLB may be
        // dropped (the weights are mapped in 4 KiB pages), and the rest of the page's lines
        // would then not arrive either.
        if ((reinterpret_cast<uintptr_t>(ahead) & 4095) < 64) {
          (void)*static_cast<const volatile uint8_t*>(ahead);
        } else {
          __builtin_prefetch(ahead, 0, 2);
        }
      }
      const int mr = static_cast<int>(std::min<int64_t>(mr_max, i1 - i));
      const QuantizedRow row = xq.Row(static_cast<int>(i));
      const gemm_int8::TileInput in{k_quant ? static_cast<const void*>(row.q8k) : static_cast<const void*>(row.q8),
                                    p.corr ? p.corr + i : nullptr, x_stride, m};
      for (int64_t q = p0; q < p1; ++q) {
        p.kernels.tile(base + (q - p0) * panel_bytes, p.units, in, mr, p.target->y + i * w.rows + q * kGemmNr, w.rows,
                       rows_of(q));
      }
    }
  };
  if (team != nullptr) {
    team->ParallelFor(items, run);
  } else {
    for (int64_t item = 0; item < items; ++item) run(item);
  }
}

}  // namespace cadence::engine
