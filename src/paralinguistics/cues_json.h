// The stable JSON shape of UtteranceCues, shared by `cadence analyze --json` and the server event
// `conversation.item.input_audio_paralinguistics.completed` (documented in
// docs/paralinguistics.md). Numbers are rounded for readability (Hz and dB to 0.1,
// fractions and confidences to 0.001). Pure functions; safe from any thread.
#pragma once

#include <string>

#include "paralinguistics/cues.h"

namespace cadence::paralinguistics {

std::string CuesToJson(const UtteranceCues& cues, bool pretty);

}  // namespace cadence::paralinguistics
