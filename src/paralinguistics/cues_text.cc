#include "paralinguistics/cues_text.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace cadence::paralinguistics {
namespace {

std::string Fixed(double x, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, x);
  return buf;
}

// "laughter", "a sigh", "a cough", ...
std::string SoundName(const NonverbalEvent& e) { return e.type == "laughter" ? "laughter" : "a " + e.type; }

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += (i + 1 == parts.size()) ? " and " : ", ";
    out += parts[i];
  }
  return out;
}

}  // namespace

std::string CuesToPromptText(const UtteranceCues& c) {
  const bool has_voice = c.pitch.mean_hz > 0.0;
  std::string out;
  const double confidence = c.state.summary == "tired"        ? c.state.fatigue
                            : c.state.summary == "frustrated" ? c.state.frustration
                            : c.state.summary == "excited"    ? c.state.excitement
                            : c.state.summary == "calm"       ? c.state.calm
                                                              : 0.0;
  std::string before;
  for (const NonverbalEvent& e : c.leading_events)
    before += " Just before speaking: " + SoundName(e) + " (confidence " + Fixed(e.confidence, 2) + ").";
  if (!has_voice && c.events.empty()) return "No speech was heard in the user's audio." + before;
  if (c.state.summary.empty() || c.state.summary == "neutral") {
    out = has_voice ? "The user sounds neutral" : "The user did not speak";
  } else {
    out = "The user sounds " + c.state.summary + " (confidence " + Fixed(confidence, 2) + ")";
  }
  std::vector<std::string> details;
  if (has_voice) {
    if (c.state.arousal.label == "low") details.push_back("low energy");
    if (c.state.arousal.label == "high") details.push_back("high energy");
    if (c.speaking_rate.syllables >= 2) {
      if (c.speaking_rate.syllables_per_s < 3.0) details.push_back("slow speech");
      else if (c.speaking_rate.syllables_per_s > 5.5) details.push_back("fast speech");
    }
    if (c.pitch.range_st < 4.0 && c.speaking_rate.syllables >= 3) details.push_back("flat pitch");
    else if (c.pitch.range_st > 10.0) details.push_back("lively pitch");
    if (c.pauses.count > 0 && c.pauses.mean_s > 0.7) details.push_back("long pauses");
  }
  if (!details.empty()) out += ": " + Join(details);
  out += "." + before;
  for (const NonverbalEvent& e : c.events)
    out += " Heard " + SoundName(e) + " at " + Fixed(e.start_s, 1) +
           " s (confidence " + Fixed(e.confidence, 2) + ").";
  if (!c.traits.gender.label.empty())
    out += " Voice: " + c.traits.gender.label + (c.traits.age_group.label.empty() ? "" : " " + c.traits.age_group.label) +
           " (confidence " + Fixed(std::min(c.traits.gender.confidence, c.traits.age_group.label.empty() ? 1.0 : c.traits.age_group.confidence), 2) + ").";
  if (!c.state.valence.label.empty())
    out += " Valence " + c.state.valence.label + " (confidence " + Fixed(c.state.valence.confidence, 2) + ").";
  return out;
}

}  // namespace cadence::paralinguistics
