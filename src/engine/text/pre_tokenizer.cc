#include "engine/text/pre_tokenizer.h"

#include <unicode/uchar.h>

#include "core/utf8.h"

namespace cadence::engine {

namespace {

bool IsLetter(char32_t c) {
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_UPPERCASE_LETTER || t == U_LOWERCASE_LETTER || t == U_TITLECASE_LETTER ||
         t == U_MODIFIER_LETTER || t == U_OTHER_LETTER;
}
bool IsNumber(char32_t c) {
  const int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}
bool IsSpace(char32_t c) {
  return u_isUWhiteSpace(static_cast<UChar32>(c));
}
bool IsNewline(char32_t c) { return c == '\r' || c == '\n'; }
char32_t Lower(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Returns the length of a contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t Contraction(const std::u32string& cp, size_t i, bool ignore_case) {
  if (cp[i] != '\'' || i + 1 >= cp.size()) return 0;
  auto at = [&](size_t k) -> char32_t {
    if (i + k >= cp.size()) return 0;
    return ignore_case ? Lower(cp[i + k]) : cp[i + k];
  };
  const char32_t a = at(1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  const char32_t b = at(2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// `\s+(?!\S)` then `\s+` at a white-space run starting at i.
size_t WhitespaceRun(const std::u32string& cp, size_t i) {
  size_t j = i;
  while (j < cp.size() && IsSpace(cp[j])) ++j;
  if (j == cp.size()) return j - i;  // run reaches the end: (?!\S) holds
  if (j - i > 1) return j - i - 1;   // leave the last space to prefix the next word
  return 1;                          // `\s+` fallback
}

size_t MatchGpt2(const std::u32string& cp, size_t i) {
  const size_t n = cp.size();
  if (size_t c = Contraction(cp, i, /*ignore_case=*/false)) return c;
  const size_t s = (cp[i] == ' ' && i + 1 < n) ? 1 : 0;
  if (IsLetter(cp[i + s])) {
    size_t j = i + s;
    while (j < n && IsLetter(cp[j])) ++j;
    return j - i;
  }
  if (IsNumber(cp[i + s])) {
    size_t j = i + s;
    while (j < n && IsNumber(cp[j])) ++j;
    return j - i;
  }
  auto other = [](char32_t c) { return !IsSpace(c) && !IsLetter(c) && !IsNumber(c); };
  if (other(cp[i + s])) {
    size_t j = i + s;
    while (j < n && other(cp[j])) ++j;
    return j - i;
  }
  if (IsSpace(cp[i])) return WhitespaceRun(cp, i);
  return 1;
}

size_t MatchLlama3(const std::u32string& cp, size_t i, size_t max_digits) {
  const size_t n = cp.size();
  if (size_t c = Contraction(cp, i, /*ignore_case=*/true)) return c;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  {
    size_t j = i;
    if (!IsNewline(cp[j]) && !IsLetter(cp[j]) && !IsNumber(cp[j])) ++j;
    if (j < n && IsLetter(cp[j])) {
      while (j < n && IsLetter(cp[j])) ++j;
      return j - i;
    }
    if (IsLetter(cp[i])) {
      j = i;
      while (j < n && IsLetter(cp[j])) ++j;
      return j - i;
    }
  }
  // \p{N}{1,max_digits}
  if (IsNumber(cp[i])) {
    size_t j = i;
    while (j < n && j - i < max_digits && IsNumber(cp[j])) ++j;
    return j - i;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  {
    auto other = [](char32_t c) { return !IsSpace(c) && !IsLetter(c) && !IsNumber(c); };
    size_t j = i + ((cp[i] == ' ' && i + 1 < n) ? 1 : 0);
    if (j < n && other(cp[j])) {
      while (j < n && other(cp[j])) ++j;
      while (j < n && IsNewline(cp[j])) ++j;
      return j - i;
    }
  }
  if (IsSpace(cp[i])) {
    // `\s*[\r\n]+`: ends after the last newline of the white-space run, if it has one.
    size_t j = i;
    size_t last_newline_end = 0;
    while (j < n && IsSpace(cp[j])) {
      if (IsNewline(cp[j])) last_newline_end = j + 1;
      ++j;
    }
    if (last_newline_end) return last_newline_end - i;
    return WhitespaceRun(cp, i);
  }
  return 1;
}

}  // namespace

Result<PreTokenizer> PreTokenizerFromName(std::string_view name) {
  if (name == "gpt-2" || name == "gpt2" || name == "default") return PreTokenizer::kGpt2;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return PreTokenizer::kLlama3;
  if (name == "qwen2") return PreTokenizer::kQwen2;
  return Status::InvalidArgument("tokenizer.ggml.pre: pre-tokenizer '" + std::string(name) +
                                 "' is not supported (gpt-2, llama-bpe, qwen2 are)");
}

std::vector<std::string> PreTokenize(PreTokenizer kind, std::string_view text) {
  // Work on code points but cut the original bytes, so invalid bytes pass through unchanged (each
  // decodes as U+FFFD, one byte long).
  std::u32string cp;
  std::vector<size_t> byte_pos;
  cp.reserve(text.size());
  byte_pos.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    byte_pos.push_back(pos);
    cp.push_back(NextCodePoint(text, &pos));
  }
  byte_pos.push_back(text.size());
  std::vector<std::string> pieces;
  size_t i = 0;
  while (i < cp.size()) {
    size_t len = 0;
    switch (kind) {
      case PreTokenizer::kGpt2: len = MatchGpt2(cp, i); break;
      case PreTokenizer::kLlama3: len = MatchLlama3(cp, i, 3); break;
      case PreTokenizer::kQwen2: len = MatchLlama3(cp, i, 1); break;
    }
    if (len == 0) len = 1;
    pieces.emplace_back(text.substr(byte_pos[i], byte_pos[i + len] - byte_pos[i]));
    i += len;
  }
  return pieces;
}

}  // namespace cadence::engine
