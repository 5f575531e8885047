// Waveform sculpting for synthesized speech: what the engines cannot do natively.
//
// Pure functions on mono float buffers; thread-safe (each call owns its Rubber Band instance).
// Sample rates in Hz; amounts documented per function.
#pragma once

#include <cstdint>
#include <vector>

namespace cadence::speech {

// Shifts pitch by `semitones` keeping duration and formants (Rubber Band, offline, R2 engine).
void PitchShift(std::vector<float>* pcm, int sample_rate_hz, double semitones);

// Makes voice breathy: mixes in an LPC-resynthesis of the signal driven by noise instead of the
// glottal source. amount 0 = unchanged, 1 = whisper (no voicing left).
void Breathe(std::vector<float>* pcm, int sample_rate_hz, double amount, uint32_t seed = 1);

// Removes leading/trailing silence below `threshold` (linear peak) except `keep_ms` at each end.
void TrimSilence(std::vector<float>* pcm, int sample_rate_hz, float threshold = 0.01f, int keep_ms = 30);

// Multiplies by `gain` and soft-limits so peaks never exceed 0.99.
void ApplyGain(std::vector<float>* pcm, double gain);

}  // namespace cadence::speech
