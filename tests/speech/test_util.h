// Helpers shared by the speech tests: synthesize to a buffer, simple signal measurements.
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "audio/resampler.h"
#include "speech/tts/synthesizer.h"

namespace cadence::speech::testing {

inline const Synthesizer& SharedSynthesizer() {
  static std::unique_ptr<Synthesizer> synth = [] {
    auto s = CreateSynthesizer({});
    return s.ok() ? std::move(s).value() : nullptr;
  }();
  return *synth;
}

// Whole reply at 24 kHz; `chunks` (optional) receives the number of sink calls.
inline std::vector<float> Speak(const SynthesisRequest& request, int* chunks = nullptr, Status* status = nullptr) {
  std::vector<float> out;
  int n = 0;
  Status s = SharedSynthesizer().Synthesize(request, CancelToken(), [&](std::span<const float> pcm) {
    out.insert(out.end(), pcm.begin(), pcm.end());
    ++n;
    return true;
  });
  if (chunks) *chunks = n;
  if (status) *status = s;
  return out;
}

inline std::vector<float> Speak(const std::string& text, const std::string& voice = "slt") {
  SynthesisRequest request;
  request.text = text;
  request.voice = voice;
  return Speak(request);
}

inline std::vector<float> To16k(std::span<const float> pcm_24k) {
  return audio::Resample(pcm_24k, kTtsSampleRateHz, 16000);
}

inline double Rms(std::span<const float> x) {
  double e = 0.0;
  for (float s : x) e += static_cast<double>(s) * s;
  return x.empty() ? 0.0 : std::sqrt(e / x.size());
}

inline std::vector<float> WhiteNoise(size_t n, float rms, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, rms);
  std::vector<float> out(n);
  for (float& s : out) s = dist(rng);
  return out;
}

}  // namespace cadence::speech::testing

namespace cadence::speech::testing {

// Fraction of 40 ms frames (24 kHz) that are loud (> -40 dBFS) and periodic (normalized
// autocorrelation peak > 0.5 at a lag of 75–500 Hz): a crude voicing measure.
inline double VoicedFraction(std::span<const float> pcm_24k, int sample_rate_hz = kTtsSampleRateHz) {
  const size_t frame = static_cast<size_t>(sample_rate_hz) * 40 / 1000;
  int voiced = 0, frames = 0;
  for (size_t start = 0; start + frame <= pcm_24k.size(); start += frame) {
    auto x = pcm_24k.subspan(start, frame);
    ++frames;
    if (Rms(x) < 0.01) continue;
    double e0 = 0.0;
    for (float s : x) e0 += s * s;
    double best = 0.0;
    for (int lag = sample_rate_hz / 500; lag <= sample_rate_hz / 75; ++lag) {
      double c = 0.0, e1 = 0.0, e2 = 0.0;
      for (size_t i = 0; i + lag < frame; ++i) {
        c += x[i] * x[i + lag];
        e1 += x[i] * x[i];
        e2 += x[i + lag] * x[i + lag];
      }
      best = std::max(best, c / std::sqrt(e1 * e2 + 1e-12));
    }
    if (best > 0.5) ++voiced;
  }
  return frames ? static_cast<double>(voiced) / frames : 0.0;
}

}  // namespace cadence::speech::testing
