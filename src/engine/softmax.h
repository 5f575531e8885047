// Softmax over a row of scores, in place: the attention weights of every transformer here (the
// engine's decoder, Whisper's encoder and decoder). Whisper's encoder alone takes ~54 million
// exponentials per 30-s window, so the AVX2 path computes exp with a polynomial (Cephes' expf
// scheme, within 2 ulp of std::exp) eight lanes at a time; the scalar path uses std::exp.
// Scores of -inf (masked) give 0 on the scalar path and at most 1e-38 before normalization on the
// SIMD path.
#pragma once

#include <cstdint>

#include "engine/kernels.h"

namespace cadence::engine {

void Softmax(float* x, int64_t n, Isa isa);

// Softmax without the normalization, for a row split into chunks (each chunk's weights are
// rescaled by e^(its max - the row's max) when the chunks are joined): x = e^(x - max x) in place.
struct ShiftedExp {
  float max = 0.0f;  // the max of x before the call
  float sum = 0.0f;  // the sum of x after it
};
ShiftedExp ExpShifted(float* x, int64_t n, Isa isa);

}  // namespace cadence::engine
