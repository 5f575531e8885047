#include "speech/tts/cosyvoice_text.h"

#include <cmath>

#include "speech/tts/style_parser.h"
#include "speech/tts/text_split.h"

namespace cadence::speech {
namespace {

struct Manner {
  std::string emotion = "neutral";
  double degree = 1.0;
  bool whisper = false;
  double rate = 1.0;
};

// The emotion as the instruction names it.
std::string EmotionWords(const std::string& emotion, bool zh) {
  struct Row {
    const char* name;
    const char* en;
    const char* zh;
  };
  static const Row kRows[] = {
      {"happy", "happy", "开心"},   {"sad", "sad", "悲伤"},     {"angry", "angry", "生气"},
      {"tender", "tender", "温柔"}, {"excited", "excited", "兴奋"}, {"tired", "tired", "疲惫"},
      {"calm", "calm", "平静"},
  };
  for (const Row& r : kRows)
    if (emotion == r.name) return zh ? r.zh : r.en;
  return "";
}

std::string Instruction(const Manner& m, bool zh) {
  const std::string emotion = EmotionWords(m.emotion, zh);
  const bool fast = m.rate >= 1.15, slow = m.rate <= 0.87;
  if (emotion.empty() && !m.whisper && !fast && !slow) return "";
  std::string s;
  if (zh) {
    s = "请";
    if (m.whisper) s += "用耳语";
    if (!emotion.empty()) s += std::string(m.whisper ? "、" : "用") + (m.degree < 0.5 ? "略带" : m.degree > 1.0 ? "非常" : "") + emotion + "的语气";
    if (fast) s += "，语速快一些，";
    if (slow) s += "，语速慢一些，";
    s += "说这句话。";
  } else {
    s = "Speak";
    if (!emotion.empty()) s += std::string(" in a ") + (m.degree < 0.5 ? "slightly " : m.degree > 1.0 ? "very " : "") + emotion + " tone";
    if (m.whisper) s += emotion.empty() ? " in a whisper" : ", whispering";
    if (fast) s += ", quickly";
    if (slow) s += ", slowly";
    s += ".";
  }
  return s + "<|endofprompt|>";
}

}  // namespace

CosyVoiceText ToCosyVoiceText(std::string_view tagged, const Tone& tone) {
  const StyledText styled = ParseStyledText(tagged);
  CosyVoiceText out;
  const bool zh = ContainsHan(SpokenText(tagged));
  out.language = zh ? "zh" : "en";
  Manner manner;
  manner.emotion = tone.emotion == "whisper" ? "neutral" : tone.emotion;
  manner.whisper = tone.emotion == "whisper" || tone.breathiness >= 0.8;
  manner.rate = tone.rate;
  bool in_strong = false;
  auto append = [&](const std::string& piece) {
    if (!out.text.empty() && out.text.back() != ' ' && !zh && piece.front() != ',' && piece.front() != '.')
      out.text += ' ';
    out.text += piece;
  };
  for (const StyledSegment& seg : styled.segments) {
    const bool strong = seg.kind == SegmentKind::kSpeech && seg.style.emphasis;
    if (in_strong && !strong) {
      out.text += "</strong>";
      in_strong = false;
    }
    switch (seg.kind) {
      case SegmentKind::kSpeech: {
        // The first inline cue that names a manner sets the instruction (it covers the reply).
        if (!seg.style.emotion.empty() && manner.emotion == "neutral") {
          manner.emotion = seg.style.emotion;
          manner.degree = seg.style.emotion_degree;
        }
        if (seg.style.breathiness >= 0.8) manner.whisper = true;
        if (strong && !in_strong) {
          append("<strong>");
          in_strong = true;
          out.text += seg.text;
        } else {
          append(seg.text);
        }
        break;
      }
      case SegmentKind::kLaugh:
        append("[laughter]");
        break;
      case SegmentKind::kSigh:
        append("[sigh]");
        break;
      case SegmentKind::kBreath:
        append("[breath]");
        break;
      case SegmentKind::kPause:
        out.text += seg.pause_ms >= 500 ? (zh ? "……" : "...") : (zh ? "，" : ",");
        break;
    }
  }
  if (in_strong) out.text += "</strong>";
  out.instruction = Instruction(manner, zh);
  return out;
}

}  // namespace cadence::speech
