// Frame classes and the utterance's pitch, loudness and spectral-balance statistics.
#include <cmath>

#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {

void ClassifyFrames(const AnalyzerConfig& config, std::vector<FrameFeatures>* frames) {
  std::vector<double> levels;
  levels.reserve(frames->size());
  for (const FrameFeatures& f : *frames) levels.push_back(f.intensity_db);
  // Silence relative to the utterance's own loud frames (de Jong & Wempe's -25 dB re the 99th
  // percentile), but never above an absolute floor so that a quiet clip is not all speech.
  const double threshold = std::max(Quantile(levels, 0.99) - config.silence_db_below_q99, config.absolute_silence_db);
  for (FrameFeatures& f : *frames) {
    if (f.intensity_db < config.absolute_silence_db) f.frame_class = FrameClass::kSilence;
    else if (f.f0_hz > 0.0) f.frame_class = FrameClass::kVoiced;
    else if (f.intensity_db < threshold) f.frame_class = FrameClass::kSilence;
    else f.frame_class = FrameClass::kUnvoiced;
  }
}

void MeasureProsody(std::span<const FrameFeatures> frames, double duration_s, UtteranceCues* cues) {
  cues->duration_s = duration_s;
  std::vector<double> f0, st, t, level_db, alpha, hammarberg, slope;
  int sounding = 0;
  for (const FrameFeatures& f : frames) {
    if (f.frame_class == FrameClass::kSilence) continue;
    ++sounding;
    level_db.push_back(f.intensity_db);
    if (f.frame_class != FrameClass::kVoiced) continue;
    f0.push_back(f.f0_hz);
    st.push_back(HzToSemitones(f.f0_hz));
    t.push_back(f.time_s);
    alpha.push_back(f.alpha_ratio_db);
    hammarberg.push_back(f.hammarberg_db);
    slope.push_back(f.slope_db_per_khz);
  }
  auto& p = cues->pitch;
  p.voiced_fraction = sounding > 0 ? static_cast<double>(f0.size()) / sounding : 0.0;
  if (!f0.empty()) {
    p.mean_hz = Mean(f0);
    p.median_hz = Quantile(f0, 0.5);
    p.min_hz = *std::min_element(f0.begin(), f0.end());
    p.max_hz = *std::max_element(f0.begin(), f0.end());
    p.range_st = Quantile(st, 0.95) - Quantile(st, 0.05);
    p.stdev_st = Stdev(st);
    const double mt = Mean(t), ms = Mean(st);
    double sxy = 0.0, sxx = 0.0;
    for (size_t i = 0; i < t.size(); ++i) {
      sxy += (t[i] - mt) * (st[i] - ms);
      sxx += (t[i] - mt) * (t[i] - mt);
    }
    p.slope_st_per_s = sxx > 0.0 ? sxy / sxx : 0.0;
  }
  auto& l = cues->loudness;
  if (!level_db.empty()) {
    // Energy average, as Praat's "Get mean" of an Intensity object.
    double energy = 0.0;
    for (double db : level_db) energy += std::pow(10.0, db / 10.0);
    l.mean_db = 10.0 * std::log10(energy / level_db.size());
    l.range_db = Quantile(level_db, 0.95) - Quantile(level_db, 0.05);
    l.stdev_db = Stdev(level_db);
  }
  if (alpha.empty()) {
    // No voiced frames (a cough, a breath): describe the sounding frames instead.
    for (const FrameFeatures& f : frames) {
      if (f.frame_class == FrameClass::kSilence) continue;
      alpha.push_back(f.alpha_ratio_db);
      hammarberg.push_back(f.hammarberg_db);
      slope.push_back(f.slope_db_per_khz);
    }
  }
  // Apparent vocal-tract length from the formant spacing: a uniform tube closed at one end has
  // formants at Fi = (2i - 1) dF / 2 with dF = c / 2L. dF is the least-squares fit of F1-F4 to
  // that line through the origin (Reby & McComb 2003; the estimator of Pisanski et al. 2014,
  // equivalent in spirit to Fitch's 1997 formant dispersion), per voiced frame; L is the median
  // over the utterance, which keeps vowel-to-vowel variation and odd peak picks out.
  std::vector<double> lengths;
  constexpr double kSoundCmPerS = 35000.0;
  constexpr double kSumK2 = 0.25 + 2.25 + 6.25 + 12.25;  // sum of ((2i - 1) / 2)^2, i = 1..4
  for (const FrameFeatures& f : frames) {
    if (f.frame_class != FrameClass::kVoiced || f.formant_hz[3] <= 0.0f) continue;
    const double spacing_hz =
        (0.5 * f.formant_hz[0] + 1.5 * f.formant_hz[1] + 2.5 * f.formant_hz[2] + 3.5 * f.formant_hz[3]) / kSumK2;
    lengths.push_back(kSoundCmPerS / (2.0 * spacing_hz));
  }
  if (lengths.size() >= 20) cues->traits.vocal_tract_cm = Quantile(lengths, 0.5);
  cues->spectral.alpha_ratio_db = Mean(alpha);
  cues->spectral.hammarberg_db = Mean(hammarberg);
  cues->spectral.slope_db_per_khz = Mean(slope);
}

}  // namespace cadence::paralinguistics
