// Word error rate: (substitutions + deletions + insertions) / reference words, after lowercasing
// and stripping punctuation. Pure; thread-safe. Used by tests and the ASR bench.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cadence::speech {

// Lowercase ASCII words; punctuation other than apostrophes separates words.
std::vector<std::string> NormalizeWords(std::string_view text);
// 0 for an exact match; may exceed 1 with many insertions. An empty reference gives 0 if the
// hypothesis is empty too, else 1.
double WordErrorRate(std::string_view reference, std::string_view hypothesis);

}  // namespace cadence::speech
