#include "realtime/session_extras.h"

#include "paralinguistics/analyzer.h"
#include "persona/store.h"
#include "speech/tts/style_parser.h"

namespace cadence::realtime {

Result<std::shared_ptr<const persona::Persona>> ResolvePersona(const persona::PersonaStore* store,
                                                              const nlohmann::json& value) {
  if (value.is_null()) return std::shared_ptr<const persona::Persona>();
  if (value.is_object()) {
    // An inline card: the session owns its parsed copy.
    Result<persona::Persona> card = persona::PersonaStore::ParseCard(value.dump());
    if (!card.ok()) return card.status().WithContext("session.persona (inline card)");
    return std::shared_ptr<const persona::Persona>(std::make_shared<persona::Persona>(std::move(*card)));
  }
  if (!value.is_string()) {
    return Status::InvalidArgument("session.persona must be a persona id, an inline character card or null");
  }
  if (store == nullptr) {
    return Status::Unavailable("this server has no persona store; send an inline card or persona null");
  }
  const std::string id = value.get<std::string>();
  const persona::Persona* found = store->Find(id);
  if (found == nullptr) {
    std::string ids;
    for (const persona::Persona* p : store->List()) ids += (ids.empty() ? "" : ", ") + p->id;
    return Status::NotFound("unknown persona \"" + id + "\"; this server has: " + ids);
  }
  // The store outlives every session, so the pointer is borrowed, not owned.
  return std::shared_ptr<const persona::Persona>(found, [](const persona::Persona*) {});
}

std::string PersonaVoice(const persona::Persona& persona) { return persona.voice.voice; }

speech::Tone PersonaTone(const persona::Persona& persona) {
  // The voice binding's pitch and rate are the character's own; the scene tone moves around them.
  speech::Tone tone = persona.tone;
  tone.pitch_st += persona.voice.base_pitch_st;
  if (persona.voice.rate > 0.0) tone.rate *= persona.voice.rate;
  return tone;
}

std::string SpokenText(std::string_view tagged) { return speech::SpokenText(tagged); }

namespace {

class AnalyzerUtterance : public UtteranceAnalysis {
 public:
  explicit AnalyzerUtterance(const paralinguistics::Analyzer& analyzer) : stream_(analyzer.NewStream()) {}
  void Accept(std::span<const float> samples_16k) override { stream_->Accept(samples_16k); }
  paralinguistics::UtteranceCues Finish() override { return stream_->Finish(); }

 private:
  std::unique_ptr<paralinguistics::AnalyzerStream> stream_;
};

}  // namespace

std::unique_ptr<UtteranceAnalysis> CreateUtteranceAnalysis(const paralinguistics::Analyzer* analyzer) {
  if (analyzer == nullptr) return nullptr;
  return std::make_unique<AnalyzerUtterance>(*analyzer);
}

}  // namespace cadence::realtime
