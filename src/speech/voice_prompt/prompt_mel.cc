#include "speech/voice_prompt/prompt_mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "speech/asr/whisper/fft.h"

namespace cadence::speech::voice_prompt {
namespace {

// Slaney's mel scale (librosa htk=False): linear below 1 kHz, logarithmic above.
constexpr double kMelLinearHz = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kMelLinearHz;

double LogStep() { return std::log(6.4) / 27.0; }
double HzToMel(double hz) { return hz >= kMinLogHz ? kMinLogMel + std::log(hz / kMinLogHz) / LogStep() : hz / kMelLinearHz; }
double MelToHz(double mel) { return mel >= kMinLogMel ? kMinLogHz * std::exp(LogStep() * (mel - kMinLogMel)) : mel * kMelLinearHz; }

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

Result<PromptMel> ComputePromptMel(std::span<const float> samples_24k) {
  constexpr int kPad = (kPromptMelFftSize - kPromptMelHopSamples) / 2;  // 720
  constexpr int kBins = kPromptMelFftSize / 2 + 1;
  const int64_t n = static_cast<int64_t>(samples_24k.size());
  if (n <= kPad) {
    return Status::InvalidArgument("prompt mel: " + std::to_string(n) + " samples at 24 kHz is too short (more than " +
                                   std::to_string(kPad) + " are needed to reflect-pad)");
  }
  static const std::vector<float> kFilters =
      SlaneyMelFilterbank(kPromptMelSampleRateHz, kPromptMelFftSize, kPromptMelBins, 0.0, 8000.0);
  static const std::vector<double> kWindow = [] {
    std::vector<double> w(kPromptMelFftSize);
    for (int i = 0; i < kPromptMelFftSize; ++i) w[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / kPromptMelFftSize);
    return w;
  }();
  static const whisper::Fft fft(kPromptMelFftSize);
  // Reflect padding: the edge sample is not repeated.
  auto at = [&](int64_t i) -> double {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return samples_24k[static_cast<size_t>(i)];
  };
  PromptMel out;
  out.n_mels = kPromptMelBins;
  out.n_frames = static_cast<int>((n + 2 * kPad - kPromptMelFftSize) / kPromptMelHopSamples + 1);
  out.data.assign(static_cast<size_t>(out.n_frames) * kPromptMelBins, 0.0f);
  std::vector<double> frame(kPromptMelFftSize), power(kBins), magnitude(kBins);
  for (int f = 0; f < out.n_frames; ++f) {
    const int64_t start = static_cast<int64_t>(f) * kPromptMelHopSamples - kPad;
    for (int i = 0; i < kPromptMelFftSize; ++i) frame[i] = at(start + i) * kWindow[i];
    fft.PowerSpectrum(frame.data(), power.data());
    for (int k = 0; k < kBins; ++k) magnitude[k] = std::sqrt(power[k] + 1e-9);
    for (int m = 0; m < kPromptMelBins; ++m) {
      const float* filter = &kFilters[static_cast<size_t>(m) * kBins];
      double energy = 0;
      for (int k = 0; k < kBins; ++k) energy += filter[k] * magnitude[k];
      out.data[static_cast<size_t>(f) * kPromptMelBins + m] = static_cast<float>(std::log(std::max(energy, 1e-5)));
    }
  }
  return out;
}

void AlignMelToTokens(MelTokenAlignment how, PromptMel* mel, std::vector<int>* tokens) {
  size_t token_count = tokens->size();
  if (how == MelTokenAlignment::kCropToShorter) {
    token_count = std::min(token_count, static_cast<size_t>(mel->n_frames / kMelFramesPerToken));
    tokens->resize(token_count);
  }
  const int frames = static_cast<int>(token_count) * kMelFramesPerToken;
  const size_t row = static_cast<size_t>(mel->n_mels);
  if (frames <= mel->n_frames) {
    mel->data.resize(static_cast<size_t>(frames) * row);
  } else if (mel->n_frames > 0) {
    std::vector<float> last(mel->data.end() - static_cast<std::ptrdiff_t>(row), mel->data.end());
    for (int f = mel->n_frames; f < frames; ++f) mel->data.insert(mel->data.end(), last.begin(), last.end());
  } else {
    mel->data.assign(static_cast<size_t>(frames) * row, 0.0f);
  }
  mel->n_frames = frames;
}

}  // namespace cadence::speech::voice_prompt
