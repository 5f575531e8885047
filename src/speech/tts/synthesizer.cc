// The Synthesizer: parses inline style tags into segments, picks an engine voice per phrase
// (English → Flite, Mandarin → eSpeak NG), renders phrase by phrase with the prosody plan,
// sculpts the waveform at 24 kHz and hands each phrase or vocalization to the sink at once.
#include "speech/tts/synthesizer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include "audio/resampler.h"
#include "core/log.h"
#include "speech/tts/engine_voice.h"
#include "speech/tts/nonverbal.h"
#include "speech/tts/prosody_plan.h"
#include "speech/tts/sculpt.h"
#include "speech/tts/style_parser.h"
#include "speech/tts/text_split.h"

namespace cadence::speech {
namespace {

struct VoiceEntry {
  VoiceInfo info;
  std::string engine_name;  // Flite id or eSpeak voice name
  int espeak_pitch = 50;    // eSpeak base pitch parameter
};

const std::vector<VoiceEntry>& VoiceTable() {
  static const std::vector<VoiceEntry> kVoices = {
      {{"slt", "flite", "en", "female", "US English female (CMU SLT, clustergen)"}, "slt"},
      {{"rms", "flite", "en", "male", "US English male (CMU RMS, clustergen)"}, "rms"},
      {{"awb", "flite", "en", "male", "Scottish English male (CMU AWB, clustergen)"}, "awb"},
      {{"kal16", "flite", "en", "male", "US English male (CMU KAL, diphone)"}, "kal16"},
      {{"cmn-f", "espeak", "zh", "female", "Mandarin Chinese female (eSpeak NG cmn, variant f2)"}, "cmn+f2"},
      // eSpeak's cmn male sits at ~79 Hz (Praat); base pitch 72 lifts it to ~110 Hz, a typical
      // Mandarin male speaking pitch, and keeps sad/tired renderings above Praat's 75 Hz floor.
      {{"cmn-m", "espeak", "zh", "male", "Mandarin Chinese male (eSpeak NG cmn)"}, "cmn", 72},
      {{"yue-f", "espeak", "yue", "female", "Cantonese female (eSpeak NG yue, variant f2)"}, "yue+f2"},
      {{"yue-m", "espeak", "yue", "male", "Cantonese male (eSpeak NG yue)"}, "yue", 70},
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

constexpr int kSentencePauseMs = 180;  // after sentence-final punctuation, on top of kept edges

// A voice's speaking pitch, for nonverbal sounds that must match it.
double SpeakingF0Hz(const VoiceInfo& voice) { return voice.gender == "female" ? 200.0 : 115.0; }

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
    if (!request.language.empty() && request.language != "en" && request.language != "zh" && request.language != "yue")
      return Status::InvalidArgument("language '" + request.language +
                                     "' is not supported; use \"en\", \"zh\", \"yue\" (Cantonese) or \"\" (detect)");
    if (!request.tone.emotion.empty() && !IsKnownEmotion(request.tone.emotion))
      return Status::InvalidArgument("tone emotion '" + request.tone.emotion +
                                     "' is unknown; use neutral, happy, excited, angry, sad, tired, tender, calm or whisper");
    CADENCE_ASSIGN_OR_RETURN(std::string voice_id, ResolveVoice(request.voice));
    const VoiceEntry* chosen = FindEntry(voice_id);

    StyledText styled = ParseStyledText(request.text);
    for (const std::string& tag : styled.unsupported)
      CADENCE_LOG(kInfo, "tts", "unsupported style tag %s: no such voice here; rendering in the current voice, tag not spoken",
                  tag.c_str());
    for (const std::string& tag : styled.dropped)
      CADENCE_LOG(kDebug, "tts", "unknown style tag %s dropped (not spoken)", tag.c_str());

    std::vector<float> out;
    for (const StyledSegment& seg : styled.segments) {
      if (cancel.cancelled()) return Status::Cancelled("synthesis cancelled");
      out.clear();
      if (seg.kind == SegmentKind::kSpeech) {
        std::string language = !seg.language.empty()      ? seg.language
                               : !request.language.empty() ? request.language
                               : ContainsHan(seg.text)     ? "zh"
                                                           : "en";
        const VoiceEntry* entry = VoiceFor(chosen, language);
        CADENCE_RETURN_IF_ERROR(RenderSpeech(*entry, seg, request, cancel, &out));
      } else if (seg.kind == SegmentKind::kPause) {
        out.assign(static_cast<size_t>(kTtsSampleRateHz) * seg.pause_ms / 1000, 0.0f);
      } else {
        double f0 = SpeakingF0Hz(chosen->info);
        out = seg.kind == SegmentKind::kLaugh  ? SynthesizeLaugh(kTtsSampleRateHz, f0)
              : seg.kind == SegmentKind::kSigh ? SynthesizeSigh(kTtsSampleRateHz, f0)
                                               : SynthesizeBreath(kTtsSampleRateHz);
        out.insert(out.end(), kTtsSampleRateHz / 20, 0.0f);  // 50 ms before speech resumes
      }
      if (out.empty()) continue;
      if (!on_audio(out)) return Status::Ok();
    }
    return Status::Ok();
  }

 private:
  // One phrase: native prosody, then pitch on the waveform where the engine has none, 24 kHz,
  // trimmed edges, breathiness, loudness.
  Status RenderSpeech(const VoiceEntry& entry, const StyledSegment& seg, const SynthesisRequest& request,
                      const CancelToken& cancel, std::vector<float>* out) const {
    auto voice_it = voices_.find(entry.info.id);
    if (voice_it == voices_.end())
      return Status::Unavailable("voice '" + entry.info.id + "' (" + entry.info.engine +
                                 ") is not available on this machine");
    const EngineVoice& voice = *voice_it->second;
    PhrasePlan plan = PlanPhrase(request.tone, request.speed, seg.style);
    EngineProsody native = plan.engine;
    if (!voice.native_pitch()) native.pitch_st = 0.0;
    std::vector<float> pcm;
    CADENCE_RETURN_IF_ERROR(voice.Render(seg.text, native, cancel, &pcm));
    if (!voice.native_pitch())
      PitchShift(&pcm, voice.sample_rate_hz(),
                 plan.engine.pitch_st - voice.MeanShiftFromRangeSt(std::clamp(plan.engine.pitch_range, 0.0, 2.0)));
    *out = audio::Resample(pcm, voice.sample_rate_hz(), kTtsSampleRateHz);
    TrimSilence(out, kTtsSampleRateHz);
    Breathe(out, kTtsSampleRateHz, plan.breathiness);
    ApplyGain(out, 1.0);
    if (seg.sentence_end && !out->empty())
      out->insert(out->end(), static_cast<size_t>(kTtsSampleRateHz) * kSentencePauseMs / 1000, 0.0f);
    return Status::Ok();
  }

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
    if (language == "yue") return FindEntry(female ? "yue-f" : "yue-m");
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
                                              : CreateEspeakVoice(entry.engine_name, entry.espeak_pitch);
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
