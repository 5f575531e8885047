// Pre-tokenizers: split text into the words byte-level BPE encodes separately, exactly as the
// reference tokenizers' regular expressions do ("gpt-2", "llama-bpe" = Llama 3, "qwen2").
//
// Hand-written matchers over Unicode code points (letter / number / white-space classes from ICU)
// that reproduce the regexes' alternation order and backtracking. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cadence::engine {

enum class PreTokenizer { kGpt2, kLlama3, kQwen2 };

// Maps GGUF `tokenizer.ggml.pre` to a PreTokenizer; InvalidArgument names unsupported values.
Result<PreTokenizer> PreTokenizerFromName(std::string_view name);

// Splits UTF-8 `text` into pieces (UTF-8, concatenating back to `text`). Invalid UTF-8 bytes are
// kept as single-byte pieces.
std::vector<std::string> PreTokenize(PreTokenizer kind, std::string_view text);

}  // namespace cadence::engine
