// `cadence bench persona`: out-of-character (OOC) rates before and after the guard, the guard's
// false-positive rate on in-character text, the scripted brain under probes and a long
// conversation, and the guard's cost per sentence.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>

#include "brain/guarded_brain.h"
#include "brain/scripted_brain.h"
#include "cli/command.h"
#include "persona/card.h"
#include "persona/guard.h"
#include "persona/macros.h"
#include "persona/store.h"
#include "persona/text.h"
#include "speech/tts/text_split.h"
#include "ooc_probes.h"

namespace cadence::bench {

#include "ooc_probes_data.inc"

namespace {

using brain::Message;
using brain::ReplyRequest;

// Replays a probe's canned drifting answer, streamed in 6-byte pieces like a model's tokens.
class ReplayBrain : public brain::Brain {
 public:
  explicit ReplayBrain(std::string text) : text_(std::move(text)) {}
  std::string_view kind() const override { return "replay"; }
  Status Reply(const ReplyRequest&, const CancelToken&, const brain::TextSink& on_text) const override {
    for (size_t i = 0; i < text_.size(); i += 6)
      if (!on_text(std::string_view(text_).substr(i, 6))) break;
    return Status::Ok();
  }

 private:
  std::string text_;
};

std::string Collect(const brain::Brain& b, const ReplyRequest& r) {
  std::string out;
  Status s = b.Reply(r, CancelToken(), [&](std::string_view t) {
    out += t;
    return true;
  });
  if (!s.ok()) std::fprintf(stderr, "warning: reply failed: %s\n", s.ToString().c_str());
  return out;
}

double Pct(long num, long den) { return den ? 100.0 * num / den : 0.0; }

int RunPersonaBench(int argc, char** argv) {
  cli::Flags flags("cadence bench persona [--personas DIR] [--turns N]");
  flags.String("personas", "DIR", "persona directory with the probe personas", persona::PersonaStore::DefaultDir());
  flags.Int("turns", "N", "turns in the long scripted conversation", 200, 1, 1000000);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  auto store = persona::PersonaStore::Load(flags.Get("personas"));
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().message().c_str());
    return 1;
  }
  const auto& probes = OocProbes();
  for (const auto& probe : probes)
    if (!store->Find(probe.persona)) {
      std::fprintf(stderr, "error: probe persona '%s' is not in %s\n", probe.persona, flags.Get("personas").c_str());
      return 1;
    }

  // 1. A drifting model's answers, replayed through the guarded brain (replacement only: a replay
  //    cannot regenerate). OOC is judged by the hand labels, not by the guard.
  std::printf("== 1. drifting-model replies (%zu probes, hand-labelled sentences) ==\n", probes.size());
  auto guard = std::make_shared<persona::Guard>();
  long replies_ooc_before = 0, replies_ooc_after = 0, ooc_sentences = 0, ooc_caught = 0, ic_sentences = 0,
       ic_lost = 0;
  std::map<std::string, std::pair<long, long>> by_kind;  // kind -> (ooc before, ooc after)
  for (const auto& probe : probes) {
    const persona::Persona* p = store->Find(probe.persona);
    std::string text;
    bool any_ooc = false;
    for (const auto& s : probe.drift) {
      if (!text.empty() && persona::DetectLanguage(s.text) != "zh") text += " ";
      text += s.text;
      any_ooc |= s.ooc;
    }
    ReplyRequest r;
    r.persona = p;
    r.history.push_back({Message::Role::kUser, probe.user});
    brain::GuardedBrainOptions options;
    options.regenerate = false;
    auto guarded = brain::CreateGuardedBrain(std::make_unique<ReplayBrain>(text), guard, p, options);
    std::string out = Collect(*guarded, r);
    bool ooc_after = false;
    for (const auto& s : probe.drift) {
      bool survived = out.find(s.text) != std::string::npos;
      if (s.ooc) {
        ++ooc_sentences;
        ooc_caught += !survived;
        ooc_after |= survived;
      } else {
        ++ic_sentences;
        ic_lost += !survived;
      }
    }
    replies_ooc_before += any_ooc;
    replies_ooc_after += ooc_after;
    by_kind[probe.kind].first += any_ooc;
    by_kind[probe.kind].second += ooc_after;
    if (ooc_after) std::printf("   missed [%s/%s] %s -> %s\n", probe.persona, probe.kind, probe.user, out.c_str());
  }
  std::printf("OOC replies before guard: %ld/%zu (%.1f%%)\n", replies_ooc_before, probes.size(),
              Pct(replies_ooc_before, probes.size()));
  std::printf("OOC replies after guard:  %ld/%zu (%.1f%%)\n", replies_ooc_after, probes.size(),
              Pct(replies_ooc_after, probes.size()));
  for (const auto& [kind, counts] : by_kind)
    std::printf("   %-10s before %ld, after %ld\n", kind.c_str(), counts.first, counts.second);
  std::printf("OOC sentences caught: %ld/%ld (%.1f%%); in-character sentences dropped with them: %ld/%ld\n",
              ooc_caught, ooc_sentences, Pct(ooc_caught, ooc_sentences), ic_lost, ic_sentences);

