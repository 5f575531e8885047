#include "engine/kernels.h"

#include <cpuid.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/gemm.h"
#include "engine/parallel.h"

namespace cadence::engine {

// Defined in kernels_avx2.cc / kernels_avx512.cc.
DotFn GetDotKernelAvx2(DType type);
DotFn GetDotKernelAvx512(DType type);
DotTokensFn GetDotTokensKernelAvx2(DType type);
DotRowsFn GetDotRowsKernelAvx2(DType type);
DotTokensFn GetDotTokensKernelAvx512(DType type);
QuantizeFn GetQuantizeKernelAvx2();
QuantizeKFn GetQuantizeKKernelAvx2();

// Fills a Q8K block's 16-value sums from its quants (shared by the scalar and SIMD quantizers).
void SumQ8KGroups(Q8KBlock* b) {
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += b->q[g * 16 + i];
    b->bsums[g] = static_cast<int16_t>(sum);
  }
}

namespace {

inline float Half(const uint8_t* p) { return Fp16ToFp32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

float DotF32(const void* w, const float* x, QuantizedRow, int64_t n) {
  const float* a = static_cast<const float*>(w);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += a[i] * x[i];
  return s;
}

float DotF16(const void* w, const float* x, QuantizedRow, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += Half(a + 2 * i) * x[i];
  return s;
}

float DotBF16(const void* w, const float* x, QuantizedRow, int64_t n) {
  const uint8_t* a = static_cast<const uint8_t*>(w);
  float s = 0;
  for (int64_t i = 0; i < n; ++i) s += Bf16ToFp32(static_cast<uint16_t>(a[2 * i] | (a[2 * i + 1] << 8))) * x[i];
  return s;
}

float DotQ8_0(const void* w, const float*, QuantizedRow row, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8Block* xq = row.q8;
  float s = 0;
  for (int64_t k = 0; k < n / 32; ++k, b += kQ8_0Bytes) {
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
    int32_t acc = 0;
    for (int i = 0; i < 32; ++i) acc += q[i] * xq[k].q[i];
    s += Half(b) * xq[k].d * static_cast<float>(acc);
  }
  return s;
}

float DotQ4_0(const void* w, const float*, QuantizedRow row, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  const Q8Block* xq = row.q8;
  float s = 0;
  for (int64_t k = 0; k < n / 32; ++k, b += kQ4_0Bytes) {
    const uint8_t* q = b + 2;
    int32_t acc = 0;
    for (int i = 0; i < 16; ++i) {
      acc += (static_cast<int>(q[i] & 0xF) - 8) * xq[k].q[i];
      acc += (static_cast<int>(q[i] >> 4) - 8) * xq[k].q[i + 16];
    }
    s += Half(b) * xq[k].d * static_cast<float>(acc);
  }
  return s;
}

// Q5_0 / Q5_1: the 32 high bits once per block, then as Q4_0.
float DotQ5(const uint8_t* b, bool with_min, const Q8Block* xq, int64_t n) {
  const size_t bytes = with_min ? kQ5_1Bytes : kQ5_0Bytes;
  const uint8_t* qh = b + (with_min ? 4 : 2);
  float s = 0;
  for (int64_t k = 0; k < n / 32; ++k, b += bytes, qh += bytes) {
    const uint8_t* qs = qh + 4;
    int32_t acc = 0;
    for (int i = 0; i < 32; ++i) acc += (Q5Quant(qh, qs, i) - (with_min ? 0 : 16)) * xq[k].q[i];
    s += Half(b) * xq[k].d * static_cast<float>(acc);
    if (with_min) s += Half(b + 2) * xq[k].d * static_cast<float>(xq[k].sum);
  }
  return s;
}

float DotQ5_0(const void* w, const float*, QuantizedRow row, int64_t n) {
  return DotQ5(static_cast<const uint8_t*>(w), false, row.q8, n);
}

// Q5_0R (dtype.h): the groups block by block, then the Q5_0 blocks that end the row.
float DotQ5_0R(const void* w, const float*, QuantizedRow row, int64_t n) {
  const uint8_t* g = static_cast<const uint8_t*>(w);
  const Q8Block* xq = row.q8;
  const int64_t blocks = n / 32;
  float s = 0;
  int64_t k = 0;
  for (int size; (size = Q5_0RGroupAt(k, blocks)) > 0; k += size, g += size * kQ5_0Bytes) {
    for (int b = 0; b < size; ++b) {
      int32_t acc = 0;
      for (int i = 0; i < 32; ++i) acc += (Q5_0RQuant(g, size, b, i) - 16) * xq[k + b].q[i];
      s += Half(g + 2 * b) * xq[k + b].d * static_cast<float>(acc);
    }
  }
  return s + DotQ5(g, false, xq + k, n - k * 32);
}

float DotQ5_1(const void* w, const float*, QuantizedRow row, int64_t n) {
  return DotQ5(static_cast<const uint8_t*>(w), true, row.q8, n);
}

// The K-quants take one activation scale per super-block: the sub-block products (weight quant x
// activation quant, times the sub-block's integer scale) add up in integers.
float DotQ4_K(const void* w, const float*, QuantizedRow row, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  float s = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb, b += kQ4_KBytes) {
    const Q8KBlock& x = row.q8k[sb];
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    int32_t sum = 0, min_sum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      Q4KScaleMin(j, scales, &sc, &m);
      const uint8_t* qq = q + (j / 2) * 32;
      const int shift = (j % 2) * 4;
      int32_t acc = 0;
      for (int l = 0; l < 32; ++l) acc += ((qq[l] >> shift) & 0xF) * x.q[j * 32 + l];
      sum += sc * acc;
      min_sum += m * (x.bsums[2 * j] + x.bsums[2 * j + 1]);
    }
    s += x.d * (Half(b) * static_cast<float>(sum) - Half(b + 2) * static_cast<float>(min_sum));
  }
  return s;
}

