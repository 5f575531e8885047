// Nonverbal vocalizations synthesized from a source-filter model: laugh, sigh, breath.
//
// Pure functions; thread-safe. Output is mono float at `sample_rate_hz`. `f0_hz` is the voice's
// speaking pitch so a laugh matches the voice it interrupts.
#pragma once

#include <cstdint>
#include <vector>

namespace cadence::speech {

// "ha-ha-ha-ha": 4 voiced bursts with aspirated onsets, falling pitch and loudness (~0.9 s).
std::vector<float> SynthesizeLaugh(int sample_rate_hz, double f0_hz, uint32_t seed = 11);
// A breathy exhalation with a falling spectral envelope and faint falling voicing (~0.95 s).
std::vector<float> SynthesizeSigh(int sample_rate_hz, double f0_hz, uint32_t seed = 12);
// A soft inhalation: band-limited noise under a raised-cosine envelope (~0.4 s).
std::vector<float> SynthesizeBreath(int sample_rate_hz, uint32_t seed = 13);

}  // namespace cadence::speech
