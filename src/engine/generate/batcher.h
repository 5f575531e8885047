// Batcher: one model serving many generations at once — continuous batching over KV-cache slots,
// as inference servers do (llama.cpp's server slots, vLLM's scheduler).
//
// Decode is bound by reading the weights, so one loop thread runs every active generation's next
// token in one forward pass (ForwardBatch): four sessions cost little more than one. Each step
// takes one token from every decoding generation and up to `prefill_chunk` prompt tokens from
// those still reading their prompts (oldest first), so a long reply cannot starve a new turn and
// a long prompt cannot stall the replies being spoken by more than one chunk per step.
//
// Slots keep their tokens after a generation: a new prompt goes to the free slot sharing the
// longest prefix with it (a session's own previous turn), and only the rest is evaluated. Shared
// heads — the fixed start of many prompts (chat template + persona + instructions) — are kept
// once, outside the slots, and copied into a slot whose own prefix is shorter (a memcpy of the
// keys and values instead of evaluating them again). Prepare evaluates a prompt ahead of time
// (the conversation so far, while the user is still speaking) so the turn starts after it.
//
// Thread-safe. Generate blocks its caller, who receives the text on its own thread; the loop thread
// never runs callers' code. Times in ms.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "engine/generate/generator.h"
#include "engine/models/qwen2_llama.h"

namespace cadence::engine {

struct BatcherOptions {
  int slots = 8;             // KV-cache sequences (generations at once; more wait their turn)
  int kv_tokens = 4096;      // capacity of each slot and head
  int prefill_chunk = 128;   // prompt tokens one step evaluates, over all prompts being read
  int shared_heads = 4;      // shared prompt heads kept (least recently used dropped)
};

struct GenerationRequest {
  std::vector<TokenId> prompt;
  GenerateOptions options;
  // The prompt's first `head_tokens` tokens are a head many prompts share (0: none): kept once
  // after this prompt computes it, and copied into later prompts' slots.
  int head_tokens = 0;
};

struct BatcherStats {
  int64_t steps = 0;             // forward passes
  int64_t decode_tokens = 0;     // generated tokens evaluated
  int64_t prompt_tokens = 0;     // prompt tokens evaluated (not reused)
  int64_t reused_tokens = 0;     // prompt tokens found in a slot or a shared head
  int64_t head_copies = 0;       // slots started from a shared head
  int64_t decode_steps = 0;      // passes that generated at least one token
  double busy_ms = 0;            // wall time in forward passes
  int max_batch = 0;             // most generations decoded in one step
};

class Batcher {
 public:
  Batcher(const Model& model, const Tokenizer& tokenizer, BatcherOptions options = {});
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Generates a completion of request.prompt with the others in flight; blocks until it ends.
  // `on_text` runs on the calling thread with each final piece (false stops: reason "stop").
  // Cancelled when `cancel` fires (checked every step); OutOfRange when the prompt plus the
  // token budget exceed a slot.
  Result<GenerateResult> Generate(const GenerationRequest& request, const CancelToken* cancel,
                                  const std::function<bool(std::string_view)>& on_text);
  // Evaluates `tokens` ahead of time into the free slot sharing the most with them (`shared_head`:
  // into a shared head instead), so that a later prompt starting with them begins after them.
  // Returns at once; the work waits behind generations and is dropped if no slot is free.
  void Prepare(std::vector<TokenId> tokens, bool shared_head);
  // Blocks until no generation or preparation is queued or running (tests, warm-up).
  void WaitIdle();

  BatcherStats stats() const;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Job;
  struct Slot;
  void Loop();
  // Loop thread, `lock` held: gives waiting jobs a slot, in order, while one is free.
  void Admit(std::unique_lock<std::mutex>& lock);
  void Step();
  // Loop thread: an empty shared head, the least recently used idle one dropped when all
  // `shared_heads` are held; null when every head is still being filled.
  Slot* NewHead();
  void Finish(Job& job, Status status);

  const Model& model_;
  const Tokenizer& tokenizer_;
  BatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;       // the loop: work arrived or stop
  std::condition_variable idle_cv_;    // WaitIdle
  std::deque<std::shared_ptr<Job>> waiting_;  // guarded by mu_
  bool stop_ = false;                         // guarded by mu_
  int active_ = 0;                            // guarded by mu_: running_.size() as of the last step
  BatcherStats stats_;                        // guarded by mu_

  // Loop thread only.
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<std::unique_ptr<Slot>> heads_;
  std::vector<std::shared_ptr<Job>> running_;
  uint64_t clock_ = 0;

  std::thread thread_;
};

}  // namespace cadence::engine
