// The out-of-character guard: checks one reply sentence before it is spoken.
//
// Flags, in this order: identity breaks ("as an AI language model", "I am a chatbot", mentions of
// prompts, policies, tokens; 作为一个AI, 人工智能, 语言模型 ...), knowledge beyond the persona's
// boundary (its `unknown_topics`, and for a historical era, things invented after it), contradiction
// of card facts (name, age, origin), and the wrong language. A sentence in which the character is
// plainly puzzled by an unknown thing ("What is this internet you speak of?") passes.
//
// Thread-safe: Check() is const and counts with atomics; one Guard may serve every session.
// Every decision is logged (pass at debug, flags at info) and counted.
#pragma once

#include <atomic>
#include <string>
#include <string_view>

#include "persona/persona.h"

namespace cadence::persona {

enum class Violation { kNone, kIdentityBreak, kKnowledgeBoundary, kFactContradiction, kWrongLanguage };
std::string_view ViolationName(Violation v);  // "none", "identity_break", ...

struct GuardVerdict {
  Violation violation = Violation::kNone;
  std::string detail;  // what matched, e.g. "as an ai" or "era 1890s: television"
  bool ok() const { return violation == Violation::kNone; }
};

struct GuardContext {
  const Persona* persona = nullptr;  // null: only identity breaks are checked
  std::string language;              // expected reply language ("en" | "zh"); "" skips the check
};

struct GuardCounters {
  long checked = 0, passed = 0;
  long identity_break = 0, knowledge_boundary = 0, fact_contradiction = 0, wrong_language = 0;
  long regenerated = 0, replaced = 0;  // repairs, recorded by the caller
};

class Guard {
 public:
  GuardVerdict Check(std::string_view sentence, const GuardContext& context) const;
  enum class Repair { kRegenerated, kReplaced };
  void RecordRepair(Repair repair) const;
  GuardCounters counters() const;

 private:
  GuardVerdict Evaluate(std::string_view sentence, const GuardContext& context) const;

  mutable std::atomic<long> checked_{0}, passed_{0}, identity_{0}, boundary_{0}, fact_{0}, language_{0};
  mutable std::atomic<long> regenerated_{0}, replaced_{0};
};

// The era's latest year as a number ("1890s London" -> 1899, "Tang dynasty" -> 907, "唐朝" -> 907),
// or 0 when it is empty or not recognised (present day).
int EraYear(std::string_view era);

}  // namespace cadence::persona
