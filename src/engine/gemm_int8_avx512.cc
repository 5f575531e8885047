// AVX-512 VNNI tiles of the integer GEMM (layout: gemm_int8.h): 8 tokens x 16 weight rows, one
// 512-bit register of int32 sums per token, four activation bytes broadcast from memory into
// vpdpbusd against a step of 16 rows x 4 unsigned quants. Per block (Q8 family) the sums start at
// -offset * sum(x) and meet d_w * d_x in one FMA; the K-quants multiply each sub-block's (Q4_K)
// or group's (Q6_K) sums by its integer scale (vpmulld) and take the mins / the -32 through
// vpdpwssd of scale pairs with the activations' 16-value sums. Packing is AVX2's. Compiled with
// function target attributes (AVX-512 F/BW/VL/VNNI); only called after IsaSupported(Isa::kAvx512).
// GCC 12's AVX-512 intrinsic headers trip -Wuninitialized under target attributes (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "engine/gemm_int8.h"

#define CADENCE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

namespace cadence::engine::gemm_int8 {
namespace {

// Four activation bytes (or two int16) broadcast to every 32-bit lane.
CADENCE_AVX512 inline __m512i Broadcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
CADENCE_AVX512 inline __m512i Load64(const uint8_t* p) { return _mm512_loadu_si512(p); }

CADENCE_AVX512 inline void StoreRow(__m512 v, float* c, int n) {
  if (n >= 16) {
    _mm512_storeu_ps(c, v);
  } else {
    _mm512_mask_storeu_ps(c, static_cast<__mmask16>((1u << n) - 1), v);
  }
}

template <int MR, int kOffset>
CADENCE_AVX512 void TileQ8(const uint8_t* panel, int64_t units, TileInput in, float* c, int64_t ldc,
                           int nr) {
  const Q8Block* x = static_cast<const Q8Block*>(in.x);
  const int32_t* corr = in.corr;
  const int64_t xs = in.stride;
  __m512 acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  const uint8_t* unit = panel;
  for (int64_t k = 0; k < units; ++k, unit += kUnitBytesQ8) {
    __m512i dot[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) dot[i] = _mm512_set1_epi32(corr[k * in.corr_stride + i]);
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const __m512i w = Load64(unit + 64 * s);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) dot[i] = _mm512_dpbusd_epi32(dot[i], w, Broadcast4(x[i * xs + k].q + 4 * s));
    }
    const __m512 dw = _mm512_loadu_ps(unit + kQuantBytesQ8);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[i]), _mm512_mul_ps(dw, _mm512_set1_ps(x[i * xs + k].d)), acc[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) StoreRow(acc[i], c + i * ldc, nr);
}

template <int MR>
CADENCE_AVX512 void TileQ4K(const uint8_t* panel, int64_t units, TileInput in, float* c, int64_t ldc,
                            int nr) {
  const Q8KBlock* x = static_cast<const Q8KBlock*>(in.x);
  const int64_t xs = in.stride;
  __m512 acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < units; ++k) {
    const uint8_t* unit = panel + k * kUnitBytesQ4_K;
    __m512i sum[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) sum[i] = _mm512_setzero_si512();
    for (int s = 0; s < 8; ++s) {
      __m512i dot[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) dot[i] = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int step = 0; step < 8; ++step) {
        const __m512i w = Load64(unit + 64 * (8 * s + step));
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i)
          dot[i] = _mm512_dpbusd_epi32(dot[i], w, Broadcast4(x[i * xs + k].q + 32 * s + 4 * step));
      }
      const __m512i sc = Load64(unit + kQ4KSc + 64 * s);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) sum[i] = _mm512_add_epi32(sum[i], _mm512_mullo_epi32(dot[i], sc));
    }
    const __m512 d = _mm512_loadu_ps(unit + kQ4KD), dmin = _mm512_loadu_ps(unit + kQ4KDmin);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i mins = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int s = 0; s < 8; ++s)
        mins = _mm512_dpwssd_epi32(mins, Load64(unit + kQ4KM2 + 64 * s), Broadcast4(x[i * xs + k].bsums + 2 * s));
      const __m512 dx = _mm512_set1_ps(x[i * xs + k].d);
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[i]), _mm512_mul_ps(d, dx), acc[i]);
      acc[i] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(dmin, dx), acc[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) StoreRow(acc[i], c + i * ldc, nr);
}

