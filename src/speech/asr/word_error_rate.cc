#include "speech/asr/word_error_rate.h"

#include <algorithm>
#include <cctype>

namespace cadence::speech {

std::vector<std::string> NormalizeWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '\'' || c >= 0x80) {
      word += static_cast<char>(std::tolower(c));
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

double WordErrorRate(std::string_view reference, std::string_view hypothesis) {
  std::vector<std::string> ref = NormalizeWords(reference), hyp = NormalizeWords(hypothesis);
  if (ref.empty()) return hyp.empty() ? 0.0 : 1.0;
  std::vector<size_t> prev(hyp.size() + 1), cur(hyp.size() + 1);
  for (size_t j = 0; j <= hyp.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= ref.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= hyp.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return static_cast<double>(prev[hyp.size()]) / ref.size();
}

}  // namespace cadence::speech
