#include "speech/tts/nonverbal.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace cadence::speech {
namespace {

constexpr double kPi = std::numbers::pi;

// Two-pole resonator at `freq_hz` with bandwidth `bw_hz`, gain normalized near unity at the peak.
class Resonator {
 public:
  void Set(double freq_hz, double bw_hz, int rate_hz) {
    double r = std::exp(-kPi * bw_hz / rate_hz);
    b1_ = 2.0 * r * std::cos(2.0 * kPi * freq_hz / rate_hz);
    b2_ = -r * r;
    a0_ = 1.0 - r;
  }
  // Two poles at DC: a second-order low-pass with unity gain at DC.
  void SetLowpass(double bw_hz, int rate_hz) {
    double r = std::exp(-kPi * bw_hz / rate_hz);
    b1_ = 2.0 * r;
    b2_ = -r * r;
    a0_ = (1.0 - r) * (1.0 - r);
  }
  double Step(double x) {
    double y = a0_ * x + b1_ * y1_ + b2_ * y2_;
    y2_ = y1_;
    y1_ = y;
    return y;
  }

 private:
  double a0_ = 1, b1_ = 0, b2_ = 0, y1_ = 0, y2_ = 0;
};

// Sums a parallel bank of formant resonators.
struct Formants {
  Resonator f[3];
  void Set(double f1, double f2, double f3, int rate) {
    f[0].Set(f1, 90, rate);
    f[1].Set(f2, 120, rate);
    f[2].Set(f3, 180, rate);
  }
  double Step(double x) { return f[0].Step(x) + 0.6 * f[1].Step(x) + 0.3 * f[2].Step(x); }
};

void Normalize(std::vector<float>* pcm, double peak) {
  float m = 0;
  for (float s : *pcm) m = std::max(m, std::abs(s));
  if (m <= 0) return;
  for (float& s : *pcm) s = static_cast<float>(s * peak / m);
}

}  // namespace

std::vector<float> SynthesizeLaugh(int rate, double f0_hz, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  std::vector<float> out;
  Formants vowel;  // /a/
  vowel.Set(800, 1250, 2600, rate);
  double phase = 0.0;
  const int bursts = 4;
  for (int b = 0; b < bursts; ++b) {
    double amp = std::pow(0.8, b);
    double f_start = f0_hz * 1.35 * std::pow(0.94, b);  // each "ha" a little lower
    size_t aspiration = static_cast<size_t>(0.035 * rate), voiced = static_cast<size_t>(0.115 * rate);
    size_t gap = static_cast<size_t>(0.075 * rate);
    for (size_t i = 0; i < aspiration + voiced; ++i) {
      double x;
      if (i < aspiration) {
        x = 0.5 * noise(rng) * (static_cast<double>(i) / aspiration);
      } else {
        double t = static_cast<double>(i - aspiration) / voiced;
        double f0 = f_start * (1.0 - 0.12 * t);
        phase += f0 / rate;
        if (phase >= 1.0) phase -= 1.0;
        // Glottal flow derivative approximated by a sharp negative pulse each period, plus
        // aspiration noise: laughter is breathy.
        double pulse = phase < 0.04 ? -std::sin(kPi * phase / 0.04) * 6.0 : 0.0;
        double env = std::sin(kPi * std::min(1.0, t * 1.1));
        x = (pulse + 0.35 * noise(rng)) * env;
      }
      out.push_back(static_cast<float>(amp * vowel.Step(x)));
    }
    out.insert(out.end(), gap, 0.0f);
  }
  Normalize(&out, 0.5);
  return out;
}

std::vector<float> SynthesizeSigh(int rate, double f0_hz, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  const size_t n = static_cast<size_t>(0.95 * rate);
  std::vector<float> out(n);
  Formants tract;
  Resonator low1, low2;  // fourth-order low-pass in all
  double phase = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / n;
    if (i % 64 == 0) {
      // /a/ → /ə/ and a spectral envelope whose upper edge falls from 3 kHz to 700 Hz.
      tract.Set(750 - 250 * t, 1250 + 250 * t, 2600, rate);
      double cutoff = 3000.0 * std::pow(700.0 / 3000.0, t);
      low1.SetLowpass(cutoff * 1.4, rate);
      low2.SetLowpass(cutoff * 1.4, rate);
    }
    double f0 = f0_hz * 0.85 * std::pow(2.0, -4.0 * t / 12.0);
    phase += f0 / rate;
    if (phase >= 1.0) phase -= 1.0;
    double voicing = (phase < 0.05 ? -std::sin(kPi * phase / 0.05) : 0.0) * 1.2 * (1.0 - t);
    double x = noise(rng) + voicing;
    double env = std::min(1.0, t / 0.08) * std::exp(-2.2 * t);
    double y = tract.Step(x);
    y = low2.Step(low1.Step(y));
    out[i] = static_cast<float>(y * env);
  }
  Normalize(&out, 0.3);
  return out;
}

std::vector<float> SynthesizeBreath(int rate, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  const size_t n = static_cast<size_t>(0.4 * rate);
  std::vector<float> out(n);
  Resonator a, b;
  a.Set(700, 500, rate);
  b.Set(1800, 900, rate);
  for (size_t i = 0; i < n; ++i) {
    double t = static_cast<double>(i) / n;
    double env = 0.5 - 0.5 * std::cos(2.0 * kPi * t);
    double x = noise(rng);
    out[i] = static_cast<float>((a.Step(x) + 0.7 * b.Step(x)) * env);
  }
  Normalize(&out, 0.12);
  return out;
}

}  // namespace cadence::speech
