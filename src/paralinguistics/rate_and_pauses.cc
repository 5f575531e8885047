// Speaking rate without ASR: syllable nuclei as voiced intensity peaks that stand out by a dip
// (de Jong & Wempe 2009, "Praat script to detect syllable nuclei and measure speech rate
// automatically"), and pauses as silent stretches between sounding ones (Praat "To TextGrid
// (silences)": silence below the 99th-percentile level minus 25 dB, pauses >= 0.3 s, sounding
// stretches >= 0.1 s).
#include <algorithm>
#include <cmath>

#include "paralinguistics/analyzer_impl.h"
#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {
namespace {

constexpr double kHopS = 0.01;
constexpr double kNucleiMinPitchHz = 50.0;  // de Jong & Wempe's To Intensity minimum pitch

// Syllable nuclei as in de Jong & Wempe's "Syllable Nuclei" v3 (de Jong, Pacilly & Heeren 2021),
// the current form of de Jong & Wempe (2009):
//  1. candidate peaks are the local maxima of the 50 Hz-minimum-pitch intensity contour that lie
//     above q99 - 25 dB and are voiced by a permissive pitch reading (`nucleus_f0`: voicing
//     threshold 0.25, voiced/unvoiced cost 0.25, ceiling 450 Hz, as the script's To Pitch);
//  2. the valleys are the minima between consecutive candidates (and the clip's ends), so an
//     unvoiced burst between two vowels no longer hides the dip between them;
//  3. the "dip-peak-dip" parser marks the highest peak between a rise of more than min_dip_db and
//     a fall of more than min_dip_db, provided it lies in a sounding stretch.
std::vector<double> FindNuclei(const AnalyzerConfig& config, std::span<const FrameFeatures> frames,
                               const std::vector<double>& level, double threshold, const std::vector<bool>& sounding,
                               std::span<const double> nucleus_f0) {
  std::vector<double> nuclei;
  const size_t n = frames.size();
  struct Point {
    double time_s, db;
    size_t frame;
  };
  std::vector<Point> peaks;
  for (size_t i = 1; i + 1 < n; ++i) {
    if (!(level[i] > level[i - 1] && level[i] >= level[i + 1])) continue;
    if (i >= nucleus_f0.size() || nucleus_f0[i] <= 0.0) continue;
  // Parabolic refinement, as Praat reads an IntensityTier's peaks between frames.
    const double a = level[i - 1], b = level[i], c = level[i + 1];
    const double d2 = a - 2.0 * b + c;
    const double shift = d2 < 0.0 ? 0.5 * (a - c) / d2 : 0.0;
    const double value = b - 0.25 * (a - c) * shift;
    if (value > threshold) peaks.push_back({frames[i].time_s + shift * kHopS, value, i});
  }
  // Valley, peak, valley, ..., peak, valley.
  std::vector<Point> points;
  points.reserve(2 * peaks.size() + 1);
  auto valley = [&](size_t from, size_t to) {// frames [from, to]
    size_t m = from;
    for (size_t k = from; k <= to; ++k)
      if (level[k] < level[m]) m = k;
    points.push_back({frames[m].time_s, level[m], m});
  };
  for (size_t p = 0; p <= peaks.size(); ++p) {
    valley(p == 0 ? 0 : peaks[p - 1].frame, p == peaks.size() ? n - 1 : peaks[p].frame);
    if (p < peaks.size()) points.push_back(peaks[p]);
  }
  bool rise = false, fall = false;
  double t_rise = 0.0, t_fall = 0.0;
  size_t max_index = 0;
  double db_max = points[0].db, db_min = points[0].db;
  for (size_t p = 0; p < points.size(); ++p) {
    const double db = points[p].db;
    if (db > db_max) {
      max_index = p;
      db_max = db;
      if (db - db_min > config.min_dip_db) { rise = true; t_rise = points[p].time_s; db_min = db; }
    } else if (db < db_min) {
      db_min = db;
      if (db_max - db > config.min_dip_db) { fall = true; t_fall = points[p].time_s; db_max = db; }
    }
  // The script only restarts its search after a nucleus it accepted (in a sounding stretch).
    if (rise && fall && t_rise < t_fall && sounding[points[max_index].frame]) {
      nuclei.push_back(points[max_index].time_s);
      max_index = p;
      db_min = db_max = db;
      rise = fall = false;
    }
  }
  return nuclei;
}

}  // namespace

