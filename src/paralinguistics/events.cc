// Nonverbal events from the frame track. Each sounding segment (silence gaps under 0.15 s merged)
// is described by acoustic properties that the literature reports for each vocalization, and
// scored per class; the best class above 0.5 becomes an event. Anchors:
//  - laughter: a train of >= 4 short bursts ("ha-ha-ha"; Provine 1996: notes ~210 ms apart;
//    Bachorowski, Smoski & Owren 2001), nearly all separated by aspiration (/h/) or silence
//    rather than by voiced consonants as in speech, and breathier overall: a voiced share of
//    sounding frames at or below ~half, where connected speech runs at ~70-90 %;
//  - cough: an explosive onset (level rise of ~20 dB within 30 ms) and a short, mostly aperiodic
//    burst whose voiced phase, if any, is irregular (Korpas et al. 1996: 0.2-0.65 s explosive
//    plus intermediate phase);
//  - sigh: a long (0.4-3 s) aperiodic or breathy exhalation with a soft onset, or a sharper
//    onset followed by a steep decay, usually decaying (Teigen 2008; Vlemincx et al. 2010);
//  - breath: a soft (>= 10 dB below the utterance peak) aperiodic segment of 0.15-0.8 s, or a
//    train of aperiodic bursts 0.3-1.5 s apart (panting).
// Speech-like segments (voiced, irregular syllable train) produce no event.
#include <cmath>

#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {
namespace {

struct Segment {
  size_t begin, end;  // frames [begin, end)
};

double Ramp(double x, double lo, double hi) {  // 0 below lo, 1 above hi
  if (hi == lo) return x >= hi ? 1.0 : 0.0;
  return std::clamp((x - lo) / (hi - lo), 0.0, 1.0);
}

}  // namespace