float DotQ6_K(const void* w, const float*, QuantizedRow row, int64_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(w);
  float s = 0;
  for (int64_t sb = 0; sb < n / 256; ++sb, b += kQ6_KBytes) {
    const Q8KBlock& x = row.q8k[sb];
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    int32_t sum = 0;
    for (int j = 0; j < 8; ++j) {  // 32-value chunk j of the super-block
      const int half = j / 4, part = j % 4;
      const uint8_t* l = ql + half * 64 + (part % 2) * 32;
      const uint8_t* h = qh + half * 32;
      const int lshift = (part / 2) * 4, hshift = part * 2;
      int32_t acc[2] = {0, 0};
      for (int i = 0; i < 32; ++i) {
        const int q = static_cast<int>(((l[i] >> lshift) & 0xF) | (((h[i] >> hshift) & 3) << 4)) - 32;
        acc[i / 16] += q * x.q[j * 32 + i];
      }
      sum += sc[2 * j] * acc[0] + sc[2 * j + 1] * acc[1];
    }
    s += Half(b + 208) * x.d * static_cast<float>(sum);
  }
  return s;
}

DotFn ScalarKernel(DType type) {
  switch (type) {
    case DType::kF32: return DotF32;
    case DType::kF16: return DotF16;
    case DType::kBF16: return DotBF16;
    case DType::kQ8_0: return DotQ8_0;
    case DType::kQ4_0: return DotQ4_0;
    case DType::kQ5_0: return DotQ5_0;
    case DType::kQ5_0R: return DotQ5_0R;
    case DType::kQ5_1: return DotQ5_1;
    case DType::kQ4_K: return DotQ4_K;
    case DType::kQ6_K: return DotQ6_K;
  }
  return nullptr;
}

}  // namespace

std::string_view IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

