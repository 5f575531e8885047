#include "engine/generate/generator.h"

#include <chrono>

#include "core/utf8.h"

namespace cadence::engine {

namespace {

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

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

}  // namespace

Result<GenerateResult> Generate(Sequence& seq, const Tokenizer& tokenizer, const std::vector<TokenId>& prompt,
                                const GenerateOptions& options, const CancelToken* cancel,
                                const std::function<bool(std::string_view)>& on_text,
                                const std::function<void(TokenId)>& on_token) {
  if (prompt.empty()) return Status::InvalidArgument("generate: the prompt has no tokens");
  GenerateResult result;
  result.prompt_tokens = static_cast<int>(prompt.size());
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits;
  auto reused = seq.Prefill(prompt, &logits, cancel);
  if (!reused.ok()) return reused.status();
  result.reused_tokens = *reused;
  result.prompt_ms = MsSince(t0);

  std::vector<std::string> stops;
  for (const auto& s : options.stop)
    if (!s.empty()) stops.push_back(s);
  Sampler sampler(options.sampling);
  std::string bytes;    // decoded bytes not yet known to be complete UTF-8
  std::string pending;  // complete text not yet emitted (may start a stop string)
  auto t_first = t0;
  auto emit = [&](std::string_view piece) -> bool {
    if (piece.empty()) return true;
    result.text.append(piece);
    return on_text ? on_text(piece) : true;
  };
  result.stop_reason = "length";
  for (int i = 0; i < options.max_tokens; ++i) {
    if (cancel && cancel->cancelled()) return Status::Cancelled("generation cancelled");
    const TokenId token = sampler.Sample(logits, seq.tokens());
    if (i == 0) {
      result.first_token_ms = MsSince(t0);
      t_first = std::chrono::steady_clock::now();
    }
    if (tokenizer.IsEndOfGeneration(token)) {
      result.stop_reason = "eos";
      break;
    }
    result.tokens.push_back(token);
    if (on_token) on_token(token);
    bytes += tokenizer.TokenBytes(token);
    const size_t complete = CompleteUtf8Prefix(bytes);
    pending += bytes.substr(0, complete);
    bytes.erase(0, complete);
    bool stopped = false;
    for (const std::string& s : stops) {
      const size_t at = pending.find(s);
      if (at != std::string::npos) {
        pending.resize(at);
        stopped = true;
      }
    }
    if (stopped) {
      emit(pending);
      pending.clear();
      result.stop_reason = "stop";
      break;
    }
    const size_t hold = HeldBack(pending, stops);
    if (!emit(std::string_view(pending).substr(0, pending.size() - hold))) {
      pending.clear();
      result.stop_reason = "stop";
      break;
    }
    pending.erase(0, pending.size() - hold);
    if (i + 1 == options.max_tokens) break;
    Status s = seq.Append({token}, &logits, cancel);
    if (!s.ok()) return s;
  }
  if (result.stop_reason != "stop") emit(pending + bytes);
  result.decode_ms = MsSince(t_first);
  return result;
}

}  // namespace cadence::engine
