// Engine brain: Cadence's own transformer (src/engine) as a Brain. Persona + instructions + cues +
// history become chat messages (ComposePrompt), rendered with the model's chat template
// (Qwen2.5 ChatML or Llama 3.1) and streamed token by token.
//
// Replies run on an engine::Batcher: the sessions' next tokens share one pass over the weights
// (continuous batching), each reply continues in the KV-cache slot that shares the most with its
// prompt (the session's previous turn), and the system message — chat template, persona, guard,
// instructions — is a shared head computed once and copied into new slots. The default persona's
// head is warmed when the brain is created; Prepare evaluates a session's conversation so far
// while the user speaks. Thread-safe; cancellation is checked every token.
#pragma once

#include <memory>
#include <string>

#include "brain/brain.h"
#include "core/status.h"
#include "engine/generate/sampler.h"
#include "engine/models/qwen2_llama.h"

namespace cadence::brain {

struct EngineBrainOptions {
  int max_output_tokens = 200;  // when the request says 0
  int kv_tokens = 4096;         // KV capacity per slot (memory grows with use: layers * kv_dim * 8 bytes a token)
  int slots = 8;                // conversations kept in KV-cache slots (replies at once; more wait)
  int shared_heads = 4;         // system-message heads kept for sharing
  int prefill_chunk = 128;      // prompt tokens one batched step evaluates
  bool warm_default_head = true;  // evaluate the default persona's system message at creation
  engine::SamplingParams sampling;  // temperature comes from the request
  int threads = 0;              // 0: all cores
};

// Loads the model; errors (missing/corrupt file, no tokenizer, no chat template) name the file.
Result<std::unique_ptr<Brain>> CreateEngineBrain(const std::string& model_path, EngineBrainOptions options = {});
Result<std::unique_ptr<Brain>> CreateEngineBrain(std::shared_ptr<const engine::Model> model,
                                                 EngineBrainOptions options = {});

// The messages an LLM brain sends for a request (system prompt, history, cues), shared by the
// engine and remote brains. Uses ComposePrompt with a built-in default persona when the
// request has none.
std::vector<Message> ComposeLlmMessages(const ReplyRequest& request);
std::string_view RoleName(Message::Role role);

}  // namespace cadence::brain
