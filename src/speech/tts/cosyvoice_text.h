// Reply text with Cadence's inline style tags → what CosyVoice 2's language model reads: the text
// with its fine-grained tags, and an instruction for the scene tone (instruct mode).
//
// Mapping (events and spans of style_parser.h):
//   [laughs] [chuckles] (laughs)  → [laughter]        [sighs] (sighs)  → [sigh]
//   [breath] [inhales] [exhales]  → [breath]          <emphasis>…</emphasis> → <strong>…</strong>
//   [pause] <break time=…/>       → a comma, or "……" for 500 ms and more (CosyVoice has no pause tag;
//                                   punctuation is how its LM learned to pause)
//   StepFun （高兴 1）, cues such as (whispering), and the session's scene tone → the instruction:
//   "<English or Chinese sentence naming the emotion, its degree, whisper, rate>" + <|endofprompt|>,
//   as CosyVoice 2's inference_instruct2 prompts it. A neutral tone with no cues gives no
//   instruction (zero-shot mode: the voice prompt's own manner).
// The instruction's language follows the reply's (Chinese when it contains Han characters).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "speech/tts/tone.h"

namespace cadence::speech {

struct CosyVoiceText {
  std::string text;         // tags mapped; never empty when the reply has words or events
  std::string instruction;  // "" or "…<|endofprompt|>"
  std::string language;     // "en" | "zh": the reply's
};

CosyVoiceText ToCosyVoiceText(std::string_view tagged_reply, const Tone& scene_tone);

}  // namespace cadence::speech