// F16C from CPUID leaf 1 (ECX bit 29): clang before 15 does not know "f16c" in __builtin_cpu_supports.
namespace {
bool CpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
}  // namespace

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && CpuHasF16c();
    case Isa::kAvx512:
      // The AVX-512 kernels sum bytes with VNNI; AVX-512 CPUs without it (Skylake-SP) use AVX2.
      return IsaSupported(Isa::kAvx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Isa BestIsa() {
  if (IsaSupported(Isa::kAvx512)) return Isa::kAvx512;
  if (IsaSupported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kScalar;
}

bool ReadsQ8(DType type) {
  return type == DType::kQ8_0 || type == DType::kQ4_0 || type == DType::kQ5_0 || type == DType::kQ5_0R ||
         type == DType::kQ5_1;
}
bool ReadsQ8K(DType type) { return type == DType::kQ4_K || type == DType::kQ6_K; }
bool IsQuantized(DType type) { return ReadsQ8(type) || ReadsQ8K(type); }

DotFn GetDotKernel(DType type, Isa isa) {
  switch (isa) {
    case Isa::kScalar: return ScalarKernel(type);
    case Isa::kAvx2: return GetDotKernelAvx2(type);
    case Isa::kAvx512: return GetDotKernelAvx512(type);
  }
  return nullptr;
}

DotFn ResolveDotKernel(DType type, Isa isa) {
  // Each ISA falls back to the next narrower one that has a kernel for `type`.
  if (isa == Isa::kAvx512) {
    if (DotFn f = GetDotKernelAvx512(type)) return f;
    isa = Isa::kAvx2;
  }
  if (isa == Isa::kAvx2) {
    if (DotFn f = GetDotKernelAvx2(type)) return f;
  }
  return ScalarKernel(type);
}

namespace {

// q[i] = round(v[i] / d) (ties away from 0) with d = max|v| / 127; returns d.
float QuantizeSymmetric(const float* v, int n, int8_t* q) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(v[i]));
  const float d = amax / 127.0f;
  const float id = d > 0 ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::clamp(static_cast<int>(std::lround(v[i] * id)), -127, 127));
  return d;
}

}  // namespace

void QuantizeRowQ8(const float* x, Q8Block* out, int64_t n) {
  for (int64_t k = 0; k < n / 32; ++k) {
    out[k].d = QuantizeSymmetric(x + k * 32, 32, out[k].q);
    out[k].sum = 0;
    for (int i = 0; i < 32; ++i) out[k].sum += out[k].q[i];
  }
}

void QuantizeRowQ8K(const float* x, Q8KBlock* out, int64_t n) {
  for (int64_t k = 0; k < n / 256; ++k) {
    out[k].d = QuantizeSymmetric(x + k * 256, 256, out[k].q);
    SumQ8KGroups(&out[k]);
  }
}

DotRowsFn ResolveDotRowsKernel(DType type, Isa isa) {
  if (isa == Isa::kScalar || (isa == Isa::kAvx512 && GetDotKernelAvx512(type))) return nullptr;
  return GetDotRowsKernelAvx2(type);
}

DotTokensFn GetDotTokensKernel(DType type, Isa isa) {
  switch (isa) {
    case Isa::kScalar: return nullptr;
    case Isa::kAvx2: return GetDotTokensKernelAvx2(type);
    case Isa::kAvx512: return GetDotTokensKernelAvx512(type);
  }
  return nullptr;
}

QuantizeFn GetQuantizeKernel(Isa isa) { return isa == Isa::kScalar ? QuantizeRowQ8 : GetQuantizeKernelAvx2(); }
QuantizeKFn GetQuantizeKKernel(Isa isa) { return isa == Isa::kScalar ? QuantizeRowQ8K : GetQuantizeKKernelAvx2(); }

