// AVX-512 dot kernels (kernels_avx512.inc) on the native instructions. Compiled with function
// target attributes (AVX-512 F/BW/VL/VNNI: Ice Lake, Zen 4 and later); only called after
// IsaSupported(Isa::kAvx512). This project's own machine (AMD Zen 3, AVX2) cannot run them:
// kernels_test checks them against scalar wherever the CPU has AVX-512, and kernels_avx512_test
// runs the same source on SIMDe's emulation everywhere.
// GCC 12's AVX-512 intrinsic headers trip -Wuninitialized under target attributes (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "engine/dtype.h"
#include "engine/kernel_families.h"
#include "engine/kernels.h"

#define CADENCE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define CADENCE_HALF(p) _cvtsh_ss(static_cast<uint16_t>((p)[0] | ((p)[1] << 8)))
#define CADENCE_CVTEPI32_PS(v) _mm512_cvtepi32_ps(v)
#define CADENCE_CVTPH_PS(v) _mm512_cvtph_ps(v)
#define CADENCE_REDUCE_ADD_PS(v) _mm512_reduce_add_ps(v)

namespace cadence::engine {
namespace {

#include "engine/kernels_avx512.inc"

}  // namespace

DotFn GetDotKernelAvx512(DType type) { return Avx512DotKernel(type); }

DotTokensFn GetDotTokensKernelAvx512(DType type) { return Avx512DotTokensKernel(type); }

}  // namespace cadence::engine
