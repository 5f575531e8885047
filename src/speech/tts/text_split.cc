#include "speech/tts/text_split.h"

#include <cctype>

namespace cadence::speech {
namespace {

bool IsHan(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0xF900 && c <= 0xFAFF);
}

bool IsFullwidthStop(char32_t c) {
  return c == U'。' || c == U'！' || c == U'？' || c == U'；' || c == U'…';
}

bool IsComma(char32_t c) { return c == U',' || c == U'，' || c == U'、'; }

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool HasContent(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    char32_t c = NextCodePoint(s, &pos);
    if ((c < 128 && std::isalnum(static_cast<int>(c))) || c >= 0x2E80) return true;
  }
  return false;
}

// Splits an over-long sentence at commas, keeping pieces near `max_chars`.
void SplitLong(const std::string& sentence, size_t max_chars, std::vector<std::string>* out) {
  if (sentence.size() <= max_chars) {
    out->push_back(sentence);
    return;
  }
  size_t start = 0, pos = 0;
  while (pos < sentence.size()) {
    char32_t c = NextCodePoint(sentence, &pos);
    if (IsComma(c) && pos - start >= max_chars / 3) {
      std::string piece = Trim(std::string_view(sentence).substr(start, pos - start));
      if (!piece.empty()) out->push_back(piece);
      start = pos;
    }
  }
  std::string rest = Trim(std::string_view(sentence).substr(start));
  if (!rest.empty()) {
    if (HasContent(rest) || out->empty()) out->push_back(rest);
    else out->back() += rest;
  }
}

}  // namespace

char32_t NextCodePoint(std::string_view text, size_t* pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  size_t i = *pos;
  unsigned char b0 = byte(i);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > text.size()) {
    *pos = i + 1;
    return 0xFFFD;
  }
  char32_t c = len == 1 ? b0 : len == 2 ? (b0 & 0x1F) : len == 3 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      *pos = i + 1;
      return 0xFFFD;
    }
    c = (c << 6) | (byte(i + k) & 0x3F);
  }
  *pos = i + len;
  return c;
}

bool ContainsHan(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size())
    if (IsHan(NextCodePoint(text, &pos))) return true;
  return false;
}

std::vector<std::string> SplitSentences(std::string_view text, size_t max_chars) {
  std::vector<std::string> sentences;
  auto emit = [&](size_t begin, size_t end) {
    std::string s = Trim(text.substr(begin, end - begin));
    if (s.empty()) return;
    // Punctuation-only leftovers ("..." after a stop) join the previous sentence.
    if (!HasContent(s) && !sentences.empty()) {
      sentences.back() += s;
      return;
    }
    SplitLong(s, max_chars, &sentences);
  };
  size_t start = 0, pos = 0;
  while (pos < text.size()) {
    char32_t c = NextCodePoint(text, &pos);
    bool boundary = false;
    if (c == '\n') {
      boundary = true;
    } else if (IsFullwidthStop(c)) {
      boundary = true;
    } else if (c == '.' || c == '!' || c == '?' || c == ';') {
      // Absorb runs ("?!", "..."), then require whitespace or end so "3.5" and "e.g" stay whole.
      while (pos < text.size() && (text[pos] == '.' || text[pos] == '!' || text[pos] == '?')) ++pos;
      boundary = pos >= text.size() || std::isspace(static_cast<unsigned char>(text[pos])) ||
                 static_cast<unsigned char>(text[pos]) >= 0x80;
    }
    if (boundary) {
      emit(start, pos);
      start = pos;
    }
  }
  emit(start, text.size());
  return sentences;
}

}  // namespace cadence::speech