void QuantizedActivations::Quantize(const float* x, int n_tokens, int64_t cols, bool q8, bool q8k, Isa isa,
                                    WorkerTeam* team) {
  cols_ = cols;
  has_q8_ = q8;
  has_q8k_ = q8k;
  // The buffers only grow: a prompt's layers alternate between 896 and 4864 columns, and growing a
  // vector again value-initializes (zeroes) what it had shrunk away.
  const size_t n8 = static_cast<size_t>(cols / 32 * n_tokens), n8k = static_cast<size_t>(cols / 256 * n_tokens);
  if (q8 && q8_.size() < n8) q8_.resize(n8), q8_d_.resize(n8), q8_sum_.resize(n8);
  if (q8k && q8k_.size() < n8k) q8k_.resize(n8k);
  const QuantizeFn quantize = GetQuantizeKernel(isa);
  const QuantizeKFn quantize_k = GetQuantizeKKernel(isa);
  auto tokens = [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      if (q8) {
        const size_t first = static_cast<size_t>(t * (cols / 32));
        quantize(x + t * cols, q8_.data() + first, cols);
        for (size_t k = first; k < first + static_cast<size_t>(cols / 32); ++k) q8_d_[k] = q8_[k].d, q8_sum_[k] = q8_[k].sum;
      }
      if (q8k) quantize_k(x + t * cols, q8k_.data() + t * (cols / 256), cols);
    }
  };
  // A prompt's rows are quantized on the team (on one thread this was ~5 % of a 128-token prompt
  // with the other core idle); a few tokens are not worth a fork/join.
  constexpr int kTokensPerChunk = 8;
  if (team == nullptr || n_tokens < 2 * kTokensPerChunk) return tokens(0, n_tokens);
  team->ParallelFor((n_tokens + kTokensPerChunk - 1) / kTokensPerChunk, [&](int64_t c) {
    tokens(c * kTokensPerChunk, std::min<int64_t>(n_tokens, (c + 1) * kTokensPerChunk));
  });
}

QuantizedRow QuantizedActivations::Row(int t) const {
  QuantizedRow row;
  if (has_q8_) {
    const int64_t first = t * (cols_ / 32);
    row.q8 = q8_.data() + first;
    row.q8_d = q8_d_.data() + first;
    row.q8_sum = q8_sum_.data() + first;
  }
  if (has_q8k_) row.q8k = q8k_.data() + t * (cols_ / 256);
  return row;
}

namespace {

DotTokensFn ResolveDotTokensKernel(DType type, Isa isa) {
  if (isa == Isa::kAvx512) {
    if (DotTokensFn f = GetDotTokensKernelAvx512(type)) return f;
    isa = Isa::kAvx2;
  }
  return isa == Isa::kAvx2 ? GetDotTokensKernelAvx2(type) : nullptr;
}

// Rows per parallel chunk: at least kMinRowsPerChunk, and about kChunksPerThread chunks per thread
// for big matrices — enough chunks to balance threads when another process takes a core, few
// enough that the shared atomic counter stays cold (the 151936-row output matrix would otherwise
// take ~9500 cross-core hand-outs per token) and each thread streams long contiguous runs.
constexpr int64_t kMinRowsPerChunk = 16;
constexpr int64_t kChunksPerThread = 16;

int64_t RowsPerChunk(int64_t rows, int threads) {
  return std::max(kMinRowsPerChunk, (rows + threads * kChunksPerThread - 1) / (threads * kChunksPerThread));
}

// MatMulMany on the dot kernels: one parallel loop over every target's rows; `xq` holds the
// activations quantized in the block sizes the targets read.
void MatMulDots(std::span<const MatMulTarget> targets, const float* x, int n_tokens, WorkerTeam* team, Isa isa,
                const QuantizedActivations& xq) {
  const int64_t cols = targets[0].w->cols;
  struct Plan {
    DotFn dot;
    DotTokensFn dot_tokens;
    DotRowsFn dot_rows;
    int64_t first_chunk, rows_per_chunk;
  };
  const int threads = team ? team->threads() : 1;
  std::vector<Plan> plans;
  plans.reserve(targets.size());
  int64_t chunks = 0;
  for (const MatMulTarget& t : targets) {
    const int64_t rows_per_chunk = RowsPerChunk(t.w->rows, threads);
    plans.push_back({ResolveDotKernel(t.w->type, isa), n_tokens > 1 ? ResolveDotTokensKernel(t.w->type, isa) : nullptr,
                     n_tokens == 1 ? ResolveDotRowsKernel(t.w->type, isa) : nullptr, chunks, rows_per_chunk});
    chunks += (t.w->rows + rows_per_chunk - 1) / rows_per_chunk;
  }
  auto run = [&](int64_t c) {
    size_t i = plans.size() - 1;
    while (plans[i].first_chunk > c) --i;
    const WeightMatrix& w = *targets[i].w;
    float* y = targets[i].y;
    const Plan& plan = plans[i];
    const bool quantized = IsQuantized(w.type);
    const int64_t r0 = (c - plan.first_chunk) * plan.rows_per_chunk, r1 = std::min(w.rows, r0 + plan.rows_per_chunk);
    if (plan.dot_tokens) {
      // Tiles of kMinRowsPerChunk rows; token groups outside, rows inside, so a tile's rows stay
      // in L1 while every token group passes over them.
      for (int64_t rb = r0; rb < r1; rb += kMinRowsPerChunk) {
        const int64_t re = std::min(r1, rb + kMinRowsPerChunk);
        for (int t0 = 0; t0 < n_tokens; t0 += kDotTokens) {
          const int nt = std::min(kDotTokens, n_tokens - t0);
          for (int64_t r = rb; r < re; ++r)
            plan.dot_tokens(w.data + static_cast<size_t>(r) * w.row_bytes, xq.Row(t0), cols, nt, cols,
                            y + static_cast<int64_t>(t0) * w.rows + r, w.rows);
        }
      }
      return;
    }
    if (plan.dot_rows) {
      plan.dot_rows(w.data + static_cast<size_t>(r0) * w.row_bytes, w.row_bytes, r1 - r0, xq.Row(0), cols, y + r0);
      return;
    }
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = w.data + static_cast<size_t>(r) * w.row_bytes;
      for (int t = 0; t < n_tokens; ++t)
        y[static_cast<int64_t>(t) * w.rows + r] =
            plan.dot(row, quantized ? nullptr : x + static_cast<int64_t>(t) * cols,
                     quantized ? xq.Row(t) : QuantizedRow{}, cols);
    }
  };
  if (team) {
    team->ParallelFor(chunks, run);
  } else {
    for (int64_t c = 0; c < chunks; ++c) run(c);
  }
}

}  // namespace

