// Speaking rate without ASR: syllable nuclei as voiced intensity peaks that stand out by a dip
// (de Jong & Wempe 2009, "Praat script to detect syllable nuclei and measure speech rate
// automatically"), and pauses as silent stretches between sounding ones (Praat "To TextGrid
// (silences)": silence below the 99th-percentile level minus 25 dB, pauses >= 0.3 s, sounding
// stretches >= 0.1 s).
#include <cmath>

#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {

std::vector<double> MeasureRateAndPauses(const AnalyzerConfig& config, std::span<const FrameFeatures> frames,
                                         UtteranceCues* cues) {
  std::vector<double> nuclei;
  const size_t n = frames.size();
  if (n < 3) return nuclei;
  constexpr double kHopS = 0.01;
  std::vector<double> level(n);
  for (size_t i = 0; i < n; ++i) level[i] = frames[i].syllable_intensity_db;
  const double threshold = std::max(Quantile(level, 0.99) - config.silence_db_below_q99, config.absolute_silence_db);

  // Sounding / silent, then the minimum-duration rules.
  std::vector<bool> sounding(n);
  for (size_t i = 0; i < n; ++i) sounding[i] = level[i] >= threshold;
  auto smooth = [&](bool value, int min_frames) {
    size_t i = 0;
    while (i < n) {
      size_t j = i;
      while (j < n && sounding[j] == sounding[i]) ++j;
      if (sounding[i] == value && static_cast<int>(j - i) < min_frames) {
        const bool at_edge = (i == 0 || j == n);
        // A short silence at the clip's edge is not a pause; leave edges to the trimming below.
        if (!(value == false && at_edge))
          for (size_t k = i; k < j; ++k) sounding[k] = !value;
      }
      i = j;
    }
  };
  smooth(true, static_cast<int>(std::lround(config.min_sounding_s / kHopS)));
  smooth(false, static_cast<int>(std::lround(config.min_pause_s / kHopS)));

  size_t first = n, last = 0;
  int sounding_frames = 0;
  for (size_t i = 0; i < n; ++i)
    if (sounding[i]) { first = std::min(first, i); last = i; ++sounding_frames; }
  auto& pauses = cues->pauses;
  if (first < n) {
    size_t i = first;
    while (i <= last) {
      size_t j = i;
      while (j <= last && sounding[j] == sounding[i]) ++j;
      if (!sounding[i]) {
        const double d = (j - i) * kHopS;
        ++pauses.count;
        pauses.total_s += d;
        pauses.longest_s = std::max(pauses.longest_s, d);
      }
      i = j;
    }
  }
  if (pauses.count > 0) pauses.mean_s = pauses.total_s / pauses.count;
  const double phonation_s = sounding_frames * kHopS;
  const double span_s = first < n ? (last - first + 1) * kHopS : 0.0;
  cues->speech_s = phonation_s;

  // Intensity peaks above the threshold; a peak counts when the level dipped by more than
  // min_dip_db since the previous peak (the paper's "preceded by a dip"; the published script
  // measures the dip after the peak instead, which drops the last syllable and, on our synthetic
  // test speech, over-counts slow speech by 7-14 %), and the pitch track calls it voiced.
  std::vector<size_t> peaks;
  for (size_t i = 1; i + 1 < n; ++i)
    if (level[i] > level[i - 1] && level[i] >= level[i + 1] && level[i] > threshold) peaks.push_back(i);
  for (size_t p = 0; p < peaks.size(); ++p) {
    const size_t k = peaks[p];
    const size_t from = p > 0 ? peaks[p - 1] : 0;
    double dip = level[k];
    for (size_t m = from; m <= k; ++m) dip = std::min(dip, level[m]);
    if (level[k] - dip <= config.min_dip_db) continue;
    const bool voiced = frames[k].f0_hz > 0.0 || (k > 0 && frames[k - 1].f0_hz > 0.0) ||
                        (k + 1 < n && frames[k + 1].f0_hz > 0.0);
    if (voiced && sounding[k]) nuclei.push_back(frames[k].time_s);
  }
  auto& rate = cues->speaking_rate;
  rate.syllables = static_cast<int>(nuclei.size());
  rate.syllables_per_s = span_s > 0.0 ? nuclei.size() / span_s : 0.0;
  rate.articulation_rate = phonation_s > 0.0 ? nuclei.size() / phonation_s : 0.0;
  return nuclei;
}

}  // namespace cadence::paralinguistics
