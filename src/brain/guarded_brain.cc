#include "brain/guarded_brain.h"

#include <algorithm>

#include "core/log.h"
#include "persona/macros.h"
#include "brain/persona_prompt.h"
#include "persona/text.h"
#include "speech/tts/text_split.h"

namespace cadence::brain {

namespace {

using persona::Guard;
using persona::GuardContext;

// Joins sentences the way the language writes them: a space between Latin sentences, none in Han.
// Passes one checked piece on, joined to the previous one by a space unless it is Chinese. A piece
// that ends at a clause's comma (the first clause, cut early for latency) carries its space at once:
// a streaming splitter downstream sees that the comma ends a clause without waiting for more text.
void Emit(const std::string& sentence, bool* first, bool* space_sent, const TextSink& on_text, bool* keep_going) {
  std::string piece;
  if (!*first && !*space_sent && persona::DetectLanguage(sentence) != "zh") piece = " ";
  piece += sentence;
  *first = false;
  *space_sent = !piece.empty() && piece.back() == ',';
  if (*space_sent) piece += ' ';
  if (!on_text(piece)) *keep_going = false;
}

class GuardedBrain : public Brain {
 public:
  GuardedBrain(std::unique_ptr<Brain> inner, std::shared_ptr<const Guard> guard, const persona::Persona* fallback,
               GuardedBrainOptions options)
      : inner_(std::move(inner)), guard_(std::move(guard)), fallback_(fallback), options_(options) {
    if (!guard_) guard_ = std::make_shared<Guard>();
  }

  std::string_view kind() const override { return inner_->kind(); }
  std::string Greeting(const ReplyRequest& request) const override { return inner_->Greeting(request); }
  void Prepare(const ReplyRequest& request) const override { inner_->Prepare(request); }
  bool hears_audio() const override { return inner_->hears_audio(); }
  bool speaks() const override { return inner_->speaks(); }
  // A spoken reply's words and speech are one stream: a sentence cannot be repaired after its
  // speech was generated, so a flagged sentence stops the reply instead (what was said stays).
  using Brain::ReplySpoken;
  Status ReplySpoken(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text,
                     const SpeechTokenSink& on_speech, const TextSink& on_thinking) const override {
    const persona::Persona* p = request.persona != nullptr ? request.persona : fallback_;
    GuardContext ctx{p, ExpectedReplyLanguage(request, p)};
    speech::SentenceSplitter splitter({.max_bytes = 400, .cut_first_clause = false});
    std::vector<std::string> sentences;
    bool flagged = false;
    Status st = inner_->ReplySpoken(
        request, cancel,
        [&](std::string_view text) {
          splitter.Push(text, &sentences);
          for (const std::string& s : sentences)
            if (!guard_->Check(s, ctx).ok()) flagged = true;
          sentences.clear();
          return !flagged && on_text(text);
        },
        [&](std::span<const int> tokens) { return !flagged && on_speech(tokens); }, on_thinking);
    if (flagged) CADENCE_LOG(kWarn, "brain", "a spoken reply went out of character; it was stopped");
    return st;
  }
  BrainStats Stats() const override { return inner_->Stats(); }

  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    const persona::Persona* p = request.persona ? request.persona : fallback_;
    GuardContext ctx{p, ExpectedReplyLanguage(request, p)};
    bool first = true;
    bool space_sent = false;  // the last piece ended with the space that joins it to the next
    bool keep_going = true;   // the caller still wants text
    std::string flagged_reason;

    // One pass of the inner brain through the guard; returns the inner status. Stops the inner
    // stream at the first flagged sentence and records why in `flagged_reason`.
    auto run = [&](const ReplyRequest& req) -> Status {
      // The first clause is checked and passed on alone (as the realtime session cuts it for the
      // voice), so that first audio waits for a clause, not a whole sentence.
      speech::SentenceSplitter splitter({.max_bytes = 200, .cut_first_clause = true});
      std::vector<std::string> sentences;
      // Checks and passes on each completed sentence; false once one is flagged or the caller stops.
      auto pass_on = [&]() {
        for (const std::string& sentence : sentences) {
          persona::GuardVerdict v = guard_->Check(sentence, ctx);
          if (!v.ok()) {
            flagged_reason = std::string(persona::ViolationName(v.violation)) + ": " + v.detail;
            return false;
          }
          Emit(sentence, &first, &space_sent, on_text, &keep_going);
          if (!keep_going) return false;
        }
        sentences.clear();
        return true;
      };
      Status s = inner_->Reply(req, cancel, [&](std::string_view text) {
        splitter.Push(text, &sentences);
        return pass_on();
      });
      if (s.ok() && flagged_reason.empty() && keep_going) {
        splitter.Flush(&sentences);
        pass_on();
      }
      return s;
    };

