#include "speech/tts/style_parser.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "speech/tts/text_split.h"

namespace cadence::speech {
namespace {

std::string LowerTrim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out(s.substr(b, e - b));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

StyleAdjust Combine(StyleAdjust a, const StyleAdjust& b) {
  a.rate *= b.rate;
  a.pitch_st += b.pitch_st;
  a.pitch_range *= b.pitch_range;
  a.volume *= b.volume;
  a.breathiness = std::max(a.breathiness, b.breathiness);
  a.emphasis = a.emphasis || b.emphasis;
  if (!b.emotion.empty()) {
    a.emotion = b.emotion;
    a.emotion_degree = b.emotion_degree;
  }
  return a;
}

StyleAdjust Emotion(const char* name, double degree = 1.0) {
  StyleAdjust s;
  s.emotion = name;
  s.emotion_degree = degree;
  return s;
}

StyleAdjust Whisper() {
  StyleAdjust s;
  s.breathiness = 1.0;
  s.volume = 0.7;
  return s;
}

// Parsed value of an SSML prosody attribute.
double ParseRate(const std::string& v) {
  if (v == "x-slow") return 0.6;
  if (v == "slow") return 0.8;
  if (v == "medium" || v == "default") return 1.0;
  if (v == "fast") return 1.25;
  if (v == "x-fast") return 1.5;
  double x = std::atof(v.c_str());
  if (!v.empty() && v.back() == '%') return std::clamp(x / 100.0, 0.25, 4.0);
  return x > 0 ? std::clamp(x, 0.25, 4.0) : 1.0;
}

double ParsePitchSt(const std::string& v) {
  if (v == "x-low") return -6;
  if (v == "low") return -3;
  if (v == "medium" || v == "default") return 0;
  if (v == "high") return 3;
  if (v == "x-high") return 6;
  double x = std::atof(v.c_str());
  if (v.size() > 2 && v.substr(v.size() - 2) == "st") return std::clamp(x, -12.0, 12.0);
  if (!v.empty() && v.back() == '%') return std::clamp(12.0 * std::log2(std::max(0.1, 1.0 + x / 100.0)), -12.0, 12.0);
  if (v.size() > 2 && v.substr(v.size() - 2) == "hz")  // relative to a ~150 Hz speaking voice
    return std::clamp(12.0 * std::log2(std::max(0.1, (150.0 + x) / 150.0)), -12.0, 12.0);
  return 0;
}

double ParseVolume(const std::string& v) {
  if (v == "silent") return 0.0;
  if (v == "x-soft") return 0.3;
  if (v == "soft") return 0.6;
  if (v == "medium" || v == "default") return 1.0;
  if (v == "loud") return 1.4;
  if (v == "x-loud") return 1.8;
  double x = std::atof(v.c_str());
  if (v.size() > 2 && v.substr(v.size() - 2) == "db") return std::clamp(std::pow(10.0, x / 20.0), 0.0, 4.0);
  if (!v.empty() && v.back() == '%') return std::clamp(x / 100.0, 0.0, 4.0);
  return 1.0;
}

std::string Attribute(const std::string& tag, const std::string& name) {
  size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string::npos) {
    size_t p = pos + name.size();
    bool boundary = pos == 0 || std::isspace(static_cast<unsigned char>(tag[pos - 1]));
    while (p < tag.size() && tag[p] == ' ') ++p;
    if (boundary && p < tag.size() && tag[p] == '=') {
      ++p;
      while (p < tag.size() && tag[p] == ' ') ++p;
      if (p < tag.size() && (tag[p] == '"' || tag[p] == '\'')) {
        char q = tag[p];
        size_t end = tag.find(q, p + 1);
        if (end != std::string::npos) return LowerTrim(tag.substr(p + 1, end - p - 1));
      }
      size_t end = p;
      while (end < tag.size() && !std::isspace(static_cast<unsigned char>(tag[end])) && tag[end] != '/') ++end;
      return LowerTrim(tag.substr(p, end - p));
    }
    pos = p;
  }
  return "";
}

int ParseBreakMs(const std::string& tag) {
  std::string time = Attribute(tag, "time");
  if (!time.empty()) {
    double x = std::atof(time.c_str());
    bool ms = time.size() > 2 && time.substr(time.size() - 2) == "ms";
    return std::clamp(static_cast<int>(ms ? x : x * 1000.0), 0, 10000);
  }
  std::string strength = Attribute(tag, "strength");
  if (strength == "none") return 0;
  if (strength == "x-weak") return 100;
  if (strength == "weak") return 200;
  if (strength == "strong") return 750;
  if (strength == "x-strong") return 1200;
  return 400;
}

class Parser {
 public:
  StyledText Run(std::string_view text) {
    text_ = text;
    while (pos_ < text_.size()) {
      size_t start = pos_;
      char32_t c = NextCodePoint(text_, &pos_);
      if (c == '[') {
        if (!Bracket()) SkipWord();  // unterminated "[laughs": the tag word is dropped too
      } else if (c == '<') {
        if (!Angle()) SkipWord();
      } else if (c == '(') {
        if (!Paren(start)) buffer_ += '(';
      } else if (c == U'（') {
        if (!FullwidthParen(start)) buffer_ += std::string(text_.substr(start, pos_ - start));
      } else {
        buffer_ += std::string(text_.substr(start, pos_ - start));
        if (EndsSentence(c)) {
          Flush(true);
          sentence_cue_ = StyleAdjust();
        }
      }
    }
    Flush(false);
    return std::move(out_);
  }

