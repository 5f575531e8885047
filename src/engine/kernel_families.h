// Kernel families, for the SIMD kernel files (kernels_avx2.cc, kernels_avx512.inc): a family K is
// one quantized type's kernel template, K<NT>::Run its NT-token instance, of the form
//   void Run(const void* w_row, QuantizedRow xq, int64_t x_stride, int64_t n, float* y, int64_t y_stride)
// (y[t * y_stride] = the row's dot with token t, for t < NT). These turn a family into kernels.h's
// DotFn (its one-token instance) and DotTokensFn (1..kDotTokens tokens dispatched to their instance).
#pragma once

#include <cstdint>

#include "engine/kernels.h"

namespace cadence::engine {

template <template <int> class K>
float DotOneOf(const void* w, const float*, QuantizedRow xq, int64_t n) {
  float y;
  K<1>::Run(w, xq, 0, n, &y, 1);
  return y;
}

template <template <int> class K>
void DotTokensOf(const void* w, QuantizedRow xq, int64_t x_stride, int n_tok, int64_t n, float* y, int64_t y_stride) {
  switch (n_tok) {
    case 1: K<1>::Run(w, xq, x_stride, n, y, y_stride); break;
    case 2: K<2>::Run(w, xq, x_stride, n, y, y_stride); break;
    case 3: K<3>::Run(w, xq, x_stride, n, y, y_stride); break;
    default: K<4>::Run(w, xq, x_stride, n, y, y_stride); break;
  }
}
static_assert(kDotTokens == 4, "DotTokensOf dispatches 1..4 tokens");

}  // namespace cadence::engine
