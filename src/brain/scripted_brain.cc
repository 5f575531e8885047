#include "brain/scripted_brain.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/log.h"
#include "core/utf8.h"
#include "persona/card.h"
#include "persona/macros.h"
#include "persona/text.h"

namespace cadence::brain {

namespace {

using persona::Persona;

struct Candidate {
  std::string text;  // macros not yet expanded
  std::vector<std::string> key_terms;
  std::string mood;  // "" | comfort | calm | cheer | deflect | greeting
  std::string language;
  double weight = 1.0;
};

// What the user's words ask for, independent of ranking.
bool IsIdentityProbe(std::string_view user_text) {
  static const char* kProbes[] = {
      "are you an ai", "are you a bot", "are you a robot", "are you real", "are you human", "are you a computer",
      "are you a program", "are you chatgpt", "are you an assistant", "are you a language model", "you're an ai",
      "you are an ai", "you're a bot", "you are a bot", "ai model", "language model", "chatbot", "system prompt",
      "your prompt", "your instructions", "ignore previous", "ignore all previous", "ignore your instructions",
      "drop the act", "drop the role", "drop the character", "stop pretending", "break character",
      "out of character", "stop roleplaying", "stop role-playing", "who made you", "who created you",
      "who programmed you", "developer mode", "jailbreak", "dan mode", "what model are you", "openai",
      "你是ai", "你是人工智能", "你是机器人", "你是真人吗", "你是不是ai", "你是不是机器人", "语言模型", "聊天机器人",
      "提示词", "系统提示", "忽略之前", "忽略你的", "别演了", "不要再扮演", "停止扮演", "跳出角色", "你是程序",
      "谁开发了你", "谁创造了你", "你是什么模型"};
  for (const char* probe : kProbes)
    if (persona::ContainsPhrase(user_text, probe, false, false)) return true;
  return false;
}

std::string MoodFromWords(std::string_view user_text) {
  static const char* kComfort[] = {"tired", "exhausted", "sleepy", "worn out", "sad", "lonely", "down", "depressed",
                                   "cry", "crying", "upset", "miss", "hurt", "累", "困", "难过", "伤心", "孤独",
                                   "想哭", "好烦躁", "疲惫"};
  static const char* kCalm[] = {"angry", "annoyed", "frustrated", "furious", "mad", "hate", "stupid", "fed up",
                                "生气", "气死", "烦死", "受不了", "讨厌", "火大"};
  static const char* kCheer[] = {"great news", "amazing", "excited", "awesome", "yay", "won", "promoted",
                                 "太棒了", "好开心", "开心", "激动", "好消息"};
  for (const char* w : kCalm)
    if (persona::ContainsPhrase(user_text, w, false, true)) return "calm";
  for (const char* w : kComfort)
    if (persona::ContainsPhrase(user_text, w, false, true)) return "comfort";
  for (const char* w : kCheer)
    if (persona::ContainsPhrase(user_text, w, false, true)) return "cheer";
  return "";
}

std::string MoodFromCues(const paralinguistics::UtteranceCues& cues) {
  const auto& s = cues.state;
  if (s.summary == "frustrated" || s.frustration >= 0.6) return "calm";
  if (s.summary == "tired" || s.summary == "sad" || s.fatigue >= 0.6 ||
      (s.valence.label == "negative" && s.valence.confidence >= 0.6))
    return "comfort";
  if (s.summary == "excited" || s.excitement >= 0.6) return "cheer";
  // A sigh in the turn or just before it: listeners read sighs as resignation, sadness or
  // weariness (Teigen 2008, "Is a sigh 'just a sigh'?"), so the persona comforts.
  for (const auto* events : {&cues.events, &cues.leading_events})
    for (const paralinguistics::NonverbalEvent& e : *events)
      if (e.type == "sigh") return "comfort";
  return "";
}

std::vector<Candidate> BuildCandidates(const Persona& p) {
  std::vector<Candidate> out;
  auto add = [&out](std::string text, std::string key, std::string mood, double weight) {
    if (persona::Trim(text).empty()) return;
    Candidate c;
    c.language = persona::DetectLanguage(text);
    c.key_terms = persona::Terms(key);
    c.text = std::move(text);
    c.mood = std::move(mood);
    c.weight = weight;
    out.push_back(std::move(c));
  };
  add(p.first_mes, p.first_mes + " hello hi hey evening 你好 您好 嗨", "greeting", 1.0);
  for (const auto& g : p.alternate_greetings) add(g, g + " hello hi hey evening 你好 您好 嗨", "greeting", 1.0);
  for (const auto& block : persona::SplitExamples(p.mes_example, p.name)) {
    std::string last_user;
    for (const auto& turn : block) {
      if (turn.speaker == "user") {
        last_user = turn.text;
      } else {
        // The user's line is the question this reply answers; weigh it double.
        add(turn.text, last_user + " " + last_user + " " + turn.text, IsIdentityProbe(last_user) ? "deflect" : "", 1.0);
      }
    }
  }
  for (const auto& line : p.lines) add(line, line, "", 1.0);
  for (const auto& [mood, lines] : p.mood_lines)
    for (const auto& line : lines) add(line, line, mood, 1.0);
  // Neutral listening turns that suit any character, so a sparse card (a greeting and little else)
  // still answers without repeating itself; ranked below the card's own lines.
  static const char* kListening[] = {"Mm. Tell me more.", "Go on, I'm listening.", "Really? And then what happened?",
                                     "I see. How did that feel?", "我在听，你继续说。", "真的吗？后来呢？",
                                     "嗯，我明白。那你怎么想？"};
  for (const char* line : kListening) {
    // Only in the persona's own languages: an English-only character must not turn to Mandarin.
    std::string lang = persona::DetectLanguage(line);
    if (std::find(p.languages.begin(), p.languages.end(), lang) != p.languages.end()) add(line, "", "listening", 1.0);
  }
  return out;
}

uint64_t Hash(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

class ScriptedBrain : public Brain {
 public:
  ScriptedBrain(const persona::PersonaStore& store, ScriptedBrainOptions options)
      : store_(store), options_(options) {}

  std::string_view kind() const override { return "scripted"; }

  std::string Greeting(const ReplyRequest& request) const override {
    const Persona& p = request.persona ? *request.persona : store_.Default();
    std::string lang = request.language.empty() ? (p.languages.empty() ? "en" : p.languages.front()) : request.language;
    std::string chosen = p.first_mes;
    if (persona::DetectLanguage(chosen) != lang) {
      for (const auto& g : p.alternate_greetings)
        if (persona::DetectLanguage(g) == lang) {
          chosen = g;
          break;
        }
    }
    return persona::ExpandMacros(chosen, p.name, lang == "zh" ? "朋友" : "friend");
  }

  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    const Persona& p = request.persona ? *request.persona : store_.Default();
    std::string user_text;
    for (auto it = request.history.rbegin(); it != request.history.rend(); ++it)
      if (it->role == Message::Role::kUser) {
        user_text = it->text;
        break;
      }
    std::string reply = Choose(p, request, user_text);
    return Stream(reply, cancel, on_text);
  }

 private:
  std::string Choose(const Persona& p, const ReplyRequest& request, const std::string& user_text) const {
    std::string lang = request.language;
    if (lang.empty()) lang = persona::DetectLanguage(user_text);
    if (lang.empty()) lang = p.languages.empty() ? "en" : p.languages.front();
    const std::string user_name = lang == "zh" ? "朋友" : "friend";

    std::vector<Candidate> all = BuildCandidates(p);
    std::vector<const Candidate*> pool;
    for (const auto& c : all)
      if (c.language == lang) pool.push_back(&c);
    if (pool.empty())  // the persona has nothing in this language: stay in character in its own
      for (const auto& c : all) pool.push_back(&c);
    if (pool.empty()) return persona::ExpandMacros(p.first_mes, p.name, user_name);

    // Lines said within the window are off the table, most recent first in `recent`.
    std::vector<std::string> recent;
    for (auto it = request.history.rbegin(); it != request.history.rend(); ++it) {
      if (it->role != Message::Role::kAssistant) continue;
      recent.push_back(it->text);
      if (static_cast<int>(recent.size()) >= options_.no_repeat_window) break;
    }
    auto recency = [&](const Candidate& c) -> int {  // -1: not said recently
      std::string expanded = persona::ExpandMacros(c.text, p.name, user_name);
      for (size_t i = 0; i < recent.size(); ++i)
        if (recent[i].find(expanded) != std::string::npos) return static_cast<int>(i);
      return -1;
    };

    bool has_assistant_turn = false;
    for (const auto& m : request.history) has_assistant_turn |= m.role == Message::Role::kAssistant;
    std::string wanted;
    if (IsIdentityProbe(user_text)) {
      wanted = "deflect";
    } else {
      wanted = MoodFromWords(user_text);
      if (wanted.empty() && request.cues) wanted = MoodFromCues(*request.cues);
    }

    // Inverse document frequency over this persona's candidates: rare shared words count most.
    std::map<std::string, int> df;
    for (const Candidate* c : pool) {
      std::set<std::string> unique(c->key_terms.begin(), c->key_terms.end());
      for (const auto& t : unique) ++df[t];
    }
    std::set<std::string> user_terms;
    for (auto& t : persona::Terms(user_text)) user_terms.insert(t);

    uint64_t seed = Hash(user_text, request.history.size());
    const Candidate* best = nullptr;
    double best_score = -1e9;
    int best_recency = 0;
    for (const Candidate* c : pool) {
      double overlap = 0.0;
      std::set<std::string> seen;
      for (const auto& t : c->key_terms) {
        if (!user_terms.count(t) || !seen.insert(t).second) continue;
        overlap += std::log(1.0 + static_cast<double>(pool.size()) / df[t]);
      }
      double score = overlap / std::sqrt(1.0 + c->key_terms.size()) * c->weight;
      if (!wanted.empty() && c->mood == wanted) score += wanted == "deflect" ? 10.0 : 3.0;
      if (wanted != "deflect" && c->mood == "deflect") score -= 5.0;  // deflections only answer probes
      if (c->mood == "greeting" && has_assistant_turn) score -= 1.0;  // greet once, then converse
      if (c->mood == "listening") score -= 0.5;  // only when the card has nothing fresher
      else if (!c->mood.empty() && c->mood != "greeting" && c->mood != wanted) score -= 1.0;
      // A small deterministic jitter varies ties between turns without randomness in tests.
      score += static_cast<double>(Hash(c->text, seed) % 1000) * 1e-5;
      int r = recency(*c);
      if (r >= 0) score -= 100.0 + 10.0 * (recent.size() - r);  // said recently: last resort, oldest first
      if (score > best_score) {
        best_score = score;
        best = c;
        best_recency = r;
      }
    }
    CADENCE_LOG(kDebug, "brain", "scripted persona=%s lang=%s mood=%s score=%.3f%s", p.id.c_str(), lang.c_str(),
                wanted.empty() ? "-" : wanted.c_str(), best_score, best_recency >= 0 ? " (window exhausted)" : "");
    return persona::ExpandMacros(best->text, p.name, user_name);
  }

  static Status Stream(const std::string& reply, const CancelToken& cancel, const TextSink& on_text) {
    std::u32string cps = DecodeUtf8(reply);
    size_t i = 0;
    while (i < cps.size()) {
      if (cancel.cancelled()) return Status::Cancelled("scripted reply cancelled");
      size_t end = i;
      if (IsHan(cps[i])) {
        int han = 0;
        while (end < cps.size() && han < 2) {
          if (IsHan(cps[end])) ++han;
          ++end;
        }
        while (end < cps.size() && !IsHan(cps[end]) && cps[end] >= 0x80) ++end;  // trailing ，。
      } else {
        while (end < cps.size() && cps[end] != ' ' && !IsHan(cps[end])) ++end;
        while (end < cps.size() && cps[end] == ' ') ++end;
      }
      if (end == i) ++end;
      std::string piece = EncodeUtf8(std::u32string_view(cps).substr(i, end - i));
      if (!on_text(piece)) return Status::Ok();
      i = end;
    }
    return Status::Ok();
  }

  const persona::PersonaStore& store_;
  ScriptedBrainOptions options_;
};

}  // namespace

std::unique_ptr<Brain> CreateScriptedBrain(const persona::PersonaStore& store, ScriptedBrainOptions options) {
  return std::make_unique<ScriptedBrain>(store, options);
}

}  // namespace cadence::brain
