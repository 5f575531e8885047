#include "speech/asr/whisper/log_mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "speech/asr/whisper/fft.h"

namespace cadence::speech::whisper {
namespace {

// Slaney's mel scale (librosa htk=False): linear below 1 kHz, logarithmic above.
constexpr double kMelLinearHz = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kMelLinearHz;

double LogStep() { return std::log(6.4) / 27.0; }

double HzToMel(double hz) {
  return hz >= kMinLogHz ? kMinLogMel + std::log(hz / kMinLogHz) / LogStep() : hz / kMelLinearHz;
}

double MelToHz(double mel) {
  return mel >= kMinLogMel ? kMinLogHz * std::exp(LogStep() * (mel - kMinLogMel)) : mel * kMelLinearHz;
}

// torch.stft(center=True) pads with "reflect": the edge sample is not repeated.
double ReflectAt(std::span<const float> x, int64_t i) {
  const int64_t n = static_cast<int64_t>(x.size());
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return x[static_cast<size_t>(i)];
}

}  // namespace

std::vector<float> SlaneyMelFilterbank(int sample_rate_hz, int n_fft, int n_mels, double fmin_hz, double fmax_hz) {
  const int bins = n_fft / 2 + 1;
  std::vector<float> weights(static_cast<size_t>(std::max(n_mels, 0)) * bins, 0.0f);
  if (n_mels <= 0) return weights;
  const double mel_min = HzToMel(fmin_hz), mel_max = HzToMel(fmax_hz);
  std::vector<double> hz(n_mels + 2);
  for (int i = 0; i < n_mels + 2; ++i) hz[i] = MelToHz(mel_min + (mel_max - mel_min) * i / (n_mels + 1));
  for (int m = 0; m < n_mels; ++m) {
    const double enorm = 2.0 / (hz[m + 2] - hz[m]);
    for (int k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * sample_rate_hz / n_fft;
      const double lower = (f - hz[m]) / (hz[m + 1] - hz[m]);
      const double upper = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
      weights[static_cast<size_t>(m) * bins + k] = static_cast<float>(std::max(0.0, std::min(lower, upper)) * enorm);
    }
  }
  return weights;
}

std::vector<float> MelFilterbank(int n_mels) {
  return SlaneyMelFilterbank(kSampleRateHz, kFftSize, n_mels, 0.0, kSampleRateHz / 2.0);
}

Result<LogMel> ComputeLogMel(std::span<const float> samples_16k, const LogMelOptions& options) {
  const int n_mels = options.n_mels;
  if (n_mels < 1 || n_mels > 512) {
    return Status::InvalidArgument("whisper log-mel: n_mels " + std::to_string(n_mels) +
                                   " is outside [1, 512]; Whisper models use 80 or 128");
  }
  std::vector<float> own_filters;
  std::span<const float> filters = options.filters;
  if (filters.empty()) {
    own_filters = MelFilterbank(n_mels);
    filters = own_filters;
  } else if (filters.size() != static_cast<size_t>(n_mels) * kFftBins) {
    return Status::InvalidArgument("whisper log-mel: mel filters hold " + std::to_string(filters.size()) +
                                   " values, expected n_mels x 201 = " + std::to_string(n_mels * kFftBins));
  }

  std::vector<float> padded;
  std::span<const float> audio = samples_16k;
  if (options.pad_to_30s) {
    padded.assign(kChunkSamples, 0.0f);
    std::copy_n(samples_16k.begin(), std::min<size_t>(samples_16k.size(), kChunkSamples), padded.begin());
    audio = padded;
  } else if (audio.size() <= kFftSize / 2) {
    return Status::InvalidArgument("whisper log-mel: " + std::to_string(audio.size()) +
                                   " samples is too short; need more than 200 (12.5 ms at 16 kHz)");
  }

  LogMel mel;
  mel.n_mels = n_mels;
  mel.n_frames = static_cast<int>(audio.size() / kHopSamples);
  mel.data.assign(static_cast<size_t>(n_mels) * mel.n_frames, 0.0f);

  // Each filter is a triangle: only its nonzero bins take part in the projection.
  std::vector<int> first_bin(n_mels, 0), end_bin(n_mels, 0);
  for (int m = 0; m < n_mels; ++m) {
    const float* row = filters.data() + static_cast<size_t>(m) * kFftBins;
    int lo = 0, hi = kFftBins;
    while (lo < kFftBins && row[lo] == 0.0f) ++lo;
    while (hi > lo && row[hi - 1] == 0.0f) --hi;
    first_bin[m] = lo;
    end_bin[m] = hi;
  }

  std::vector<double> window(kFftSize);
  for (int t = 0; t < kFftSize; ++t) window[t] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * t / kFftSize);

  static const Fft fft(kFftSize);
  std::vector<double> frame(kFftSize), power(kFftBins);
  std::vector<double> log_spec(mel.data.size());
  double max_log = -1e300;
  for (int f = 0; f < mel.n_frames; ++f) {
    const int64_t start = static_cast<int64_t>(f) * kHopSamples - kFftSize / 2;
    bool silent = true;
    for (int t = 0; t < kFftSize; ++t) silent &= (frame[t] = ReflectAt(audio, start + t) * window[t]) == 0.0;
    // A window of exact zeros (the 30-s padding after a short utterance: most frames of a final)
    // has zero power in every bin; skipping its FFT gives the same values.
    if (silent) {
      std::fill(power.begin(), power.end(), 0.0);
    } else {
      fft.PowerSpectrum(frame.data(), power.data());
    }
    for (int m = 0; m < n_mels; ++m) {
      const float* row = filters.data() + static_cast<size_t>(m) * kFftBins;
      double sum = 0.0;
      for (int k = first_bin[m]; k < end_bin[m]; ++k) sum += row[k] * power[k];
      const double v = std::log10(std::max(sum, 1e-10));
      log_spec[static_cast<size_t>(m) * mel.n_frames + f] = v;
      max_log = std::max(max_log, v);
    }
  }
  const double floor = max_log - 8.0;
  for (size_t i = 0; i < log_spec.size(); ++i) {
    mel.data[i] = static_cast<float>((std::max(log_spec[i], floor) + 4.0) / 4.0);
  }
  return mel;
}

}  // namespace cadence::speech::whisper
