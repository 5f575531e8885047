// Guarded brain: wraps any Brain so that every reply sentence passes the persona guard
// (persona/guard.h) before anyone hears it. The inner stream is cut into sentences; a clean
// sentence is passed on the moment it is complete (no added latency); a flagged one is never
// emitted: the inner reply is stopped and repaired — regenerated once with a stronger persona
// reminder appended to the instructions (its sentences guarded the same way), or, when that is off
// or fails too, replaced by one of the persona's in-character "deflect" lines.
//
// Const and stateless per call like every Brain; the Guard is shared (its counters are atomic) and
// may be read by the caller at any time. The persona comes from the request (or `fallback`).
#pragma once

#include <memory>

#include "brain/brain.h"
#include "persona/guard.h"
#include "persona/persona.h"

namespace cadence::brain {

struct GuardedBrainOptions {
  bool regenerate = true;      // try one regeneration before replacing
  int max_regenerations = 1;
};

// `guard` may be null (a private one is made). `fallback` is the persona used when a request has
// none (usually the store's default); it must outlive the brain and may be null.
std::unique_ptr<Brain> CreateGuardedBrain(std::unique_ptr<Brain> inner, std::shared_ptr<const persona::Guard> guard,
                                          const persona::Persona* fallback, GuardedBrainOptions options = {});

// The reply language the guard expects: the request's, else the language of the user's last turn
// when the persona speaks it, else the persona's first language ("" when unknown).
std::string ExpectedReplyLanguage(const ReplyRequest& request, const persona::Persona* persona);

}  // namespace cadence::brain
