#include "realtime/session_extras.h"

#include "realtime/sentence_stream.h"

namespace cadence::realtime {

Result<std::shared_ptr<const persona::Persona>> ResolvePersona(const persona::PersonaStore* store,
                                                              const nlohmann::json& value) {
  if (value.is_null()) return std::shared_ptr<const persona::Persona>();
  if (store == nullptr) {
    return Status::Unavailable("this server has no persona store; start it with personas or send persona null");
  }
  return Status::Unimplemented("session.persona is not wired to the persona store yet");
}

std::string PersonaVoice(const persona::Persona& persona) { return persona.voice.voice; }

speech::Tone PersonaTone(const persona::Persona& persona) { return persona.tone; }

std::string SpokenText(std::string_view tagged) { return StripStyleTags(tagged); }

nlohmann::json CuesJson(const paralinguistics::UtteranceCues& c) {
  return {{"duration_s", c.duration_s},
          {"speech_s", c.speech_s},
          {"pitch", {{"mean_hz", c.pitch.mean_hz}, {"range_st", c.pitch.range_st}}},
          {"state", {{"summary", c.state.summary}}}};
}

std::unique_ptr<UtteranceAnalysis> CreateUtteranceAnalysis(const paralinguistics::Analyzer* analyzer) {
  return nullptr;
}

}  // namespace cadence::realtime