 private:
  void SkipWord() {
    while (pos_ < text_.size() && !std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  bool EndsSentence(char32_t c) {
    if (c == U'。' || c == U'！' || c == U'？' || c == U'…') return true;
    if (c != '.' && c != '!' && c != '?') return false;
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == '!' || text_[pos_] == '?')) return false;
    return pos_ >= text_.size() || std::isspace(static_cast<unsigned char>(text_[pos_])) ||
           static_cast<unsigned char>(text_[pos_]) >= 0x80 || text_[pos_] == '[' || text_[pos_] == '<';
  }

  StyleAdjust Current() const {
    StyleAdjust s = reply_;
    for (const auto& [name, adjust] : stack_) s = Combine(s, adjust);
    return Combine(s, sentence_cue_);
  }

  void Flush(bool sentence_end) {
    std::vector<std::string> pieces = SplitSentences(buffer_);
    buffer_.clear();
    StyleAdjust style = Current();
    for (size_t i = 0; i < pieces.size(); ++i) {
      StyledSegment seg;
      seg.text = pieces[i];
      seg.style = style;
      seg.language = language_;
      seg.sentence_end = sentence_end || i + 1 < pieces.size();
      out_.segments.push_back(std::move(seg));
    }
  }

  void Event(SegmentKind kind, int pause_ms = 0) {
    Flush(false);
    StyledSegment seg;
    seg.kind = kind;
    seg.pause_ms = pause_ms;
    seg.style = Current();
    out_.segments.push_back(std::move(seg));
  }

