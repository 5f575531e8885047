#include "speech/tts/text_split.h"

#include <algorithm>
#include <array>

namespace cadence::speech {
namespace {

// Longest span treated as a tag; an opening '<' or '[' left open longer is plain text, so that a
// stray bracket cannot hold back the rest of a reply.
constexpr size_t kMaxTagBytes = 100;

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || (c >= '0' && c <= '9'); }

// Bytes in the UTF-8 sequence led by `b` (1 for ASCII, continuation and invalid bytes).
size_t SequenceLength(unsigned char b) {
  if (b >= 0xF0 && b < 0xF8) return 4;
  if (b >= 0xE0) return b < 0xF0 ? 3 : 1;
  if (b >= 0xC0) return 2;
  return 1;
}

bool StartsWithAt(std::string_view s, size_t i, std::string_view what) { return s.substr(i, what.size()) == what; }

// 。！？；… at `i`: its byte length, else 0.
size_t WideStopLength(std::string_view s, size_t i) {
  static constexpr std::array<std::string_view, 5> kStops = {"。", "！", "？", "；", "…"};
  for (std::string_view stop : kStops)
    if (StartsWithAt(s, i, stop)) return stop.size();
  return 0;
}

bool IsLatinStop(char c) { return c == '.' || c == '!' || c == '?' || c == ';'; }

// Marks that may follow the first in a run ("?!", "...", "。」").
size_t RunMarkLength(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  if (s[i] == '.' || s[i] == '!' || s[i] == '?') return 1;
  return WideStopLength(s, i);
}

// Closing quotes and brackets at `i` (any number of them): their total byte length.
size_t ClosersLength(std::string_view s, size_t i) {
  static constexpr std::array<std::string_view, 9> kClosers = {"\"", "'", ")", "]", "”", "’", "」", "』", "）"};
  size_t n = 0;
  for (bool again = true; again;) {
    again = false;
    for (std::string_view closer : kClosers) {
      if (StartsWithAt(s, i + n, closer)) {
        n += closer.size();
        again = true;
        break;
      }
    }
  }
  return n;
}

// A comma a piece may end at: ", " (the space tells it from "1,000"), ，or 、. Its byte length.
size_t ClauseCommaLength(std::string_view s, size_t i) {
  if (s[i] == ',') return i + 1 < s.size() && IsAsciiSpace(s[i + 1]) ? 1 : 0;
  if (StartsWithAt(s, i, "，") || StartsWithAt(s, i, "、")) return 3;
  return 0;
}

// Whether the '.' at `dot` closes an abbreviation or an initial rather than a sentence.
bool IsAbbreviation(std::string_view s, size_t dot) {
  size_t w = dot;
  while (w > 0 && IsAsciiAlpha(s[w - 1])) --w;
  const std::string_view word = s.substr(w, dot - w);
  static constexpr std::array<std::string_view, 9> kWords = {"Mr", "Mrs", "Ms", "Dr", "St", "vs", "Prof", "Jr", "Sr"};
  for (std::string_view known : kWords)
    if (word == known) return true;
  // "J. Smith", "e.g. this", "i.e. that" (the last letter before the dot is alone); "I." is a word.
  return word.size() == 1 && word != "I";
}

// Whether the bytes at `i` open a code point that starts Han text or CJK punctuation.
bool StartsCjk(std::string_view s, size_t i) {
  size_t pos = i;
  const char32_t c = NextCodePoint(s, &pos);
  return c >= 0x2E80 && c != kReplacementCharacter;
}

// Letters, digits or ideographs: something a voice would say or a reader would read.
bool HasContent(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    const char32_t c = NextCodePoint(s, &pos);
    if (c < 0x80) {
      if (IsAsciiAlnum(static_cast<char>(c))) return true;
      continue;
    }
    const bool punctuation = c < 0xC0 || (c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) ||
                             (c >= 0xFF00 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) ||
                             (c >= 0xFF3B && c <= 0xFF40) || (c >= 0xFF5B && c <= 0xFF65) || c == kReplacementCharacter;
    if (!punctuation) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

// The byte length of the next piece of pending_, or 0 when more text is needed to decide. Rescans
// from the start: pending_ holds at most about one piece, and tag state must be known at a cut.
size_t SentenceSplitter::FindCut(bool at_end) const {
  const std::string_view s = pending_;
  const size_t max_bytes = options_.max_bytes > 0 ? options_.max_bytes : 1;
  // Where an over-long piece may end, best first: after a comma (if not too early), after a space,
  // after a comma anyway, between characters.
  size_t comma_end = 0, space_end = 0, char_end = 0;
  bool over = false;  // past max_bytes with no place to cut yet: take the first one that comes
  size_t i = 0;
  while (i < s.size()) {
    if (!over && i >= max_bytes) {
      if (comma_end >= max_bytes / 3) return comma_end;
      if (space_end > 0) return space_end;
      if (comma_end > 0) return comma_end;
      if (char_end > 0) return char_end;
      over = true;
    }
    const char c = s[i];

    if (c == '<' || c == '[') {
      if (c == '<' && i + 1 >= s.size() && !at_end) return 0;  // a tag or a "<" sign: the next byte tells
      const bool tag = c == '[' || (i + 1 < s.size() && (IsAsciiAlpha(s[i + 1]) || s[i + 1] == '/' || s[i + 1] == '!'));
      if (tag) {
        const size_t close = s.find(c == '<' ? '>' : ']', i + 1);
        if (close != std::string_view::npos && close - i < kMaxTagBytes) {
          i = close + 1;
          if (over) return i;
          if (i <= max_bytes) char_end = i;
          continue;
        }
        if (close == std::string_view::npos && s.size() - i < kMaxTagBytes && !at_end) return 0;
      }
    }

    if (c == '\n') return i + 1;

    const size_t wide = WideStopLength(s, i);
    if (wide > 0 || IsLatinStop(c)) {
      size_t end = i + (wide > 0 ? wide : 1);
      while (size_t run = RunMarkLength(s, end)) end += run;
      end += ClosersLength(s, end);
      if (end >= s.size()) return at_end ? s.size() : 0;
      // A character still arriving may be a closer, a mark or Han text: decide when it is whole.
      if (!at_end && SequenceLength(static_cast<unsigned char>(s[end])) > s.size() - end) return 0;
      if (wide > 0) return end;
      const bool boundary = IsAsciiSpace(s[end]) || StartsCjk(s, end);
      if (boundary && !(c == '.' && IsAbbreviation(s, i))) return end;
      i = end;
      continue;
    }

    if (const size_t comma = ClauseCommaLength(s, i); comma > 0) {
      if (options_.cut_first_clause && !emitted_any_ && i >= options_.first_clause_min_bytes) return i + comma;
      if (over) return i + comma;
      if (i + comma <= max_bytes) comma_end = i + comma;
    } else if (IsAsciiSpace(c)) {
      if (over && i > 0) return i + 1;
      if (i + 1 <= max_bytes && i > 0) space_end = i + 1;
    }
    const size_t step = SequenceLength(static_cast<unsigned char>(c));
    i = std::min(s.size(), i + step);
    if (over && i < s.size()) return i;
    if (i <= max_bytes && i < s.size()) char_end = i;
  }
  return at_end ? s.size() : 0;
}

void SentenceSplitter::Emit(size_t cut, size_t out_start, std::vector<std::string>* out) {
  const std::string_view piece = Trim(std::string_view(pending_).substr(0, cut));
  std::string text(piece);
  pending_.erase(0, cut);
  if (text.empty()) return;
  if (!HasContent(text) && out->size() > out_start) {
    out->back() += text;
    return;
  }
  if (HasContent(text)) emitted_any_ = true;
  out->push_back(std::move(text));
}

void SentenceSplitter::Push(std::string_view text, std::vector<std::string>* out) {
  pending_.append(text);
  const size_t out_start = out->size();
  while (size_t cut = FindCut(/*at_end=*/false)) Emit(cut, out_start, out);
}

void SentenceSplitter::Flush(std::vector<std::string>* out) {
  const size_t out_start = out->size();
  while (!pending_.empty()) {
    size_t cut = FindCut(/*at_end=*/true);
    Emit(cut > 0 ? cut : pending_.size(), out_start, out);
  }
  emitted_any_ = false;
}

std::vector<std::string> SplitSentences(std::string_view text, const SentenceSplitOptions& options) {
  std::vector<std::string> out;
  SentenceSplitter splitter(options);
  splitter.Push(text, &out);
  splitter.Flush(&out);
  return out;
}

bool ContainsHan(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size())
    if (IsHan(NextCodePoint(text, &pos))) return true;
  return false;
}

}  // namespace cadence::speech