void MatMulMany(std::span<const MatMulTarget> targets, const float* x, int n_tokens, WorkerTeam* team, Isa isa,
                MatMulScratch* scratch) {
  if (targets.empty() || n_tokens <= 0) return;
  // From GemmQuantizedMinRows(type) tokens on, quantized weights go to the integer GEMM (one pass
  // of unpacking per panel for every token, a register tile of int32 sums); float weights (and a
  // quantized type it lacks) to the f32 GEMM from GemmMinRows(type); the rest to the dot kernels.
  // The integer GEMM and the dot kernels read the same quantized activations.
  std::vector<MatMulTarget> integer, dots;
  bool q8 = false, q8k = false;
  for (const MatMulTarget& t : targets) {
    const DType type = t.w->type;
    if (GemmQuantizedSupports(type) && n_tokens >= GemmQuantizedMinRows(type)) {
      integer.push_back(t);
    } else if (!GemmQuantizedSupports(type) && n_tokens >= GemmMinRows(type)) {
      GemmFloat(*t.w, x, n_tokens, t.w->cols, nullptr, t.y, t.w->rows, team, isa);
      continue;
    } else {
      dots.push_back(t);
    }
    q8 |= ReadsQ8(type), q8k |= ReadsQ8K(type);
  }
  if (integer.empty() && dots.empty()) return;
  if (q8 || q8k) scratch->xq.Quantize(x, n_tokens, targets[0].w->cols, q8, q8k, isa, team);
  if (!integer.empty()) GemmQuantized(integer, scratch->xq, n_tokens, team, isa);
  if (!dots.empty()) MatMulDots(dots, x, n_tokens, team, isa, scratch->xq);
}

void MatMul(const WeightMatrix& w, const float* x, int n_tokens, float* y, WorkerTeam* team, Isa isa,
            MatMulScratch* scratch) {
  const MatMulTarget target{&w, y};
  MatMulMany(std::span<const MatMulTarget>(&target, 1), x, n_tokens, team, isa, scratch);
}

}  // namespace cadence::engine
