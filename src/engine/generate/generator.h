// Generate: streams a completion of a prompt on a Sequence — prefix reuse, sampling, UTF-8-safe
// text pieces, stop strings (never emitted, nor any text after them), end-of-generation tokens,
// a token budget, and cancellation within one token.
//
// Runs on the calling thread; the Sequence must not be used elsewhere meanwhile. Times in ms.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "engine/generate/sampler.h"
#include "engine/models/qwen2_llama.h"
#include "engine/text/tokenizer.h"

namespace cadence::engine {

struct GenerateOptions {
  SamplingParams sampling;
  int max_tokens = 256;
  std::vector<std::string> stop;  // stop strings
};

struct GenerateResult {
  std::vector<TokenId> tokens;  // generated ids (end-of-generation token excluded)
  std::string text;             // emitted text (stop string excluded)
  std::string stop_reason;      // "eos" | "stop" | "length"
  int prompt_tokens = 0;
  int reused_tokens = 0;        // prompt tokens whose KV came from an earlier call
  double prompt_ms = 0;         // prompt evaluation (time to first logits)
  double first_token_ms = 0;    // from the call to the first token sampled
  double decode_ms = 0;         // after the first token
};

// `on_text` receives each piece as it becomes final; returning false stops generation (a normal
// stop, reason "stop"). `on_token` (optional) sees every generated id.
Result<GenerateResult> Generate(Sequence& sequence, const Tokenizer& tokenizer, const std::vector<TokenId>& prompt,
                                const GenerateOptions& options, const CancelToken* cancel,
                                const std::function<bool(std::string_view)>& on_text,
                                const std::function<void(TokenId)>& on_token = nullptr);

}  // namespace cadence::engine
