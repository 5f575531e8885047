// Persona: a character the assistant plays — a Character Card V2/V3 plus Cadence's
// `extensions.cadence` (voice binding, default tone, languages, knowledge boundaries).
//
// Plain data once loaded; shared read-only between sessions. Owned by src/persona/ (cards,
// macros, lorebook, prompt composition and the out-of-character guard live beside it).
#pragma once

#include <string>
#include <vector>

#include "speech/tts/tone.h"

namespace cadence::persona {

struct VoiceBinding {
  std::string engine;         // "flite" | "espeak" | "" (any)
  std::string voice;          // Cadence voice id, e.g. "slt", "cmn-f"
  double base_pitch_st = 0.0; // semitones relative to the voice's own
  double rate = 1.0;
};

struct Boundaries {
  std::string era;                  // e.g. "1890s London"; empty: present day
  std::vector<std::string> unknown_topics;  // things the character cannot know about
};

struct Persona {
  std::string id;    // file stem / slug, unique in the store
  std::string name;  // {{char}}
  std::string description, personality, scenario;
  std::string first_mes;                         // greeting
  std::vector<std::string> alternate_greetings;
  std::string mes_example;
  std::string system_prompt, post_history_instructions;
  std::vector<std::string> lines;                // authored reply lines for the scripted brain
  VoiceBinding voice;
  speech::Tone tone;
  std::vector<std::string> languages;            // "en", "zh"
  Boundaries boundaries;
  std::string avatar_data_url;                   // "data:image/png;base64,..." when the card is a PNG
};

}  // namespace cadence::persona
