// A short English rendering of UtteranceCues for an LLM prompt, e.g.
//   "The user sounds tired (confidence 0.72): low, slow voice, long pauses. Voice: female adult."
// Pure function; safe from any thread. Empty cues (no speech) say so rather than guessing.
#pragma once

#include <string>

#include "paralinguistics/cues.h"

namespace cadence::paralinguistics {

std::string CuesToPromptText(const UtteranceCues& cues);

}  // namespace cadence::paralinguistics