  // [tag]
  bool Bracket() {
    size_t end = text_.find(']', pos_);
    if (end == std::string_view::npos) return false;
    std::string tag = LowerTrim(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    if (tag == "laughs" || tag == "laugh" || tag == "laughing" || tag == "chuckles" || tag == "chuckle" || tag == "giggles") {
      Event(SegmentKind::kLaugh);
    } else if (tag == "sighs" || tag == "sigh" || tag == "sighing") {
      Event(SegmentKind::kSigh);
    } else if (tag == "breath" || tag == "breathes" || tag == "inhales" || tag == "exhales" || tag == "breathing") {
      Event(SegmentKind::kBreath);
    } else if (tag == "pause") {
      Event(SegmentKind::kPause, 500);
    } else if (tag == "long pause") {
      Event(SegmentKind::kPause, 1000);
    } else if (tag == "short pause") {
      Event(SegmentKind::kPause, 250);
    } else if (tag == "whispering" || tag == "whispers" || tag == "whisper") {
      Flush(false);
      sentence_cue_ = Combine(sentence_cue_, Whisper());
    } else {
      out_.dropped.push_back("[" + tag + "]");
    }
    return true;
  }

  // <tag ...>, </tag>, <tag/>
  bool Angle() {
    size_t end = text_.find('>', pos_);
    if (end == std::string_view::npos) return false;
    std::string tag = LowerTrim(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    bool closing = !tag.empty() && tag[0] == '/';
    if (closing) tag = LowerTrim(tag.substr(1));
    bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag = LowerTrim(tag.substr(0, tag.size() - 1));
    size_t name_end = 0;
    while (name_end < tag.size() && !std::isspace(static_cast<unsigned char>(tag[name_end]))) ++name_end;
    std::string name = tag.substr(0, name_end);
    if (name == "break") {
      int ms = ParseBreakMs(tag);
      if (ms > 0) Event(SegmentKind::kPause, ms);
      return true;
    }
    if (name == "emphasis" || name == "prosody") {
      Flush(false);
      if (closing) {
        for (size_t i = stack_.size(); i-- > 0;)
          if (stack_[i].first == name) {
            stack_.erase(stack_.begin() + static_cast<long>(i));
            break;
          }
        return true;
      }
      if (self_closing) return true;
      StyleAdjust adjust;
      if (name == "emphasis") {
        std::string level = Attribute(tag, "level");
        double k = level == "strong" ? 1.5 : level == "reduced" ? -0.5 : level == "none" ? 0.0 : 1.0;
        adjust.rate = 1.0 - 0.1 * k;
        adjust.pitch_st = 1.5 * k;
        adjust.pitch_range = 1.0 + 0.3 * k;
        adjust.volume = 1.0 + 0.25 * k;
        adjust.emphasis = k > 0;
      } else {
        std::string rate = Attribute(tag, "rate"), pitch = Attribute(tag, "pitch"), volume = Attribute(tag, "volume");
        if (!rate.empty()) adjust.rate = ParseRate(rate);
        if (!pitch.empty()) adjust.pitch_st = ParsePitchSt(pitch);
        if (!volume.empty()) adjust.volume = ParseVolume(volume);
        std::string range = Attribute(tag, "range");
        if (!range.empty()) adjust.pitch_range = std::clamp(std::pow(2.0, ParsePitchSt(range) / 6.0), 0.0, 3.0);
      }
      stack_.emplace_back(name, adjust);
      return true;
    }
    if (name != "speak" && name != "s" && name != "p") out_.dropped.push_back("<" + name + ">");
    return true;
  }

  // (cue) in English. Returns false when the parenthetical is ordinary text.
  bool Paren(size_t start) {
    size_t end = text_.find(')', pos_);
    if (end == std::string_view::npos || end - pos_ > 40) return false;
    std::string cue = LowerTrim(text_.substr(pos_, end - pos_));
    std::optional<StyleAdjust> adjust;
    std::optional<SegmentKind> event;
    if (cue == "whispering" || cue == "whispers" || cue == "whispered" || cue == "in a whisper") adjust = Whisper();
    else if (cue == "softly" || cue == "quietly") { StyleAdjust s; s.volume = 0.6; s.breathiness = 0.4; adjust = s; }
    else if (cue == "happily" || cue == "cheerfully" || cue == "happy") adjust = Emotion("happy");
    else if (cue == "excitedly" || cue == "excited") adjust = Emotion("excited");
    else if (cue == "sadly" || cue == "sad") adjust = Emotion("sad");
    else if (cue == "angrily" || cue == "angry") adjust = Emotion("angry");
    else if (cue == "tiredly" || cue == "tired" || cue == "wearily") adjust = Emotion("tired");
    else if (cue == "calmly" || cue == "calm") adjust = Emotion("calm");
    else if (cue == "tenderly" || cue == "gently" || cue == "warmly") adjust = Emotion("tender");
    else if (cue == "slowly") { StyleAdjust s; s.rate = 0.8; adjust = s; }
    else if (cue == "quickly") { StyleAdjust s; s.rate = 1.25; adjust = s; }
    else if (cue == "laughs" || cue == "laughing" || cue == "chuckles") event = SegmentKind::kLaugh;
    else if (cue == "sighs" || cue == "sighing") event = SegmentKind::kSigh;
    else if (cue == "inhales" || cue == "breathes") event = SegmentKind::kBreath;
    pos_ = end + 1;
    if (event) {
      Event(*event);
      return true;
    }
    if (adjust) {
      Flush(false);
      sentence_cue_ = Combine(sentence_cue_, *adjust);
      return true;
    }
    bool one_word = !cue.empty() && cue.find(' ') == std::string::npos &&
                    std::all_of(cue.begin(), cue.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
    auto ends_with = [&](const char* suffix) {
      std::string_view s(suffix);
      return cue.size() > s.size() && cue.compare(cue.size() - s.size(), s.size(), s) == 0;
    };
    if (one_word && (ends_with("ly") || ends_with("ing"))) {
      out_.dropped.push_back("(" + cue + ")");
      return true;
    }
    pos_ = start + 1;  // ordinary parenthetical: spoken
    return false;
  }

  // （标签 N） StepFun style tags. Returns false for ordinary fullwidth parentheticals.
  bool FullwidthParen(size_t start) {
    size_t end = text_.find("）", pos_);
    if (end == std::string_view::npos || end - pos_ > 30) return false;
    std::string body(text_.substr(pos_, end - pos_));
    std::string name = body;
    double degree = 1.0;
    bool has_degree = false;
    size_t sp = body.find_last_of(" \t");
    std::string tail = sp == std::string::npos ? "" : LowerTrim(body.substr(sp + 1));
    if (!tail.empty() && std::all_of(tail.begin(), tail.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      name = LowerTrim(body.substr(0, sp));
      int level = std::atoi(tail.c_str());
      degree = std::clamp(level, 1, 3) == 1 ? 0.6 : 1.0;
      has_degree = true;
    } else {
      name = LowerTrim(body);
    }
    std::string tag = "（" + body + "）";
    std::optional<StyleAdjust> adjust;
    if (name == "高兴" || name == "开心" || name == "快乐") adjust = Emotion(degree >= 1.0 ? "excited" : "happy");
    else if (name == "兴奋") adjust = Emotion("excited", degree);
    else if (name == "生气" || name == "愤怒") adjust = Emotion("angry", degree);
    else if (name == "悲伤" || name == "伤心" || name == "难过") adjust = Emotion("sad", degree);
    else if (name == "疲惫" || name == "疲倦") adjust = Emotion("tired", degree);
    else if (name == "温柔") adjust = Emotion("tender", degree);
    else if (name == "平静") adjust = Emotion("calm", degree);
    else if (name == "低语" || name == "耳语") {
      StyleAdjust s = Whisper();
      s.breathiness = degree >= 1.0 ? 1.0 : 0.7;
      adjust = s;
    } else if (name == "慢速") { StyleAdjust s; s.rate = degree >= 1.0 ? 0.7 : 0.85; adjust = s; }
    else if (name == "快速") { StyleAdjust s; s.rate = degree >= 1.0 ? 1.35 : 1.15; adjust = s; }
    else if (name == "英语" || name == "英文") {
      pos_ = end + std::string_view("）").size();
      Flush(false);
      language_ = "en";
      return true;
    } else if (name == "普通话" || name == "中文" || name == "汉语") {
      pos_ = end + std::string_view("）").size();
      Flush(false);
      language_ = "zh";
      return true;
    } else if (name == "粤语" || name == "广东话") {
      pos_ = end + std::string_view("）").size();
      Flush(false);
      language_ = "yue";
      return true;
    } else if (name == "四川话" || name == "日语" || name == "韩语" || name == "上海话" ||
               name == "东北话" || name == "台湾腔" || name == "河南话" || name == "天津话") {
      pos_ = end + std::string_view("）").size();
      out_.unsupported.push_back(tag);
      return true;
    }
    if (adjust) {
      pos_ = end + std::string_view("）").size();
      Flush(false);
      reply_ = Combine(reply_, *adjust);
      return true;
    }
    if (has_degree) {  // an unknown （名称 N） tag: dropped, not read
      pos_ = end + std::string_view("）").size();
      out_.dropped.push_back(tag);
      return true;
    }
    pos_ = start + std::string_view("（").size();
    return false;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string buffer_;
  StyleAdjust reply_;          // StepFun tags: to the end of the reply
  StyleAdjust sentence_cue_;   // English cues: to the end of the sentence
  std::vector<std::pair<std::string, StyleAdjust>> stack_;  // open SSML elements
  std::string language_;
  StyledText out_;
};

}  // namespace

StyledText ParseStyledText(std::string_view tagged) { return Parser().Run(tagged); }

std::string SpokenText(std::string_view tagged) {
  std::string out;
  for (const auto& seg : ParseStyledText(tagged).segments) {
    if (seg.kind != SegmentKind::kSpeech) continue;
    // Chinese runs join without spaces; English words and mixed runs get one.
    bool cjk_join = !out.empty() && static_cast<unsigned char>(seg.text[0]) >= 0x80 &&
                    static_cast<unsigned char>(out.back()) >= 0x80;
    bool no_space = out.empty() || cjk_join || std::ispunct(static_cast<unsigned char>(seg.text[0]));
    if (!no_space) out += ' ';
    out += seg.text;
  }
  return out;
}

}  // namespace cadence::speech
