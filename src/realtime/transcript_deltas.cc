#include "realtime/transcript_deltas.h"

#include <algorithm>

namespace cadence::realtime {
namespace {

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Bytes of `a` and `b` that agree, cut back to a whole UTF-8 character.
size_t CommonPrefix(std::string_view a, std::string_view b) {
  size_t n = 0;
  const size_t limit = std::min(a.size(), b.size());
  while (n < limit && a[n] == b[n]) ++n;
  while (n > 0 && n < a.size() && IsContinuation(static_cast<unsigned char>(a[n]))) --n;
  return n;
}

// Whether `text[0, end)` ends a settled unit inside `text`: a space follows it (a later word has
// begun), or it ends with a multi-byte character and another character follows (Han text has no
// spaces; each character is a unit).
bool SettledBoundary(std::string_view text, size_t end) {
  if (end == 0 || end >= text.size()) return false;
  if (text[end] == ' ') return true;
  const unsigned char last = static_cast<unsigned char>(text[end - 1]);
  return (last & 0x80) != 0 && !IsContinuation(static_cast<unsigned char>(text[end]));
}

}  // namespace

std::string TranscriptDeltas::Partial(std::string_view partial) {
  size_t settled = CommonPrefix(previous_, partial);
  while (settled > 0 && !(SettledBoundary(previous_, settled) && SettledBoundary(partial, settled))) {
    --settled;
    while (settled > 0 && IsContinuation(static_cast<unsigned char>(partial[settled]))) --settled;
  }
  previous_.assign(partial);
  if (settled <= sent_.size() || partial.substr(0, sent_.size()) != sent_) return {};
  std::string delta(partial.substr(sent_.size(), settled - sent_.size()));
  sent_.append(delta);
  return delta;
}

std::string TranscriptDeltas::Final(std::string_view final_text) {
  if (final_text.size() <= sent_.size() || final_text.substr(0, sent_.size()) != sent_) return {};
  std::string delta(final_text.substr(sent_.size()));
  sent_.append(delta);
  return delta;
}

}  // namespace cadence::realtime
