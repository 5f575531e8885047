#include "realtime/sentence_stream.h"


namespace cadence::realtime {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

// Mandarin terminators, UTF-8: 。(E3 80 82) ！(EF BC 81) ？(EF BC 9F) ；(EF BC 9B) …(E2 80 A6).
size_t CjkTerminatorLength(std::string_view s, size_t i) {
  if (i + 3 > s.size()) return 0;
  const auto b0 = static_cast<unsigned char>(s[i]), b1 = static_cast<unsigned char>(s[i + 1]),
             b2 = static_cast<unsigned char>(s[i + 2]);
  if (b0 == 0xE3 && b1 == 0x80 && b2 == 0x82) return 3;
  if (b0 == 0xEF && b1 == 0xBC && (b2 == 0x81 || b2 == 0x9F || b2 == 0x9B)) return 3;
  if (b0 == 0xE2 && b1 == 0x80 && b2 == 0xA6) return 3;
  return 0;
}

}  // namespace

void SentenceStream::Emit(size_t end, std::vector<std::string>* out) {
  std::string sentence = Trim(std::string_view(pending_).substr(0, end));
  pending_.erase(0, end);
  scanned_ = 0;
  if (!sentence.empty()) {
    out->push_back(std::move(sentence));
    emitted_any_ = true;
  }
}

void SentenceStream::Push(std::string_view text, std::vector<std::string>* out) {
  pending_.append(text);
  for (;;) {
    int depth_angle = 0, depth_square = 0;
    size_t cut = std::string::npos;
    size_t first_clause = std::string::npos;
    constexpr size_t kFirstClauseMinBytes = 12;
    // Rescan from the start each time: pending_ is one sentence long at most, and tag depth must
    // be known at the candidate cut.
    for (size_t i = 0; i < pending_.size(); ++i) {
      const char c = pending_[i];
      if (c == '<') ++depth_angle;
      if (c == '>' && depth_angle > 0) --depth_angle;
      if (c == '[') ++depth_square;
      if (c == ']' && depth_square > 0) --depth_square;
      if (depth_angle > 0 || depth_square > 0) continue;
      if (!emitted_any_ && first_clause == std::string::npos && i >= kFirstClauseMinBytes) {
        if (c == ',' && i + 1 < pending_.size() && IsSpace(pending_[i + 1])) first_clause = i + 1;
        // ， (EF BC 8C) and 、 (E3 80 81)
        if (i + 3 <= pending_.size() &&
            ((static_cast<unsigned char>(c) == 0xEF && static_cast<unsigned char>(pending_[i + 1]) == 0xBC &&
              static_cast<unsigned char>(pending_[i + 2]) == 0x8C) ||
             (static_cast<unsigned char>(c) == 0xE3 && static_cast<unsigned char>(pending_[i + 1]) == 0x80 &&
              static_cast<unsigned char>(pending_[i + 2]) == 0x81))) {
          first_clause = i + 3;
        }
        if (first_clause != std::string::npos) {
          cut = first_clause;
          break;
        }
      }
      if (size_t n = CjkTerminatorLength(pending_, i); n > 0) {
        size_t end = i + n;
        while (end < pending_.size() && (CjkTerminatorLength(pending_, end) > 0)) end += 3;
        cut = end;
        break;
      }
      if (c == '.' || c == '!' || c == '?' || c == ';' || c == '\n') {
        size_t end = i + 1;
        while (end < pending_.size() && (pending_[end] == '.' || pending_[end] == '!' || pending_[end] == '?' ||
                                         pending_[end] == '"' || pending_[end] == '\'' || pending_[end] == ')')) {
          ++end;
        }
        if (end < pending_.size() && IsSpace(pending_[end])) {
          // "Mr. Smith", "e.g. this": a single capital-letter or known abbreviation is no end.
          size_t w = i;
          while (w > 0 && std::isalpha(static_cast<unsigned char>(pending_[w - 1]))) --w;
          std::string word = pending_.substr(w, i - w);
          if (c == '.' && (word == "Mr" || word == "Mrs" || word == "Ms" || word == "Dr" || word == "St" ||
                           word == "vs" || word == "e.g" || word == "i.e" || word.size() == 1)) {
            i = end - 1;
            continue;
          }
          cut = end;
          break;
        }
        if (c == '\n') {
          cut = end;
          break;
        }
        i = end - 1;
      }
    }
    if (cut != std::string::npos) {
      Emit(cut, out);
      continue;
    }
    if (pending_.size() > max_bytes_) {
      size_t at = pending_.find_last_of(",", max_bytes_);
      if (at == std::string::npos || at < max_bytes_ / 3) at = pending_.find_last_of(' ', max_bytes_);
      if (at == std::string::npos || at == 0) break;
      Emit(at + 1, out);
      continue;
    }
    break;
  }
}

void SentenceStream::Flush(std::vector<std::string>* out) {
  if (!pending_.empty()) Emit(pending_.size(), out);
}

}  // namespace cadence::realtime
