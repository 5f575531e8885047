// WAV files: RIFF/WAVE with PCM 8/16/24/32-bit integer or 32-bit float, any channel count.
//
// ReadWav downmixes to mono float [-1, 1] at the file's own rate; WriteWav writes mono pcm16.
// Errors name the file and the chunk or field at fault.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace cadence::audio {

struct Waveform {
  int sample_rate_hz = 0;
  std::vector<float> samples;  // mono
  double duration_s() const {
    return sample_rate_hz > 0 ? static_cast<double>(samples.size()) / sample_rate_hz : 0.0;
  }
};

Result<Waveform> ReadWav(const std::string& path);
// Parses a WAV held in memory; `name` is used in error messages.
Result<Waveform> ParseWav(std::span<const uint8_t> bytes, const std::string& name = "wav");
Status WriteWav(const std::string& path, const Waveform& wave);
std::vector<uint8_t> EncodeWav(const Waveform& wave);

}  // namespace cadence::audio
