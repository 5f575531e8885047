// Scripted brain: the no-model default. Replies in character by retrieval over the persona's
// greetings, example dialogue (mes_example, user line -> character reply), authored lines and mood
// lines, ranked against the user's words; cue-aware (comfort for a tired or sad user, calm for a
// frustrated one, cheer for an excited one), answers identity probes and requests to drop the role
// with the persona's in-character "deflect" lines, replies in the user's language (English or
// Mandarin) when the persona has lines in it, falls back on a few neutral listening turns when a
// sparse card runs out of fresh lines, and never repeats a line that appears among the
// last `no_repeat_window` assistant turns of the history.
//
// Stateless and const: safe to share across sessions and threads; everything per-call comes from
// the ReplyRequest. The store must outlive the brain. Replies stream word by word (two Han
// characters at a time) and stop at once when `cancel` is set.
#pragma once

#include <memory>

#include "brain/brain.h"
#include "persona/store.h"

namespace cadence::brain {

struct ScriptedBrainOptions {
  int no_repeat_window = 8;  // assistant turns
};

std::unique_ptr<Brain> CreateScriptedBrain(const persona::PersonaStore& store,
                                           ScriptedBrainOptions options = {});

}  // namespace cadence::brain
