// Whisper's log-mel front end: 16 kHz mono audio to [n_mels][n_frames] features, exactly as
// openai/whisper's log_mel_spectrogram computes them.
//
// n_fft 400 (25 ms), hop 160 (10 ms), periodic Hann window, centred STFT with reflect padding and
// the last frame dropped (so n_frames = samples / 160), power spectrum, Slaney mel filterbank
// (librosa.filters.mel: Slaney scale, area-normalised), log10 with a 1e-10 floor, clamp to
// (max - 8), then (x + 4) / 4. With pad_to_30s the audio is zero-padded or trimmed to 480000
// samples first, giving the 3000 frames the encoder expects.
//
// Pure functions, safe from any thread. Units: samples at 16 kHz, frames of 10 ms.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"

namespace cadence::speech::whisper {

inline constexpr int kSampleRateHz = 16000;
inline constexpr int kFftSize = 400;
inline constexpr int kHopSamples = 160;
inline constexpr int kFftBins = kFftSize / 2 + 1;  // 201
inline constexpr int kChunkSamples = 30 * kSampleRateHz;
inline constexpr int kChunkFrames = kChunkSamples / kHopSamples;  // 3000

// librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) with Slaney scale and norm:
// [n_mels][n_fft/2+1], row-major. (Also the 24-kHz voice-prompt mel's filters, prompt_mel.h.)
std::vector<float> SlaneyMelFilterbank(int sample_rate_hz, int n_fft, int n_mels, double fmin_hz, double fmax_hz);

// The Slaney mel filterbank Whisper ships in mel_filters.npz: [n_mels][201], row-major
// (SlaneyMelFilterbank(16000, 400, n_mels, 0, 8000)).
std::vector<float> MelFilterbank(int n_mels);

struct LogMel {
  int n_mels = 0;
  int n_frames = 0;
  std::vector<float> data;  // [n_mels][n_frames], row-major (Whisper's layout)
  float at(int mel, int frame) const { return data[static_cast<size_t>(mel) * n_frames + frame]; }
};

struct LogMelOptions {
  int n_mels = 80;  // 80 (Whisper v1-v2, tiny..large-v2) or 128 (large-v3)
  bool pad_to_30s = false;
  // Filters to use instead of MelFilterbank(n_mels), e.g. those stored in a whisper.cpp model
  // file: [n_mels][201]. Must outlive the call.
  std::span<const float> filters;
};

// InvalidArgument when n_mels is outside [1, 512], when `filters` has the wrong size, or when
// unpadded audio is too short to reflect-pad (fewer than 201 samples).
Result<LogMel> ComputeLogMel(std::span<const float> samples_16k, const LogMelOptions& options);

}  // namespace cadence::speech::whisper
