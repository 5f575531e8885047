// Speaker traits from synthetic vowels whose tract length is known: a glottal pulse train through
// the four resonances of a uniform tube closed at one end, Fi = (2i - 1) c / 4L.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "paralinguistics/analyzer.h"

namespace cadence::paralinguistics {
namespace {

std::vector<float> TubeVowel(double seconds, double f0_hz, double tract_cm) {
  const int fs = Analyzer::kSampleRateHz;
  const size_t n = static_cast<size_t>(seconds * fs);
  std::vector<double> x(n, 0.0);
  // Rosenberg-like pulses with a slow 4 % vibrato so the pitch tracker sees natural voicing.
  double t = 0.0;
  while (t < seconds) {
    const double f0 = f0_hz * (1.0 + 0.04 * std::sin(2.0 * std::numbers::pi * 5.0 * t));
    const int period = static_cast<int>(fs / f0);
    const int open = static_cast<int>(0.6 * period);
    const size_t start = static_cast<size_t>(t * fs);
    for (int i = 0; i < period && start + i < n; ++i) {
      double g = 0.0;
      if (i < open) g = 0.5 * (1.0 - std::cos(std::numbers::pi * i / open));
      else if (i < open + period / 5) g = std::cos(std::numbers::pi * (i - open) / (2.0 * (period / 5)));
      x[start + i] = g;
    }
    t += 1.0 / f0;
  }
  // Lip radiation (first difference), then the cascade of formant resonators.
  for (size_t i = n; i-- > 1;) x[i] -= x[i - 1];
  for (int k = 1; k <= 4; ++k) {
    const double f = (2 * k - 1) * 35000.0 / (4.0 * tract_cm);
    const double bandwidth = 60.0 + 30.0 * k;
    const double r = std::exp(-std::numbers::pi * bandwidth / fs), w = 2.0 * std::numbers::pi * f / fs;
    const double a1 = 2.0 * r * std::cos(w), a2 = -r * r, gain = 1.0 - a1 - a2;
    double y1 = 0.0, y2 = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double y = gain * x[i] + a1 * y1 + a2 * y2;
      y2 = y1;
      y1 = y;
      x[i] = y;
    }
  }
  double peak = 0.0;
  for (double v : x) peak = std::max(peak, std::abs(v));
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(0.3 * x[i] / peak);
  return out;
}

UtteranceCues Analyze(double f0_hz, double tract_cm) {
  Analyzer analyzer;
  auto a = analyzer.AnalyzeWaveform(audio::Waveform{Analyzer::kSampleRateHz, TubeVowel(1.5, f0_hz, tract_cm)});
  EXPECT_TRUE(a.ok());
  return a.ok() ? a->cues : UtteranceCues{};
}

TEST(TraitsTest, ApparentTractLengthFromFormantSpacing) {
  // 13 cm is the shortest tract whose F4 (4.7 kHz) stays below the 5 kHz formant ceiling.
  for (double tract_cm : {13.0, 14.5, 17.0}) {
    const UtteranceCues cues = Analyze(tract_cm > 16.0 ? 120.0 : 220.0, tract_cm);
    std::printf("tube %.1f cm: measured %.2f cm\n", tract_cm, cues.traits.vocal_tract_cm);
    EXPECT_NEAR(cues.traits.vocal_tract_cm, tract_cm, 0.6) << tract_cm << " cm tube";
  }
}

TEST(TraitsTest, GenderCombinesPitchAndTractLength) {
  EXPECT_EQ(Analyze(120.0, 17.0).traits.gender.label, "male");
  EXPECT_EQ(Analyze(210.0, 14.5).traits.gender.label, "female");
  // A man's voice raised to 260 Hz (aroused speech) keeps his tract: F0 alone would say female.
  EXPECT_EQ(Analyze(260.0, 17.5).traits.gender.label, "male");
  // A low-pitched woman (150 Hz) with a short tract.
  EXPECT_EQ(Analyze(150.0, 14.3).traits.gender.label, "female");
}

TEST(TraitsTest, HighPitchWithAnAdultTractIsNoChild) {
  // 300 Hz with an adult woman's tract: adult and female.
  EXPECT_EQ(Analyze(300.0, 14.8).traits.age_group.label, "adult");
  EXPECT_EQ(Analyze(300.0, 14.8).traits.gender.label, "female");
}

}  // namespace
}  // namespace cadence::paralinguistics
