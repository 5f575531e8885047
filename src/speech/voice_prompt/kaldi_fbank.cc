#include "speech/voice_prompt/kaldi_fbank.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "speech/asr/whisper/fft.h"

namespace cadence::speech::voice_prompt {
namespace {

constexpr double kPreemphasis = 0.97;
constexpr double kLowHz = 20.0;
constexpr float kLogFloor = 1.1920928955078125e-07f;  // torch.finfo(torch.float32).eps

double HtkMel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

}  // namespace

std::vector<float> KaldiMelBanks(int n_bins) {
  constexpr int kBins = kFbankFftSize / 2 + 1;
  std::vector<float> banks(static_cast<size_t>(std::max(n_bins, 0)) * kBins, 0.0f);
  const double mel_low = HtkMel(kLowHz), mel_high = HtkMel(kFbankSampleRateHz / 2.0);
  const double delta = (mel_high - mel_low) / (n_bins + 1);
  for (int m = 0; m < n_bins; ++m) {
    const double left = mel_low + m * delta, center = left + delta, right = center + delta;
    for (int k = 0; k < kFbankFftSize / 2; ++k) {  // the Nyquist bin keeps weight 0
      const double mel = HtkMel(static_cast<double>(k) * kFbankSampleRateHz / kFbankFftSize);
      const double up = (mel - left) / (center - left), down = (right - mel) / (right - center);
      banks[static_cast<size_t>(m) * kBins + k] = static_cast<float>(std::max(0.0, std::min(up, down)));
    }
  }
  return banks;
}

Result<Fbank> ComputeKaldiFbank(std::span<const float> samples_16k, int n_bins) {
  if (n_bins < 1 || n_bins > kFbankFftSize / 2) {
    return Status::InvalidArgument("kaldi fbank: " + std::to_string(n_bins) + " mel bins is outside [1, 256]");
  }
  if (samples_16k.size() < static_cast<size_t>(kFbankFrameSamples)) {
    return Status::InvalidArgument("kaldi fbank: " + std::to_string(samples_16k.size()) +
                                   " samples is shorter than one 25 ms frame (400 samples at 16 kHz)");
  }
  constexpr int kBins = kFbankFftSize / 2 + 1;
  static const std::vector<float> kBanks80 = KaldiMelBanks(kFbankBins);
  const std::vector<float> own = n_bins == kFbankBins ? std::vector<float>() : KaldiMelBanks(n_bins);
  const std::vector<float>& banks = n_bins == kFbankBins ? kBanks80 : own;
  static const std::vector<double> kWindow = [] {
    std::vector<double> w(kFbankFrameSamples);
    for (int n = 0; n < kFbankFrameSamples; ++n) {
      w[n] = std::pow(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / (kFbankFrameSamples - 1)), 0.85);
    }
    return w;
  }();
  static const whisper::Fft fft(kFbankFftSize);

  Fbank out;
  out.n_bins = n_bins;
  out.n_frames = 1 + static_cast<int>((samples_16k.size() - kFbankFrameSamples) / kFbankHopSamples);
  out.data.assign(static_cast<size_t>(out.n_frames) * n_bins, 0.0f);
  std::vector<double> frame(kFbankFftSize, 0.0), power(kBins);
  for (int f = 0; f < out.n_frames; ++f) {
    const float* x = samples_16k.data() + static_cast<size_t>(f) * kFbankHopSamples;
    double mean = 0;
    for (int n = 0; n < kFbankFrameSamples; ++n) mean += x[n];
    mean /= kFbankFrameSamples;
    // Pre-emphasis after the DC removal; the first sample is emphasised against itself.
    double previous = x[0] - mean;
    for (int n = 0; n < kFbankFrameSamples; ++n) {
      const double v = x[n] - mean;
      frame[n] = (v - kPreemphasis * previous) * kWindow[n];
      previous = v;
    }
    std::fill(frame.begin() + kFbankFrameSamples, frame.end(), 0.0);
    fft.PowerSpectrum(frame.data(), power.data());
    for (int m = 0; m < n_bins; ++m) {
      const float* bank = &banks[static_cast<size_t>(m) * kBins];
      double energy = 0;
      for (int k = 0; k < kBins; ++k) energy += bank[k] * power[k];
      out.data[static_cast<size_t>(f) * n_bins + m] = static_cast<float>(std::log(std::max(energy, static_cast<double>(kLogFloor))));
    }
  }
  return out;
}

void SubtractMeanOverTime(Fbank* fbank) {
  if (fbank->n_frames == 0) return;
  for (int m = 0; m < fbank->n_bins; ++m) {
    double mean = 0;
    for (int f = 0; f < fbank->n_frames; ++f) mean += fbank->at(f, m);
    mean /= fbank->n_frames;
    for (int f = 0; f < fbank->n_frames; ++f) {
      fbank->data[static_cast<size_t>(f) * fbank->n_bins + m] -= static_cast<float>(mean);
    }
  }
}

}  // namespace cadence::speech::voice_prompt
