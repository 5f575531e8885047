#include "speech/voice_prompt/prompt_mel.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "speech/asr/whisper/fft.h"

namespace cadence::speech::voice_prompt {

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
