#include "engine/generate/generator.h"

#include <chrono>

#include "engine/generate/text_stream.h"

namespace cadence::engine {

namespace {

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
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

  Sampler sampler(options.sampling);
  TextStream text(tokenizer, options.stop);
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
    bool stopped = false;
    const std::string piece = text.Add(token, &stopped);
    if (!emit(piece) || stopped) {
      result.stop_reason = "stop";
      break;
    }
    if (i + 1 == options.max_tokens) break;
    Status s = seq.Append({token}, &logits, cancel);
    if (!s.ok()) return s;
  }
  if (result.stop_reason != "stop") emit(text.Finish());
  result.decode_ms = MsSince(t_first);
  return result;
}

}  // namespace cadence::engine
