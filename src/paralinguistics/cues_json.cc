#include "paralinguistics/cues_json.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace cadence::paralinguistics {
namespace {

// Rounds to `step` (a power of ten); dividing by the inverse keeps the shortest decimal form.
double R(double x, double step) {
  if (!std::isfinite(x)) return 0.0;
  const double inverse = std::round(1.0 / step);
  return std::round(x * inverse) / inverse;
}

nlohmann::ordered_json Label(const Labelled& l) {
  return {{"label", l.label}, {"confidence", R(l.confidence, 0.001)}};
}

nlohmann::ordered_json Events(const std::vector<NonverbalEvent>& events) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const NonverbalEvent& e : events)
    out.push_back({{"type", e.type},
                   {"start_s", R(e.start_s, 0.001)},
                   {"end_s", R(e.end_s, 0.001)},
                   {"confidence", R(e.confidence, 0.001)}});
  return out;
}

}  // namespace

std::string CuesToJson(const UtteranceCues& c, bool pretty) {
  nlohmann::ordered_json j;
  j["duration_s"] = R(c.duration_s, 0.001);
  j["speech_s"] = R(c.speech_s, 0.001);
  j["pitch"] = {{"mean_hz", R(c.pitch.mean_hz, 0.1)},       {"median_hz", R(c.pitch.median_hz, 0.1)},
                {"min_hz", R(c.pitch.min_hz, 0.1)},         {"max_hz", R(c.pitch.max_hz, 0.1)},
                {"range_st", R(c.pitch.range_st, 0.01)},    {"slope_st_per_s", R(c.pitch.slope_st_per_s, 0.01)},
                {"stdev_st", R(c.pitch.stdev_st, 0.01)},    {"voiced_fraction", R(c.pitch.voiced_fraction, 0.001)}};
  j["loudness"] = {{"mean_db", R(c.loudness.mean_db, 0.1)},
                   {"range_db", R(c.loudness.range_db, 0.1)},
                   {"stdev_db", R(c.loudness.stdev_db, 0.1)}};
  j["speaking_rate"] = {{"syllables_per_s", R(c.speaking_rate.syllables_per_s, 0.01)},
                        {"articulation_rate", R(c.speaking_rate.articulation_rate, 0.01)},
                        {"syllables", c.speaking_rate.syllables}};
  j["pauses"] = {{"count", c.pauses.count},
                 {"mean_s", R(c.pauses.mean_s, 0.001)},
                 {"longest_s", R(c.pauses.longest_s, 0.001)},
                 {"total_s", R(c.pauses.total_s, 0.001)}};
  j["voice_quality"] = {{"jitter", R(c.voice_quality.jitter, 0.0001)},
                        {"shimmer", R(c.voice_quality.shimmer, 0.0001)},
                        {"hnr_db", R(c.voice_quality.hnr_db, 0.1)}};
  j["spectral"] = {{"alpha_ratio_db", R(c.spectral.alpha_ratio_db, 0.1)},
                   {"hammarberg_db", R(c.spectral.hammarberg_db, 0.1)},
                   {"slope_db_per_khz", R(c.spectral.slope_db_per_khz, 0.01)}};
  j["events"] = Events(c.events);
  j["leading_events"] = Events(c.leading_events);
  j["state"] = {{"summary", c.state.summary},
                {"arousal", Label(c.state.arousal)},
                {"fatigue", R(c.state.fatigue, 0.001)},
                {"frustration", R(c.state.frustration, 0.001)},
                {"excitement", R(c.state.excitement, 0.001)},
                {"calm", R(c.state.calm, 0.001)},
                {"valence", Label(c.state.valence)}};
  j["traits"] = {{"gender", Label(c.traits.gender)},
                 {"age_group", Label(c.traits.age_group)},
                 {"vocal_tract_cm", R(c.traits.vocal_tract_cm, 0.1)}};
  j["relative"] = {{"utterances", c.relative.utterances},
                   {"pitch_z", R(c.relative.pitch_z, 0.01)},
                   {"loudness_z", R(c.relative.loudness_z, 0.01)},
                   {"rate_z", R(c.relative.rate_z, 0.01)}};
  return pretty ? j.dump(2) : j.dump();
}

}  // namespace cadence::paralinguistics