  // 2. False positives: sentences that are in character must pass.
  std::printf("\n== 2. guard false positives on in-character text ==\n");
  persona::Guard fp_guard;
  long held_out = 0, held_out_flagged = 0;
  for (const auto& line : HeldOutInCharacterLines()) {
    const persona::Persona* p = store->Find(line.persona);
    if (!p) continue;
    for (const auto& sentence : speech::SplitSentences(line.text)) {
      ++held_out;
      auto v = fp_guard.Check(sentence, {p, persona::DetectLanguage(sentence)});
      if (!v.ok()) {
        ++held_out_flagged;
        std::printf("   false positive [%s] %s (%s: %s)\n", line.persona, sentence.c_str(),
                    std::string(persona::ViolationName(v.violation)).c_str(), v.detail.c_str());
      }
    }
  }
  long authored = 0, authored_flagged = 0;
  std::vector<std::pair<const persona::Persona*, std::string>> all_sentences;
  for (const persona::Persona* p : store->List()) {
    std::vector<std::string> lines = p->lines;
    lines.push_back(p->first_mes);
    lines.insert(lines.end(), p->alternate_greetings.begin(), p->alternate_greetings.end());
    for (const auto& [mood, ls] : p->mood_lines) lines.insert(lines.end(), ls.begin(), ls.end());
    for (const auto& block : persona::SplitExamples(p->mes_example, p->name))
      for (const auto& turn : block)
        if (turn.speaker == "char") lines.push_back(turn.text);
    for (const auto& line : lines)
      for (const auto& sentence : speech::SplitSentences(persona::ExpandMacros(line, p->name, "friend"))) {
        ++authored;
        all_sentences.push_back({p, sentence});
        if (!fp_guard.Check(sentence, {p, persona::DetectLanguage(sentence)}).ok()) ++authored_flagged;
      }
  }
  std::printf("held-out in-character sentences flagged: %ld/%ld (%.1f%%)\n", held_out_flagged, held_out,
              Pct(held_out_flagged, held_out));
  std::printf("authored card sentences flagged:         %ld/%ld (%.1f%%)  (tuned against; not held out)\n",
              authored_flagged, authored, Pct(authored_flagged, authored));

  // 3. The scripted brain answering the probes, unguarded and guarded (judged by the guard).
  std::printf("\n== 3. scripted brain on the probes (judge: the guard) ==\n");
  auto scripted = brain::CreateScriptedBrain(*store);
  persona::Guard judge;
  long scripted_flagged = 0;
  for (const auto& probe : probes) {
    const persona::Persona* p = store->Find(probe.persona);
    ReplyRequest r;
    r.persona = p;
    r.history.push_back({Message::Role::kUser, probe.user});
    std::string out = Collect(*scripted, r);
    std::string lang = brain::ExpectedReplyLanguage(r, p);
    bool flagged = false;
    for (const auto& s : speech::SplitSentences(out)) flagged |= !judge.Check(s, {p, lang}).ok();
    scripted_flagged += flagged;
    if (flagged) std::printf("   flagged [%s] %s -> %s\n", probe.persona, probe.user, out.c_str());
  }
  std::printf("scripted replies flagged (unguarded): %ld/%zu\n", scripted_flagged, probes.size());

  // 4. A long conversation per persona: repeats within the no-repeat window and guard repairs.
  const int turns = flags.GetInt("turns");
  std::printf("\n== 4. long scripted conversations (%d turns per persona, guarded) ==\n", turns);
  std::vector<std::string> user_lines;
  for (const auto& probe : probes) user_lines.push_back(probe.user);
  for (const char* extra : {"Tell me more.", "Hmm.", "What do you mean?", "I see.", "嗯。", "然后呢？"})
    user_lines.push_back(extra);
  for (const persona::Persona* p : store->List()) {
    auto conv_guard = std::make_shared<persona::Guard>();
    auto guarded = brain::CreateGuardedBrain(brain::CreateScriptedBrain(*store), conv_guard, p);
    ReplyRequest r;
    r.persona = p;
    std::deque<std::string> window;
    long repeats = 0;
    for (int t = 0; t < turns; ++t) {
      r.history.push_back({Message::Role::kUser, user_lines[(t * 7) % user_lines.size()]});
      std::string out = Collect(*guarded, r);
      if (std::find(window.begin(), window.end(), out) != window.end()) ++repeats;
      window.push_back(out);
      if (window.size() > 8) window.pop_front();
      r.history.push_back({Message::Role::kAssistant, out});
    }
    auto c = conv_guard->counters();
    std::printf("%-10s sentences %ld, flagged %ld, repaired %ld, repeats within 8 turns %ld\n", p->id.c_str(),
                c.checked, c.checked - c.passed, c.regenerated + c.replaced, repeats);
  }

  // 5. Guard cost per sentence.
  std::printf("\n== 5. guard cost ==\n");
  persona::Guard timing;
  const int kRounds = 200;
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round)
    for (const auto& [p, s] : all_sentences) (void)timing.Check(s, {p, ""});
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.2f us per sentence (mean over %zu sentences x %d rounds)\n", us / (all_sentences.size() * kRounds),
              all_sentences.size(), kRounds);
  return 0;
}

}  // namespace

}  // namespace cadence::bench

CADENCE_BENCH(persona, "OOC rate before/after the guard, guard false positives, scripted brain under probes",
              cadence::bench::RunPersonaBench);
