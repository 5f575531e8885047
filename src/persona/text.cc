#include "persona/text.h"

#include <algorithm>
#include <set>

#include "core/utf8.h"

namespace cadence::persona {

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

namespace {

bool IsAsciiAlnum(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsLatinLetter(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0x24F && c != 0xD7 && c != 0xF7);
}

const std::set<std::string>& EnglishStopWords() {
  static const std::set<std::string> kWords = {
      "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "about",
      "is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did", "have", "has", "had",
      "i", "me", "my", "you", "your", "we", "our", "it", "its", "this", "that", "these", "those", "so",
      "can", "could", "would", "should", "will", "just", "very", "too", "what", "how", "why", "who", "when",
      "where", "which", "there", "here", "then", "than", "not", "no", "yes", "oh", "ah", "um", "uh", "s",
      "t", "m", "re", "ll", "d", "ve", "let", "me", "us", "they", "them", "he", "she", "his", "her", "from",
      "as", "up", "out", "into", "all", "any", "some", "one", "get", "got", "really", "like", "now"};
  return kWords;
}

const std::u32string& ChineseFunctionChars() {
  static const std::u32string kChars = U"的了吗呢吧啊呀是在我你他她它们这那个有和就也都很还么什怎";
  return kChars;
}

}  // namespace

std::string DetectLanguage(std::string_view text) {
  int han = 0, latin = 0;
  for (char32_t c : DecodeUtf8(text)) {
    if (IsHan(c))
      ++han;
    else if (IsLatinLetter(c))
      ++latin;
  }
  if (han == 0 && latin == 0) return "";
  // A Han character carries about as much as a short Latin word, hence the weight.
  if (han * 3 >= latin) return "zh";
  return "en";
}

std::vector<std::string> Terms(std::string_view text) {
  std::vector<std::string> terms;
  std::u32string cps = DecodeUtf8(text);
  const auto& stop = EnglishStopWords();
  const auto& zh_stop = ChineseFunctionChars();
  size_t i = 0;
  while (i < cps.size()) {
    if (IsAsciiAlnum(cps[i]) || IsLatinLetter(cps[i]) || cps[i] == '\'') {
      std::u32string word;
      while (i < cps.size() && (IsAsciiAlnum(cps[i]) || IsLatinLetter(cps[i]) || cps[i] == '\'')) {
        char32_t c = cps[i];
        if (c >= 'A' && c <= 'Z') c = c - 'A' + 'a';
        if (c != '\'') word.push_back(c);
        ++i;
      }
      std::string w = EncodeUtf8(word);
      // Light stemming so "tired"/"tiring" and "stars"/"star" meet.
      for (std::string_view suffix : {"ing", "ed", "es", "s"}) {
        if (w.size() > suffix.size() + 3 && w.ends_with(suffix)) {
          w.resize(w.size() - suffix.size());
          break;
        }
      }
      if (!w.empty() && !stop.count(w)) terms.push_back(w);
    } else if (IsHan(cps[i])) {
      std::u32string run;
      while (i < cps.size() && IsHan(cps[i])) {
        if (zh_stop.find(cps[i]) == std::u32string::npos) {
          run.push_back(cps[i]);
        } else if (!run.empty()) {
          run.push_back(0);  // a function character breaks the run
        }
        ++i;
      }
      size_t start = 0;
      while (start < run.size()) {
        size_t end = run.find(char32_t(0), start);
        if (end == std::u32string::npos) end = run.size();
        std::u32string_view piece(run.data() + start, end - start);
        if (piece.size() == 1) terms.push_back(EncodeUtf8(piece));
        for (size_t k = 0; k + 1 < piece.size(); ++k) terms.push_back(EncodeUtf8(piece.substr(k, 2)));
        start = end + 1;
      }
    } else {
      ++i;
    }
  }
  return terms;
}

bool ContainsPhrase(std::string_view haystack, std::string_view needle, bool case_sensitive, bool whole_word) {
  if (needle.empty() || needle.size() > haystack.size()) return false;
  std::string hay_lower, pin_lower;
  if (!case_sensitive) {
    hay_lower = AsciiLower(haystack);
    pin_lower = AsciiLower(needle);
    haystack = hay_lower;
    needle = pin_lower;
  }
  // Han text has no word spaces; a needle with any multi-byte character matches as a substring.
  bool ascii_only = true;
  for (char c : needle) ascii_only &= static_cast<unsigned char>(c) < 0x80;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  size_t pos = 0;
  while ((pos = haystack.find(needle, pos)) != std::string_view::npos) {
    if (!whole_word || !ascii_only) return true;
    bool left_ok = pos == 0 || !alnum(haystack[pos - 1]) || !alnum(needle.front());
    size_t end = pos + needle.size();
    bool right_ok = end >= haystack.size() || !alnum(haystack[end]) || !alnum(needle.back());
    if (left_ok && right_ok) return true;
    ++pos;
  }
  return false;
}

int EstimateTokens(std::string_view text) {
  int han = 0;
  size_t han_bytes = 0;
  for (char32_t c : DecodeUtf8(text)) {
    if (IsHan(c)) {
      ++han;
      han_bytes += 3;
    }
  }
  size_t rest = text.size() > han_bytes ? text.size() - han_bytes : 0;
  return han + static_cast<int>((rest + 3) / 4);
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n' ||
                           text.front() == '\r'))
    text.remove_prefix(1);
  while (!text.empty() &&
         (text.back() == ' ' || text.back() == '\t' || text.back() == '\n' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

}  // namespace cadence::persona
