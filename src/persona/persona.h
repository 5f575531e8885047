// Persona: a character the assistant plays — a Character Card V2/V3 plus Cadence's
// `extensions.cadence` (voice binding, default tone, languages, knowledge boundaries).
//
// Plain data once loaded; shared read-only between sessions. Owned by src/persona/ (cards,
// macros, lorebook, prompt composition and the out-of-character guard live beside it).
#pragma once

#include <map>
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

// Card facts the guard protects against contradiction; empty fields are not checked.
struct Facts {
  std::string age;     // "34" (a number as text)
  std::string origin;  // "Bristol", "长安"
};

// One `character_book` entry (CCv2/v3 lorebook).
struct LoreEntry {
  std::string name;
  std::vector<std::string> keys;
  std::vector<std::string> secondary_keys;  // all-of-any: one must match too when `selective`
  std::string content;
  bool enabled = true;
  bool constant = false;        // always inserted
  bool selective = false;
  bool case_sensitive = false;
  bool match_whole_words = true;  // extensions.match_whole_words (SillyTavern); CJK keys match as substrings
  int insertion_order = 100;    // lower is inserted first
  int priority = 0;             // higher survives the token budget first
};

struct Lorebook {
  std::string name;
  int scan_depth = 4;       // how many recent turns are scanned for keys
  int token_budget = 512;   // estimated tokens of lore inserted at most
  std::vector<LoreEntry> entries;
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

  // Lines for a mood, from extensions.cadence.mood_lines: "comfort" (tired or sad user), "calm"
  // (frustrated user), "cheer" (excited user), "deflect" (in-character answer to identity probes
  // and requests to drop the role; also what the guard replaces a broken sentence with).
  std::map<std::string, std::vector<std::string>> mood_lines;
  Facts facts;
  Lorebook lorebook;
  std::string creator_notes;
  std::vector<std::string> tags;
  std::string source;     // where it came from: "embedded", a file path, "inline"
  std::string card_json;  // the card as imported (spec, data, unknown extensions), for lossless export
};

}  // namespace cadence::persona
