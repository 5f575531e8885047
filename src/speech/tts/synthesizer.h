// Speech synthesis: reply text (with inline style tags) to 24 kHz mono audio, streamed.
//
// A Synthesizer is created once and shared (const, thread-safe). Synthesize() runs on a compute
// worker, renders phrase by phrase, and hands each finished chunk to `on_audio` at once, so the
// first audio of a reply leaves before later phrases are rendered. It stops within one phrase when
// `cancel` is set. Tags are rendered, never read aloud (see tone.h and the expressive-speech notes).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "speech/tts/tone.h"

namespace cadence::speech {

inline constexpr int kTtsSampleRateHz = 24000;

struct VoiceInfo {
  std::string id;        // Cadence voice id, e.g. "slt", "rms", "cmn-f"
  std::string engine;    // "flite" | "espeak"
  std::string language;  // "en" | "zh" | "yue" (Cantonese)
  std::string gender;    // "female" | "male"
  std::string description;
};

struct SynthesisRequest {
  std::string text;      // may contain inline tags
  std::string voice;     // a Cadence voice id (ResolveVoice maps vendor names)
  std::string language;  // "en" | "zh" | "yue" | "": detected from the text (en/zh)
  Tone tone;             // scene tone for the whole reply
  double speed = 1.0;    // OpenAI `speed`, multiplies the tone's rate
};

// Receives 24 kHz mono float audio; return false to stop synthesis.
using AudioSink = std::function<bool(std::span<const float> samples_24k)>;

class Synthesizer {
 public:
  virtual ~Synthesizer() = default;
  virtual Status Synthesize(const SynthesisRequest& request, const CancelToken& cancel,
                            const AudioSink& on_audio) const = 0;
  virtual std::vector<VoiceInfo> Voices() const = 0;
  // Maps a voice name — Cadence's own, OpenAI's (alloy, ash, ballad, coral, echo, sage, shimmer,
  // verse, marin, cedar) or StepFun's (qingchunshaonv, wenrounansheng) — to a Cadence voice id.
  // InvalidArgument for an unknown name.
  virtual Result<std::string> ResolveVoice(std::string_view name) const = 0;
};

struct SynthesizerConfig {
  std::string default_voice = "slt";
};

Result<std::unique_ptr<Synthesizer>> CreateSynthesizer(const SynthesizerConfig& config);

}  // namespace cadence::speech