std::vector<double> MeasureRateAndPauses(const AnalyzerConfig& config, std::span<const float> band_samples_16k,
                                         std::span<const FrameFeatures> frames, std::span<const double> nucleus_f0,
                                         UtteranceCues* cues) {
  std::vector<double> nuclei;
  const size_t n = frames.size();
  if (n < 3) return nuclei;
  // A contour of the frames and its silence threshold: q99 - 25 dB, no lower than the absolute floor.
  auto contour = [&](double FrameFeatures::*field) {
    std::vector<double> db(n);
    for (size_t i = 0; i < n; ++i) db[i] = frames[i].*field;
    return db;
  };
  auto silence_threshold = [&](const std::vector<double>& db) {
    return std::max(Quantile(db, 0.99) - config.silence_db_below_q99, config.absolute_silence_db);
  };
  const std::vector<double> level = contour(&FrameFeatures::syllable_intensity_db);
  const double threshold = silence_threshold(level);

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

  // Nuclei on the loudness band (loudness_band.h), its peaks above the same rule's threshold on
  // that contour; pauses above stay on the full-band level.
  const std::vector<double> band = contour(&FrameFeatures::nucleus_intensity_db);
  const double band_threshold = silence_threshold(band);
  nuclei = FindNuclei(config, frames, band, band_threshold, sounding, nucleus_f0);
  // Rate-scaled smoothing. de Jong & Wempe's 50 Hz minimum pitch gives a 64 ms effective
  // intensity window, about a quarter of a syllable at an ordinary articulation rate of ~4 syll/s.
  // At much faster rates the same window fills in the short dips at glides and liquids ("so we
  // walked", "river and") and nuclei merge (measured: flite at 7.3 syll/s loses 7 of 29 nuclei,
  // and Praat running the same script loses the same 7). When the first count says the speech is
  // faster than the reference, the contour is recomputed with the window shortened in proportion
  // (same fraction of a syllable), twice at most; slower speech keeps the published settings.
  const double reference = config.nuclei_reference_rate_syll_per_s;
  if (reference > 0.0 && !band_samples_16k.empty() && phonation_s > 0.0) {
    for (int pass = 0; pass < 2; ++pass) {
      const double r = nuclei.size() / phonation_s;
      if (r <= reference) break;
      const std::vector<double> contour = IntensityContourDb(band_samples_16k, n, kNucleiMinPitchHz * r / reference);
      nuclei = FindNuclei(config, frames, contour, band_threshold, sounding, nucleus_f0);
    }
  }
  auto& rate = cues->speaking_rate;
  rate.syllables = static_cast<int>(nuclei.size());
  rate.syllables_per_s = span_s > 0.0 ? nuclei.size() / span_s : 0.0;
  rate.articulation_rate = phonation_s > 0.0 ? nuclei.size() / phonation_s : 0.0;
  return nuclei;
}

AnalyzerConfig NucleusPitchConfig(const AnalyzerConfig& config) {
  AnalyzerConfig c = config;
  // de Jong & Wempe's "To Pitch (ac): 0.02, 30, 4, no, 0.03, 0.25, 0.01, 0.35, 0.25, 450". The
  // 30 Hz floor would need a 100 ms window of its own; the candidates of the 75 Hz analysis are
  // reused (they are collected down to half the voicing threshold, 0.225, so a 0.25 threshold
  // reads them almost exactly as a fresh analysis would, except below 75 Hz).
  c.voicing_threshold = 0.25;
  c.voiced_unvoiced_cost = 0.25;
  c.pitch_ceiling_hz = std::min(config.pitch_ceiling_hz, 450.0);
  return c;
}

}  // namespace cadence::paralinguistics
