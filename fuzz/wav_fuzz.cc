// Fuzzes ParseWav (the in-memory WAV reader behind ReadWav): any bytes give a Waveform or an
// error, and a Waveform's samples are finite and within [-1, 1] (ReadWav's contract).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "audio/wav.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto wave = cadence::audio::ParseWav(std::span<const uint8_t>(data, size), "fuzz.wav");
  if (!wave.ok()) return 0;
  for (float s : wave->samples) {
    if (!std::isfinite(s) || s < -1.0f - 1e-6f || s > 1.0f + 1e-6f) std::abort();
  }
  (void)cadence::audio::EncodeWav(*wave);
  return 0;
}
