// TextStream: turns generated tokens into text that is final — whole UTF-8 characters only (a
// byte that cannot start or continue a character becomes U+FFFD), stop strings cut (never emitted,
// nor anything after them), and the tail that may be the start of a stop string held back until
// the next token settles it. One per generation; not thread-safe.
#pragma once

#include <string>
#include <vector>

#include "engine/text/tokenizer.h"

namespace cadence::engine {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, const std::vector<std::string>& stops);

  // Adds a generated token; returns the text it makes final (often empty). Sets *stopped when a
  // stop string completed: the returned text is everything before it, and the stream is over.
  std::string Add(TokenId token, bool* stopped);
  // The generation ended another way (end token, budget): what is still held back.
  std::string Finish();

 private:
  const Tokenizer& tokenizer_;
  std::vector<std::string> stops_;
  std::string bytes_;    // decoded bytes not yet known to be complete UTF-8
  std::string pending_;  // complete text not yet emitted (may start a stop string)
};

}  // namespace cadence::engine