template <int MR>
CADENCE_AVX512 void TileQ6K(const uint8_t* panel, int64_t units, TileInput in, float* c, int64_t ldc,
                            int nr) {
  const Q8KBlock* x = static_cast<const Q8KBlock*>(in.x);
  const int64_t xs = in.stride;
  __m512 acc[MR];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i] = _mm512_setzero_ps();
  for (int64_t k = 0; k < units; ++k) {
    const uint8_t* unit = panel + k * kUnitBytesQ6_K;
    __m512i sum[MR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) sum[i] = _mm512_setzero_si512();
    for (int g = 0; g < 16; ++g) {
      __m512i dot[MR];
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) dot[i] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int step = 0; step < 4; ++step) {
        const __m512i w = Load64(unit + 64 * (4 * g + step));
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i)
          dot[i] = _mm512_dpbusd_epi32(dot[i], w, Broadcast4(x[i * xs + k].q + 16 * g + 4 * step));
      }
      const __m512i sc = Load64(unit + kQ6KSc + 64 * g);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) sum[i] = _mm512_add_epi32(sum[i], _mm512_mullo_epi32(dot[i], sc));
    }
    const __m512 d = _mm512_loadu_ps(unit + kQ6KD);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512i offset = _mm512_setzero_si512();
#pragma GCC unroll 8
      for (int p = 0; p < 8; ++p)
        offset = _mm512_dpwssd_epi32(offset, Load64(unit + kQ6KSp + 64 * p), Broadcast4(x[i * xs + k].bsums + 2 * p));
      const __m512i total = _mm512_sub_epi32(sum[i], _mm512_slli_epi32(offset, 5));
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), _mm512_mul_ps(d, _mm512_set1_ps(x[i * xs + k].d)), acc[i]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) StoreRow(acc[i], c + i * ldc, nr);
}

constexpr int kMr = 8;

template <template <int> class T>
void TileAnyRows(const uint8_t* panel, int64_t units, TileInput in, int mr, float* c, int64_t ldc, int nr) {
  switch (mr) {
    case 1: T<1>::Run(panel, units, in, c, ldc, nr); break;
    case 2: T<2>::Run(panel, units, in, c, ldc, nr); break;
    case 3: T<3>::Run(panel, units, in, c, ldc, nr); break;
    case 4: T<4>::Run(panel, units, in, c, ldc, nr); break;
    case 5: T<5>::Run(panel, units, in, c, ldc, nr); break;
    case 6: T<6>::Run(panel, units, in, c, ldc, nr); break;
    case 7: T<7>::Run(panel, units, in, c, ldc, nr); break;
    default: T<8>::Run(panel, units, in, c, ldc, nr); break;
  }
}
static_assert(kMr == 8, "TileAnyRows dispatches 1..8 tokens");

template <int MR> struct Q8_0T { static constexpr auto Run = &TileQ8<MR, 128>; };
template <int MR> struct Q4_0T { static constexpr auto Run = &TileQ8<MR, 8>; };
template <int MR> struct Q5_0T { static constexpr auto Run = &TileQ8<MR, 16>; };
template <int MR> struct Q4_KT { static constexpr auto Run = &TileQ4K<MR>; };
template <int MR> struct Q6_KT { static constexpr auto Run = &TileQ6K<MR>; };

}  // namespace

Kernels Avx512Kernels(DType type) {
  switch (type) {
    case DType::kQ8_0: return {Avx2Pack(type), TileAnyRows<Q8_0T>, kMr};
    case DType::kQ4_0: return {Avx2Pack(type), TileAnyRows<Q4_0T>, kMr};
    case DType::kQ5_0:
    case DType::kQ5_0R: return {Avx2Pack(type), TileAnyRows<Q5_0T>, kMr};
    case DType::kQ4_K: return {Avx2Pack(type), TileAnyRows<Q4_KT>, kMr};
    case DType::kQ6_K: return {Avx2Pack(type), TileAnyRows<Q6_KT>, kMr};
    default: return {};
  }
}

}  // namespace cadence::engine::gemm_int8
