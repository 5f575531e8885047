// Engine brain: Cadence's own transformer (src/engine) as a Brain. Persona + instructions + cues +
// history become chat messages (ComposePrompt), rendered with the model's chat template
// (Qwen2.5 ChatML or Llama 3.1) and streamed token by token.
//
// Prefix reuse: the brain keeps a small pool of KV-cache Sequences; each reply takes the one whose
// cached tokens share the longest prefix with the new prompt, so a session's persona prompt and
// earlier turns are computed once (and shared by sessions with the same persona). The brain is
// const and thread-safe: the pool is locked only to take/return a sequence; forward passes are
// serialized by the Model. Cancellation is checked every token (and between layers).
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
  int kv_tokens = 4096;         // KV capacity per cached sequence
  int cached_sequences = 3;     // pool size (memory: kv_tokens * layers * kv_dim * 8 bytes each)
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
