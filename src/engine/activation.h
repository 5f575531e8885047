// Elementwise activations of the transformers here, in place: GELU (Whisper's MLP and conv stem)
// and SwiGLU's SiLU gate (Qwen2/Llama). Whisper-tiny's encoder takes ~12 million GELUs per 30-s
// window, so the AVX2 paths compute them eight lanes at a time with polynomial exp and erf; the
// scalar paths use std::erf / std::exp and are the reference the tests hold the SIMD ones to.
#pragma once

#include <cstdint>

#include "engine/kernels.h"

namespace cadence::engine {

// x = x * Φ(x) = 0.5 x (1 + erf(x / √2)), the exact (erf) GELU of PyTorch's nn.GELU().
void Gelu(float* x, int64_t n, Isa isa);

// gate = silu(gate) * up = gate / (1 + e^-gate) * up.
void SiluMul(float* gate, const float* up, int64_t n, Isa isa);

}  // namespace cadence::engine
