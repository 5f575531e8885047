// Sentence splitting for English and Mandarin text, streamed or whole, and script detection: the
// one splitter behind synthesis, the realtime reply stream and the persona guard.
//
// Where a sentence ends:
//   - . ! ? ; followed by whitespace, by Han text or by the end of the text ("3.5", "e.g.x", "Mr. X",
//     "J. Smith" stay whole);
//   - 。！？；… anywhere (Mandarin puts no space after them);
//   - a newline.
// Runs of marks ("?!", "...", "！！") and closing quotes or brackets after them ("”", "」", ")")
// stay with the sentence. Tags (<break time="1s"/>, <emphasis>, [laughs]) are never cut inside; an
// opening '<' or '[' with no closing one within 100 bytes is plain text. A sentence longer than
// `max_bytes` is cut at its last comma (", " ， 、) within the limit, else at a space, else between
// characters. Optionally the first piece of a text ends at its first comma, so that first audio does
// not wait for a long opening sentence. Pieces are trimmed of surrounding whitespace and never empty;
// a piece with nothing but punctuation joins the previous one when that is still in the same output.
//
// SplitSentences and ContainsHan are pure functions; thread-safe. A SentenceSplitter
// holds one text's state and belongs to one caller. Sizes are in bytes of UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.h"

namespace cadence::speech {

struct SentenceSplitOptions {
  // Longest piece before a cut at a comma or space (a tag or closing quotes may overrun it).
  size_t max_bytes = 160;
  // End the first piece of the text at its first comma, if that comma starts at or after
  // `first_clause_min_bytes` (the realtime reply stream turns this on for first-audio latency).
  bool cut_first_clause = false;
  size_t first_clause_min_bytes = 12;
};

class SentenceSplitter {
 public:
  explicit SentenceSplitter(SentenceSplitOptions options = {}) : options_(options) {}

  // Appends streamed text; appends each piece completed by it to `out`. A mark at the very end of
  // the text so far waits for the next chunk (closing quotes or more marks may follow).
  void Push(std::string_view text, std::vector<std::string>* out);
  // Appends what remains to `out` and starts over (the next Push begins a new text).
  void Flush(std::vector<std::string>* out);

 private:
  size_t FindCut(bool at_end) const;
  void Emit(size_t cut, size_t out_start, std::vector<std::string>* out);

  SentenceSplitOptions options_;
  std::string pending_;
  bool emitted_any_ = false;
};

// The batch form: one Push of `text` and a Flush.
std::vector<std::string> SplitSentences(std::string_view text, const SentenceSplitOptions& options = {});

// True when the text holds a Han ideograph (cadence::IsHan).
bool ContainsHan(std::string_view text);

}  // namespace cadence::speech
