#include "paralinguistics/speaker_baseline.h"

#include <cmath>

#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {

void SpeakerBaseline::Running::Add(double x) {
  ++n;
  const double d = x - mean;
  mean += d / n;
  m2 += d * (x - mean);
}

double SpeakerBaseline::Running::Z(double x) const {
  if (n < 2) return 0.0;
  // A floor on the spread keeps two nearly identical utterances from making every later one extreme.
  const double sd = std::max(std::sqrt(m2 / (n - 1)), 0.5);
  return std::round((x - mean) / sd * 100.0) / 100.0;
}

void SpeakerBaseline::Apply(UtteranceCues* cues) {
  // A cough, a laugh or silence says nothing about how this person speaks.
  if (!HasSpeech(*cues)) {
    cues->relative.utterances = count_;
    return;
  }
  const double pitch = HzToSemitones(cues->pitch.mean_hz);
  const double loud = cues->loudness.mean_db;
  const double rate = cues->speaking_rate.syllables_per_s;
  cues->relative.utterances = count_;
  cues->relative.pitch_z = pitch_st_.Z(pitch);
  cues->relative.loudness_z = loudness_db_.Z(loud);
  cues->relative.rate_z = rate_.Z(rate);
  // States weigh the deviation from this speaker's habits; re-derive them with it.
  if (count_ >= 2) InferStatesAndTraits(cues);
  pitch_st_.Add(pitch);
  loudness_db_.Add(loud);
  rate_.Add(rate);
  ++count_;
}

}  // namespace cadence::paralinguistics