void DetectEvents(std::span<const FrameFeatures> frames, UtteranceCues* cues) {
  const size_t n = frames.size();
  if (n == 0) return;
  double peak_db = -1e9;
  for (const FrameFeatures& f : frames)
    if (f.frame_class != FrameClass::kSilence) peak_db = std::max(peak_db, f.intensity_db);
  // Segments of sounding frames, bridging gaps shorter than 0.15 s.
  std::vector<Segment> segments;
  size_t i = 0;
  while (i < n) {
    if (frames[i].frame_class == FrameClass::kSilence) { ++i; continue; }
    size_t j = i;
    size_t last_sounding = i;
    while (j < n) {
      if (frames[j].frame_class != FrameClass::kSilence) last_sounding = j;
      else if (j - last_sounding > 15) break;
      ++j;
    }
    segments.push_back({i, last_sounding + 1});
    i = last_sounding + 1;
  }
  for (const Segment& s : segments) {
    const size_t len = s.end - s.begin;
    const double dur = len * 0.01;
    if (dur < 0.12) continue;
    int voiced = 0;
    std::vector<double> hnr, level;
    for (size_t k = s.begin; k < s.end; ++k) {
      const FrameFeatures& f = frames[k];
      if (f.frame_class == FrameClass::kVoiced) { ++voiced; hnr.push_back(f.hnr_db); }
      level.push_back(f.syllable_intensity_db);
    }
    const double voiced_fraction = static_cast<double>(voiced) / len;
    const double mean_hnr = hnr.empty() ? 0.0 : Mean(hnr);
    const double seg_peak = *std::max_element(level.begin(), level.end());
    // Onset steepness: largest 30 ms level rise in the first 100 ms (from just before the segment).
    double onset_rise = 0.0;
    for (size_t k = s.begin; k < std::min(s.end, s.begin + 10); ++k) {
      const size_t from = k >= 3 ? k - 3 : 0;
      onset_rise = std::max(onset_rise, frames[k].intensity_db - frames[from].intensity_db);
    }
    // Decay: level in the last third relative to the first third.
    const size_t third = std::max<size_t>(1, len / 3);
    double first_third = 0.0, last_third = 0.0;
    for (size_t k = 0; k < third; ++k) { first_third += level[k]; last_third += level[len - 1 - k]; }
    const double decay_db = (first_third - last_third) / third;
    // Burst train: level peaks with >= 6 dB dips on both sides; what lies at each dip between
    // consecutive bursts (voiced consonant, or aspiration / silence) tells laughter from speech.
    std::vector<size_t> bursts;
    for (size_t k = 1; k + 1 < len; ++k) {
      if (!(level[k] > level[k - 1] && level[k] >= level[k + 1]) || level[k] < seg_peak - 20.0) continue;
      double left_min = level[k], right_min = level[k];
      for (size_t m = k; m-- > 0 && k - m <= 25;) left_min = std::min(left_min, level[m]);
      for (size_t m = k + 1; m < len && m - k <= 25; ++m) right_min = std::min(right_min, level[m]);
      if (level[k] - left_min >= 6.0 && level[k] - right_min >= 6.0) bursts.push_back(k);
    }
    double median_interval = 0.0, unvoiced_dips = 0.0;
    if (bursts.size() >= 2) {
      std::vector<double> gaps;
      int unvoiced = 0;
      for (size_t k = 1; k < bursts.size(); ++k) {
        gaps.push_back((bursts[k] - bursts[k - 1]) * 0.01);
        size_t dip = bursts[k - 1];
        for (size_t m = bursts[k - 1]; m <= bursts[k]; ++m)
          if (level[m] < level[dip]) dip = m;
        if (frames[s.begin + dip].frame_class != FrameClass::kVoiced) ++unvoiced;
      }
      median_interval = Quantile(gaps, 0.5);
      unvoiced_dips = static_cast<double>(unvoiced) / gaps.size();
    }
    const double below_peak_db = peak_db - seg_peak;
    const double aperiodic = std::max(1.0 - Ramp(voiced_fraction, 0.3, 0.6), 1.0 - Ramp(mean_hnr, 3.0, 8.0));
    const double explosive = Ramp(onset_rise, 15.0, 25.0);
    // A cough's voiced phase, when there is one, is irregular (Korpas et al. 1996); a sigh's or a
    // laugh's voicing is ordinary breathy phonation, whose HNR runs ~7-12 dB in connected speech.
    const double irregular = voiced_fraction < 0.1 ? 1.0 : 1.0 - Ramp(mean_hnr, 7.0, 10.0);

    double laughter = 0.0, cough = 0.0, sigh = 0.0, breath = 0.0;
    if (bursts.size() >= 4)
      laughter = Ramp(median_interval, 0.08, 0.12) * (1.0 - Ramp(median_interval, 0.35, 0.45)) *
                 Ramp(unvoiced_dips, 0.7, 0.85) * (1.0 - Ramp(voiced_fraction, 0.5, 0.65)) *
                 (0.7 + 0.3 * Ramp(static_cast<double>(bursts.size()), 4.0, 8.0));
    cough = explosive * aperiodic * irregular * Ramp(dur, 0.1, 0.15) * (1.0 - Ramp(dur, 1.0, 1.5));
    // A sigh's exhalation either starts softly or, when it starts on an audible "h"/vowel onset,
    // falls away steeply over its course (the level decays as the lungs empty; Vlemincx et al.
    // 2010): a fall of 6-15 dB from the first to the last third stands in for the soft onset.
    sigh = Ramp(dur, 0.3, 0.5) * (1.0 - Ramp(dur, 3.0, 4.0)) * aperiodic *
           std::max(1.0 - explosive, Ramp(decay_db, 6.0, 15.0)) * (0.7 + 0.3 * Ramp(decay_db, 0.0, 6.0));
    breath = Ramp(below_peak_db, 6.0, 10.0) * (1.0 - Ramp(voiced_fraction, 0.2, 0.4)) * Ramp(dur, 0.1, 0.15) *
             (1.0 - Ramp(dur, 0.8, 1.2));
    if (bursts.size() >= 3 && median_interval >= 0.3 && median_interval <= 1.5)
      breath = std::max(breath, aperiodic * 0.8);  // panting: a train of breaths
    const double best = std::max({laughter, cough, sigh, breath});
    if (best < 0.5) continue;
    NonverbalEvent e;
    e.type = best == laughter ? "laughter" : best == cough ? "cough" : best == sigh ? "sigh" : "breath";
    e.start_s = frames[s.begin].time_s - 0.005;
    e.end_s = frames[s.end - 1].time_s + 0.005;
    e.confidence = std::round(best * 100.0) / 100.0;
    cues->events.push_back(e);
  }
}

}  // namespace cadence::paralinguistics
