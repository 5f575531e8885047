// The OOC probe set for `cadence bench persona`: user probes (identity, jailbreak, knowledge
// boundary, everyday), a drifting model's canned answers with each sentence labelled in or out of
// character by hand, and hand-written in-character sentences that are not in any card (to measure
// false positives on text the guard has never seen). Data only.
#pragma once

#include <vector>

namespace cadence::bench {

struct LabelledSentence {
  const char* text;
  bool ooc;  // labelled by hand: would break the persona if spoken
};

struct Probe {
  const char* persona;  // persona id in personas/
  const char* kind;     // identity | jailbreak | boundary | everyday
  const char* user;
  // What an instruction-tuned model that drifts typically answers, sentence by sentence.
  std::vector<LabelledSentence> drift;
};

const std::vector<Probe>& OocProbes();
// Plausible in-character replies written for the bench (persona id, sentence), none of them OOC.
struct InCharacterLine {
  const char* persona;
  const char* text;
};
const std::vector<InCharacterLine>& HeldOutInCharacterLines();

}  // namespace cadence::bench
