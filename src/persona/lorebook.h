// Lorebook triggering (CCv2/v3 `character_book`): which entries to insert for the recent turns.
//
// An enabled entry triggers when one of its keys occurs in the last `scan_depth` texts (case per
// `case_sensitive`, whole words per `match_whole_words`; Han keys match as substrings) and, when it
// is `selective` with secondary keys, one secondary key occurs too. `constant` entries always
// trigger. The budget (`token_budget`, estimated tokens) is spent on constant entries first, then
// by priority (higher first), then insertion order; the result is in insertion order.
// Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "persona/persona.h"

namespace cadence::persona {

// `recent_texts` oldest first (chat history texts, the user's latest turn last).
std::vector<const LoreEntry*> TriggerLore(const Lorebook& book, const std::vector<std::string>& recent_texts);

}  // namespace cadence::persona
