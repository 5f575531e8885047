// The Synthesizer: picks an engine voice per sentence (English → Flite, Mandarin → eSpeak NG),
// renders sentence by sentence, resamples to 24 kHz and hands each sentence to the sink at once.
#include "speech/tts/synthesizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "audio/resampler.h"
#include "core/log.h"
#include "speech/tts/engine_voice.h"
#include "speech/tts/text_split.h"

namespace cadence::speech {
namespace {

struct VoiceEntry {
  VoiceInfo info;
  std::string engine_name;  // Flite id or eSpeak voice name
};

const std::vector<VoiceEntry>& VoiceTable() {
  static const std::vector<VoiceEntry> kVoices = {
      {{"slt", "flite", "en", "female", "US English female (CMU SLT, clustergen)"}, "slt"},
      {{"rms", "flite", "en", "male", "US English male (CMU RMS, clustergen)"}, "rms"},
      {{"awb", "flite", "en", "male", "Scottish English male (CMU AWB, clustergen)"}, "awb"},
      {{"kal16", "flite", "en", "male", "US English male (CMU KAL, diphone)"}, "kal16"},
      {{"cmn-f", "espeak", "zh", "female", "Mandarin Chinese female (eSpeak NG cmn, variant f2)"}, "cmn+f2"},
      {{"cmn-m", "espeak", "zh", "male", "Mandarin Chinese male (eSpeak NG cmn)"}, "cmn"},
  };
  return kVoices;
}

// Vendor voice names → Cadence voice id, chosen by the vendor voice's gender.
const std::map<std::string, std::string>& VendorVoices() {
  static const std::map<std::string, std::string> kMap = {
      {"alloy", "slt"},  {"ash", "rms"},     {"ballad", "awb"}, {"coral", "slt"},
      {"echo", "rms"},   {"sage", "slt"},    {"shimmer", "slt"}, {"verse", "kal16"},
      {"marin", "slt"},  {"cedar", "rms"},
      {"qingchunshaonv", "cmn-f"},   // 青春少女, young female
      {"wenrounansheng", "cmn-m"},   // 温柔男声, gentle male
  };
  return kMap;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Scene tone → native prosody: energy raises rate, pitch, range and loudness together.
EngineProsody ProsodyFromTone(const Tone& tone, double speed) {
  double energy = std::clamp(tone.energy, -1.0, 1.0);
  EngineProsody p;
  p.rate = std::clamp(tone.rate * speed * (1.0 + 0.12 * energy), 0.25, 4.0);
  p.pitch_st = tone.pitch_st + 2.0 * energy;
  p.pitch_range = std::max(0.0, tone.pitch_range * (1.0 + 0.35 * energy));
  p.volume = std::clamp(1.0 + 0.3 * energy, 0.2, 2.0);
  return p;
}

class EngineSynthesizer final : public Synthesizer {
 public:
  EngineSynthesizer(std::string default_voice, std::map<std::string, std::shared_ptr<EngineVoice>> voices)
      : default_voice_(std::move(default_voice)), voices_(std::move(voices)) {}

  // Called once, before the synthesizer is shared.
  void set_default_voice(std::string id) { default_voice_ = std::move(id); }

  std::vector<VoiceInfo> Voices() const override {
    std::vector<VoiceInfo> out;
    for (const auto& entry : VoiceTable())
      if (voices_.count(entry.info.id)) out.push_back(entry.info);
    return out;
  }

  Result<std::string> ResolveVoice(std::string_view name) const override {
    std::string key = Lower(name);
    if (key.empty()) return default_voice_;
    for (const auto& entry : VoiceTable())
      if (entry.info.id == key) return entry.info.id;
    auto it = VendorVoices().find(key);
    if (it != VendorVoices().end()) return it->second;
    std::string valid;
    for (const auto& entry : VoiceTable()) valid += entry.info.id + ", ";
    for (const auto& [vendor, id] : VendorVoices()) valid += vendor + ", ";
    valid.resize(valid.size() - 2);
    return Status::InvalidArgument("unknown voice '" + std::string(name) + "'; valid voices: " + valid);
  }

  Status Synthesize(const SynthesisRequest& request, const CancelToken& cancel,
                    const AudioSink& on_audio) const override {
    if (!(request.speed >= 0.25 && request.speed <= 4.0))
      return Status::InvalidArgument("speed " + std::to_string(request.speed) + " is out of range; use 0.25 to 4.0");
    if (!request.language.empty() && request.language != "en" && request.language != "zh")
      return Status::InvalidArgument("language '" + request.language + "' is not supported; use \"en\", \"zh\" or \"\" (detect)");
    CADENCE_ASSIGN_OR_RETURN(std::string voice_id, ResolveVoice(request.voice));
    const VoiceEntry* chosen = FindEntry(voice_id);
    EngineProsody prosody = ProsodyFromTone(request.tone, request.speed);

    for (const std::string& sentence : SplitSentences(request.text)) {
      if (cancel.cancelled()) return Status::Cancelled("synthesis cancelled");
      std::string language = !request.language.empty() ? request.language : (ContainsHan(sentence) ? "zh" : "en");
      const VoiceEntry* entry = VoiceFor(chosen, language);
      auto voice_it = voices_.find(entry->info.id);
      if (voice_it == voices_.end())
        return Status::Unavailable("voice '" + entry->info.id + "' (" + entry->info.engine +
                                   ") is not available on this machine");
      std::vector<float> native;
      Status status = voice_it->second->Render(sentence, prosody, cancel, &native);
      if (!status.ok()) return status;
      std::vector<float> out = audio::Resample(native, voice_it->second->sample_rate_hz(), kTtsSampleRateHz);
      for (float& s : out) s = std::clamp(s, -1.0f, 1.0f);
      if (out.empty()) continue;
      if (!on_audio(out)) return Status::Ok();
    }
    return Status::Ok();
  }

 private:
  static const VoiceEntry* FindEntry(const std::string& id) {
    for (const auto& entry : VoiceTable())
      if (entry.info.id == id) return &entry;
    return &VoiceTable().front();
  }

  // The requested voice if it speaks `language`, else the voice of that language and same gender.
  static const VoiceEntry* VoiceFor(const VoiceEntry* chosen, const std::string& language) {
    if (chosen->info.language == language) return chosen;
    bool female = chosen->info.gender == "female";
    if (language == "zh") return FindEntry(female ? "cmn-f" : "cmn-m");
    return FindEntry(female ? "slt" : "rms");
  }

  std::string default_voice_;
  std::map<std::string, std::shared_ptr<EngineVoice>> voices_;
};

}  // namespace

Result<std::unique_ptr<Synthesizer>> CreateSynthesizer(const SynthesizerConfig& config) {
  std::map<std::string, std::shared_ptr<EngineVoice>> voices;
  for (const auto& entry : VoiceTable()) {
    auto voice = entry.info.engine == "flite" ? CreateFliteVoice(entry.engine_name)
                                              : CreateEspeakVoice(entry.engine_name);
    if (!voice.ok()) {
      CADENCE_LOG(kWarn, "tts", "voice %s unavailable: %s", entry.info.id.c_str(),
                  voice.status().ToString().c_str());
      continue;
    }
    voices[entry.info.id] = std::move(voice).value();
  }
  if (!voices.count("slt"))
    return Status::Unavailable("the default English voice (Flite slt) failed to load; install libflite1");
  auto synth = std::make_unique<EngineSynthesizer>("slt", std::move(voices));
  auto resolved = synth->ResolveVoice(config.default_voice);
  if (!resolved.ok()) return resolved.status().WithContext("SynthesizerConfig.default_voice");
  synth->set_default_voice(*resolved);
  return std::unique_ptr<Synthesizer>(std::move(synth));
}

}  // namespace cadence::speech
