// The Session's seams to the persona and paralinguistics domains and to tag stripping: small
// functions so the state machine does not depend on how those domains spell things.
//
// All functions are pure or own their state; UtteranceAnalysis belongs to one utterance lane
// (one thread at a time).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "paralinguistics/cues.h"
#include "persona/persona.h"
#include "speech/tts/tone.h"

namespace cadence::persona {
class PersonaStore;
}
namespace cadence::paralinguistics {
class Analyzer;
}

namespace cadence::realtime {

// `session.persona`: null clears it (nullptr result); a string is an id in `store`; an object is
// an inline Character Card. Errors name the persona and what to do.
Result<std::shared_ptr<const persona::Persona>> ResolvePersona(const persona::PersonaStore* store,
                                                              const nlohmann::json& value);
// The Cadence voice id a persona is bound to ("" for none).
std::string PersonaVoice(const persona::Persona& persona);
speech::Tone PersonaTone(const persona::Persona& persona);

// The words a listener hears in tagged reply text (style tags removed).
std::string SpokenText(std::string_view tagged);

class UtteranceAnalysis {
 public:
  virtual ~UtteranceAnalysis() = default;
  virtual void Accept(std::span<const float> samples_16k) = 0;
  virtual paralinguistics::UtteranceCues Finish() = 0;
};
// Null when `analyzer` is null (or paralinguistics is not built in).
std::unique_ptr<UtteranceAnalysis> CreateUtteranceAnalysis(const paralinguistics::Analyzer* analyzer);

}  // namespace cadence::realtime
