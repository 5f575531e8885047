#include "speech/tts/sculpt.h"

#include <rubberband/RubberBandStretcher.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace cadence::speech {

void PitchShift(std::vector<float>* pcm, int sample_rate_hz, double semitones) {
  if (std::abs(semitones) < 0.05 || pcm->empty()) return;
  using RB = RubberBand::RubberBandStretcher;
  RB stretcher(static_cast<size_t>(sample_rate_hz), 1,
               RB::OptionProcessOffline | RB::OptionEngineFaster | RB::OptionFormantPreserved | RB::OptionPitchHighQuality,
               1.0, std::pow(2.0, semitones / 12.0));
  stretcher.setExpectedInputDuration(pcm->size());
  const float* in = pcm->data();
  stretcher.study(&in, pcm->size(), true);
  stretcher.process(&in, pcm->size(), true);
  std::vector<float> out;
  out.reserve(pcm->size());
  std::vector<float> block;
  int available;
  while ((available = stretcher.available()) > 0) {
    block.resize(static_cast<size_t>(available));
    float* ptr = block.data();
    size_t got = stretcher.retrieve(&ptr, block.size());
    out.insert(out.end(), block.begin(), block.begin() + static_cast<long>(got));
  }
  pcm->swap(out);
}

namespace {

// Autocorrelation LPC (Levinson-Durbin); returns a[1..order] for e[n] = x[n] + sum a[k] x[n-k].
std::vector<double> Lpc(const std::vector<double>& frame, int order, double* error) {
  std::vector<double> r(order + 1, 0.0);
  for (int k = 0; k <= order; ++k)
    for (size_t n = k; n < frame.size(); ++n) r[k] += frame[n] * frame[n - k];
  std::vector<double> a(order + 1, 0.0), tmp(order + 1);
  a[0] = 1.0;
  double e = r[0] * 1.0001 + 1e-9;  // slight white-noise correction keeps the filter stable
  for (int i = 1; i <= order; ++i) {
    double acc = r[i];
    for (int j = 1; j < i; ++j) acc += a[j] * r[i - j];
    double k = -acc / e;
    tmp = a;
    for (int j = 1; j < i; ++j) a[j] = tmp[j] + k * tmp[i - j];
    a[i] = k;
    e *= (1.0 - k * k);
  }
  *error = std::max(e, 0.0);
  return a;
}

}  // namespace

void Breathe(std::vector<float>* pcm, int sample_rate_hz, double amount, uint32_t seed) {
  amount = std::clamp(amount, 0.0, 1.0);
  if (amount < 0.01 || pcm->empty()) return;
  const int order = 2 + sample_rate_hz / 1000;
  const size_t hop = static_cast<size_t>(sample_rate_hz) / 100;  // 10 ms
  const size_t win = hop * 2;
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<double> whisper(pcm->size() + win, 0.0);
  std::vector<double> frame(win), state(order + 1, 0.0);
  std::vector<double> hann(win);
  for (size_t i = 0; i < win; ++i) hann[i] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / win);
  // Overlap-add of noise-excited all-pole frames (Hann windows at 50 % overlap sum to one).
  for (size_t start = 0; start < pcm->size(); start += hop) {
    for (size_t i = 0; i < win; ++i) {
      size_t n = start + i;
      frame[i] = (n < pcm->size() ? (*pcm)[n] : 0.0) * hann[i];
    }
    double err = 0.0;
    std::vector<double> a = Lpc(frame, order, &err);
    double gain = std::sqrt(err / (0.375 * win));  // residual RMS; 0.375 = mean of Hann^2
    std::vector<double> y(win, 0.0);
    std::fill(state.begin(), state.end(), 0.0);
    for (size_t i = 0; i < win; ++i) {
      double v = gain * noise(rng);
      for (int k = 1; k <= order; ++k) v -= a[k] * (i >= static_cast<size_t>(k) ? y[i - k] : 0.0);
      y[i] = v;
    }
    for (size_t i = 0; i < win; ++i) whisper[start + i] += y[i] * hann[i];
  }
  // Voicing fades out faster than the noise comes in, so 0.5 already sounds clearly breathy;
  // whisper is quieter than voice, as in speech.
  double voice_weight = std::pow(1.0 - amount, 1.5);
  double noise_weight = 0.7 * std::sqrt(amount);
  for (size_t i = 0; i < pcm->size(); ++i)
    (*pcm)[i] = static_cast<float>(voice_weight * (*pcm)[i] + noise_weight * whisper[i]);
}

void TrimSilence(std::vector<float>* pcm, int sample_rate_hz, float threshold, int keep_ms) {
  if (pcm->empty()) return;
  size_t first = 0, last = pcm->size();
  while (first < last && std::abs((*pcm)[first]) < threshold) ++first;
  while (last > first && std::abs((*pcm)[last - 1]) < threshold) --last;
  if (first >= last) {
    pcm->clear();
    return;
  }
  size_t keep = static_cast<size_t>(sample_rate_hz) * keep_ms / 1000;
  first = first > keep ? first - keep : 0;
  last = std::min(pcm->size(), last + keep);
  pcm->assign(pcm->begin() + static_cast<long>(first), pcm->begin() + static_cast<long>(last));
}

void ApplyGain(std::vector<float>* pcm, double gain) {
  for (float& s : *pcm) {
    double v = s * gain;
    // tanh knee above 0.8 keeps loud tones from clipping.
    if (std::abs(v) > 0.8) v = std::copysign(0.8 + 0.19 * std::tanh((std::abs(v) - 0.8) / 0.19), v);
    s = static_cast<float>(v);
  }
}

}  // namespace cadence::speech
