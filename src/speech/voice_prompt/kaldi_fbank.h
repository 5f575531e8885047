// Kaldi filterbank features as CAM++ (campplus.onnx) takes them: what CosyVoice 2 and Step-Audio 2
// compute with torchaudio.compliance.kaldi.fbank(wave, num_mel_bins=80, dither=0,
// sample_frequency=16000) and then mean-normalise over time.
//
// Kaldi's definition with torchaudio's defaults: 25 ms frames every 10 ms (400 / 160 samples at
// 16 kHz), snip_edges (frames = 1 + (samples - 400) / 160, none below 400 samples), per-frame DC
// offset removed, pre-emphasis 0.97 (the first sample against itself), Povey window
// ((0.5 - 0.5 cos(2 pi n / 399))^0.85), zero-padded to a 512-point FFT, power spectrum, 80
// triangular filters equally spaced on the HTK mel scale (1127 ln(1 + f / 700)) from 20 Hz to
// Nyquist over bins 0..255 (the Nyquist bin has weight 0), natural log floored at float32's
// epsilon (1.1920929e-7). No energy term, no dither: deterministic.
//
// The samples are used at the scale given: CosyVoice feeds [-1, 1] floats (torchaudio.load).
// Pure functions, safe from any thread.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"

namespace cadence::speech::voice_prompt {

inline constexpr int kFbankSampleRateHz = 16000;
inline constexpr int kFbankFrameSamples = 400;
inline constexpr int kFbankHopSamples = 160;
inline constexpr int kFbankFftSize = 512;
inline constexpr int kFbankBins = 80;

struct Fbank {
  int n_frames = 0;
  int n_bins = 0;
  std::vector<float> data;  // [n_frames][n_bins], row-major (CAM++'s [T, 80] layout)
  float at(int frame, int bin) const { return data[static_cast<size_t>(frame) * n_bins + bin]; }
};

// Kaldi's mel filters: [n_bins][kFbankFftSize / 2 + 1], row-major.
std::vector<float> KaldiMelBanks(int n_bins);

// InvalidArgument when the audio is shorter than one 400-sample frame or n_bins is outside [1, 256].
Result<Fbank> ComputeKaldiFbank(std::span<const float> samples_16k, int n_bins = kFbankBins);

// Subtracts each bin's mean over the frames (CosyVoice: feat - feat.mean(dim=0, keepdim=True)).
void SubtractMeanOverTime(Fbank* fbank);

}  // namespace cadence::speech::voice_prompt
