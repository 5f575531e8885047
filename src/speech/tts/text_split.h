// Text helpers for synthesis: sentence splitting and script detection (English and Mandarin).
//
// Pure functions on UTF-8 text; thread-safe. Splitting keeps each sentence's closing punctuation
// and drops surrounding whitespace, so rendering sentence by sentence loses nothing that is spoken.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cadence::speech {

// Splits at . ! ? ; (followed by space or end) and 。！？；… (anywhere), and at newlines. A sentence
// longer than `max_chars` bytes is further split at commas (, ，、) so that cancellation and first
// audio never wait on one very long phrase.
std::vector<std::string> SplitSentences(std::string_view text, size_t max_chars = 160);

// True when the text holds a Han ideograph (CJK Unified Ideographs, Extension A, compatibility).
bool ContainsHan(std::string_view text);

// Decodes one UTF-8 code point at `*pos`, advancing it; invalid bytes decode as U+FFFD.
char32_t NextCodePoint(std::string_view text, size_t* pos);

}  // namespace cadence::speech
