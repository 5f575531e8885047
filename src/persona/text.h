// Text helpers shared by cards, lorebook, guard and the scripted brain: language
// detection (English vs. Mandarin), retrieval terms and phrase matching (sentence splitting is
// speech/tts/text_split.h, UTF-8 decoding core/utf8.h).
//
// Pure functions on UTF-8 strings (invalid bytes are tolerated, never fatal); thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cadence::persona {

// ASCII letters lowered; other bytes (incl. UTF-8) unchanged.
std::string AsciiLower(std::string_view text);

// "zh" when Han characters make up at least a third of the letters, "en" when Latin letters
// dominate, "" when the text has no letters at all.
std::string DetectLanguage(std::string_view text);

// Retrieval terms: lowercased Latin words minus English stop words, and for Han text each
// character bigram (and single characters of one-character runs) minus Chinese function words.
std::vector<std::string> Terms(std::string_view text);

// Whether `needle` occurs in `haystack`. With `whole_word`, a Latin needle must not touch ASCII
// letters or digits on either side; a needle containing Han characters always matches as a
// substring (Chinese has no word spaces). Case-insensitive for ASCII unless `case_sensitive`.
bool ContainsPhrase(std::string_view haystack, std::string_view needle, bool case_sensitive,
                    bool whole_word);

// Rough token estimate used for lore budgets: one per Han character, one per four other bytes.
int EstimateTokens(std::string_view text);

// Trims ASCII whitespace.
std::string_view Trim(std::string_view text);

}  // namespace cadence::persona