    Status s = run(request);
    if (!s.ok() || !keep_going || flagged_reason.empty()) return s;
    if (cancel.cancelled()) return Status::Cancelled("guarded reply cancelled");

    for (int attempt = 0; options_.regenerate && attempt < options_.max_regenerations; ++attempt) {
      CADENCE_LOG(kInfo, "guard", "regenerating reply persona=%s after %s", p ? p->id.c_str() : "-",
                  flagged_reason.c_str());
      ReplyRequest stronger = request;
      if (p) {
        stronger.instructions += (stronger.instructions.empty() ? "" : "\n\n") +
                                 PersonaReminder(*p, ctx.language) +
                                 " Your previous reply broke character (" + flagged_reason + "); answer again, fully in character.";
      }
      flagged_reason.clear();
      guard_->RecordRepair(Guard::Repair::kRegenerated);
      s = run(stronger);
      if (!s.ok() || !keep_going || flagged_reason.empty()) return s;
      if (cancel.cancelled()) return Status::Cancelled("guarded reply cancelled");
    }

    std::string replacement = Replacement(p, ctx.language, request);
    CADENCE_LOG(kInfo, "guard", "replacing sentence persona=%s after %s", p ? p->id.c_str() : "-", flagged_reason.c_str());
    guard_->RecordRepair(Guard::Repair::kReplaced);
    Emit(replacement, &first, &space_sent, on_text, &keep_going);
    return Status::Ok();
  }

 private:
  // An in-character line for the language: the persona's deflections (one not said lately), or a
  // neutral turn of conversation that suits any character.
  static std::string Replacement(const persona::Persona* p, const std::string& language, const ReplyRequest& request) {
    std::string user = language == "zh" ? "朋友" : "friend";
    if (p) {
      auto it = p->mood_lines.find("deflect");
      if (it != p->mood_lines.end()) {
        std::vector<std::string> fitting;
        for (const auto& line : it->second)
          if (language.empty() || persona::DetectLanguage(line) == language)
            fitting.push_back(persona::ExpandMacros(line, p->name, user));
        auto said = [&](const std::string& line) {
          for (const auto& m : request.history)
            if (m.role == Message::Role::kAssistant && m.text.find(line) != std::string::npos) return true;
          return false;
        };
        for (const auto& line : fitting)
          if (!said(line)) return line;
        if (!fitting.empty()) return fitting[request.history.size() % fitting.size()];
      }
    }
    return language == "zh" ? "嗯，我们还是聊聊你吧。" : "Hm. Let's talk about you instead.";
  }

  std::unique_ptr<Brain> inner_;
  std::shared_ptr<const Guard> guard_;
  const persona::Persona* fallback_;
  GuardedBrainOptions options_;
};

}  // namespace

std::string ExpectedReplyLanguage(const ReplyRequest& request, const persona::Persona* p) {
  if (!request.language.empty()) return request.language;
  std::string user_lang;
  for (auto it = request.history.rbegin(); it != request.history.rend(); ++it)
    if (it->role == Message::Role::kUser) {
      user_lang = persona::DetectLanguage(it->text);
      break;
    }
  if (!p) return user_lang;
  if (!user_lang.empty() &&
      std::find(p->languages.begin(), p->languages.end(), user_lang) != p->languages.end())
    return user_lang;
  return p->languages.empty() ? user_lang : p->languages.front();
}

std::unique_ptr<Brain> CreateGuardedBrain(std::unique_ptr<Brain> inner, std::shared_ptr<const persona::Guard> guard,
                                          const persona::Persona* fallback, GuardedBrainOptions options) {
  return std::make_unique<GuardedBrain>(std::move(inner), std::move(guard), fallback, options);
}

}  // namespace cadence::brain
