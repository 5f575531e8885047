#include "engine/generate/text_stream.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "core/utf8.h"

namespace cadence::engine {

namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string.
size_t HeldBack(std::string_view text, const std::vector<std::string>& stops) {
  size_t hold = 0;
  for (const std::string& s : stops)
    for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len)
      if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
  return hold;
}

// `bytes` with every ill-formed byte replaced by U+FFFD.
std::string ValidUtf8(std::string_view bytes) { return EncodeUtf8(DecodeUtf8(bytes)); }

}  // namespace

TextStream::TextStream(const Tokenizer& tokenizer, const std::vector<std::string>& stops) : tokenizer_(tokenizer) {
  for (const auto& s : stops)
    if (!s.empty()) stops_.push_back(s);
}

std::string TextStream::Add(TokenId token, bool* stopped) {
  *stopped = false;
  bytes_ += tokenizer_.TokenBytes(token);
  const size_t complete = CompleteUtf8Prefix(bytes_);
  pending_ += ValidUtf8(std::string_view(bytes_).substr(0, complete));
  bytes_.erase(0, complete);
  for (const std::string& s : stops_) {
    const size_t at = pending_.find(s);
    if (at != std::string::npos) {
      pending_.resize(at);
      *stopped = true;
    }
  }
  if (*stopped) {
    bytes_.clear();
    return std::exchange(pending_, {});
  }
  const size_t hold = HeldBack(pending_, stops_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string TextStream::Finish() {
  std::string out = std::exchange(pending_, {}) + ValidUtf8(bytes_);
  bytes_.clear();
  return out;
}

}  // namespace cadence::engine
