// Inline style tags in reply text → a flat list of styled segments (speech runs and events).
//
// Understood (case-insensitive; English and Mandarin):
//   [laughs] [laugh] [laughing] [chuckles] [sighs] [sigh] [breath] [breathes] [inhales] [exhales]
//   [pause] [long pause] [short pause]                  — events; any other [...] is dropped
//   <break time="300ms"/> <break time="1s"/> <break strength="strong"/>
//   <emphasis>..</emphasis>   <prosody rate=".." pitch=".." volume="..">..</prosody>
//   other <...> tags are dropped, their content spoken
//   (whispering) (whispers) (softly) (happily) (sadly) (angrily) (excitedly) (tiredly) (calmly)
//   (tenderly) (laughs) (sighs) ... — a cue lasts to the end of its sentence; other one-word
//   parentheticals ending in -ly/-ing are dropped as unknown cues; longer ones are spoken.
//   StepFun: （高兴 1）（生气 2）（悲伤 1）（低语 1）（慢速 1）（快速 2）（英语）（粤语）（四川话）（日语）
//   — last until the end of the reply; （粤语） selects Cantonese ("yue"); languages/dialects with
//   no voice here (四川话, 日语, ...) are reported in `unsupported`, not spoken.
// Pure functions; thread-safe. Never fails: malformed markup is dropped, never read aloud.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cadence::speech {

enum class SegmentKind { kSpeech, kPause, kLaugh, kSigh, kBreath };

// Adjustments relative to the scene tone; identity by default.
struct StyleAdjust {
  double rate = 1.0;         // multiplier
  double pitch_st = 0.0;     // semitones added
  double pitch_range = 1.0;  // multiplier
  double volume = 1.0;       // linear multiplier
  double breathiness = 0.0;  // 0..1, max-combined; 1 = whisper
  bool emphasis = false;     // inside <emphasis> (not level reduced/none): a neural voice's <strong>
  std::string emotion;       // "" = the scene's; else a Tone emotion preset name
  double emotion_degree = 1.0;  // 0..1 strength of `emotion`
};

struct StyledSegment {
  SegmentKind kind = SegmentKind::kSpeech;
  std::string text;          // kSpeech: the words (never contains tags)
  StyleAdjust style;         // kSpeech: the style in force
  std::string language;      // "" = detect; "en"/"zh"/"yue" when a tag forces it
  int pause_ms = 0;          // kPause
  bool sentence_end = false; // kSpeech: text ends a sentence (a natural pause follows)
};

struct StyledText {
  std::vector<StyledSegment> segments;
  std::vector<std::string> unsupported;  // tags understood but not renderable here, e.g. "（粤语）"
  std::vector<std::string> dropped;      // unknown tags dropped from speech
};

StyledText ParseStyledText(std::string_view tagged);

// The words only, for transcripts: every tag and cue removed, whitespace collapsed.
std::string SpokenText(std::string_view tagged);

}  // namespace cadence::speech
