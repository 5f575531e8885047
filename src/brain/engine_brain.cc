#include "brain/engine_brain.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "engine/generate/generator.h"
#include "engine/text/chat_template.h"
#include "paralinguistics/cues_text.h"
#include "persona/persona.h"
#include "brain/persona_prompt.h"

namespace cadence::brain {

std::string_view RoleName(Message::Role role) {
  switch (role) {
    case Message::Role::kSystem: return "system";
    case Message::Role::kUser: return "user";
    case Message::Role::kAssistant: return "assistant";
  }
  return "user";
}

std::vector<Message> ComposeLlmMessages(const ReplyRequest& request) {
  static const persona::Persona kDefault = [] {
    persona::Persona p;
    p.id = "cadence";
    p.name = "Cadence";
    p.description = "A warm, concise voice assistant. Replies are spoken aloud, so they are short and natural.";
    p.languages = {"en", "zh"};
    return p;
  }();
  PromptOptions options;
  options.render_cues = [](const paralinguistics::UtteranceCues& c) { return paralinguistics::CuesToPromptText(c); };
  return ComposePrompt(request.persona ? *request.persona : kDefault, request, options);
}

namespace {

class EngineBrain : public Brain {
 public:
  EngineBrain(std::shared_ptr<const engine::Model> model, engine::ChatFormat format, EngineBrainOptions options)
      : model_(std::move(model)), format_(format), options_(options) {}

  std::string_view kind() const override { return "engine"; }

  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    const engine::Tokenizer& tok = *model_->tokenizer();
    std::vector<engine::ChatMessage> chat;
    for (const Message& m : ComposeLlmMessages(request)) chat.push_back({std::string(RoleName(m.role)), m.text});
    const std::vector<engine::TokenId> prompt = tok.Encode(engine::FormatChat(format_, chat, true), false, true);
    engine::GenerateOptions gen;
    gen.sampling = options_.sampling;
    gen.sampling.temperature = static_cast<float>(request.temperature);
    gen.sampling.seed = seed_counter_.fetch_add(1, std::memory_order_relaxed);
    gen.max_tokens = request.max_output_tokens > 0 ? request.max_output_tokens : options_.max_output_tokens;
    gen.stop = {engine::EndOfTurn(format_)};

    std::unique_ptr<engine::Sequence> seq = Take(prompt);
    if (static_cast<int>(prompt.size()) + gen.max_tokens > seq->capacity()) {
      Return(std::move(seq));
      return Status::OutOfRange("engine brain: the prompt (" + std::to_string(prompt.size()) +
                                " tokens) plus the reply budget exceed the KV cache (" +
                                std::to_string(options_.kv_tokens) + " tokens); shorten the history");
    }
    auto result = engine::Generate(*seq, tok, prompt, gen, &cancel,
                                   [&](std::string_view piece) { return on_text(piece); });
    Return(std::move(seq));
    if (!result.ok()) return result.status();
    return Status::Ok();
  }

 private:
  // The cached sequence sharing the longest prefix with `prompt` (a new one while the pool is
  // below its size and nothing useful is cached).
  std::unique_ptr<engine::Sequence> Take(const std::vector<engine::TokenId>& prompt) const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t best = pool_.size(), best_len = 0;
    for (size_t i = 0; i < pool_.size(); ++i) {
      const auto& t = pool_[i]->tokens();
      size_t n = 0;
      while (n < t.size() && n < prompt.size() && t[n] == prompt[n]) ++n;
      if (best == pool_.size() || n > best_len) {
        best = i;
        best_len = n;
      }
    }
    const int in_use_or_pooled = static_cast<int>(pool_.size()) + in_use_;
    if ((best == pool_.size() || best_len == 0) && in_use_or_pooled < options_.cached_sequences) {
      ++in_use_;
      return std::make_unique<engine::Sequence>(*model_, options_.kv_tokens);
    }
    if (best == pool_.size()) {
      ++in_use_;
      return std::make_unique<engine::Sequence>(*model_, options_.kv_tokens);  // pool exhausted by concurrency
    }
    auto seq = std::move(pool_[best]);
    pool_.erase(pool_.begin() + static_cast<std::ptrdiff_t>(best));
    ++in_use_;
    return seq;
  }

  void Return(std::unique_ptr<engine::Sequence> seq) const {
    std::lock_guard<std::mutex> lock(mu_);
    --in_use_;
    pool_.push_back(std::move(seq));
    while (static_cast<int>(pool_.size()) > options_.cached_sequences) pool_.erase(pool_.begin());  // oldest first
  }

  std::shared_ptr<const engine::Model> model_;
  engine::ChatFormat format_;
  EngineBrainOptions options_;
  mutable std::mutex mu_;
  mutable std::vector<std::unique_ptr<engine::Sequence>> pool_;  // guarded by mu_; most recent last
  mutable int in_use_ = 0;                                        // guarded by mu_
  mutable std::atomic<uint64_t> seed_counter_{1};
};

}  // namespace

Result<std::unique_ptr<Brain>> CreateEngineBrain(std::shared_ptr<const engine::Model> model, EngineBrainOptions options) {
  if (!model) return Status::InvalidArgument("engine brain: no model");
  if (!model->tokenizer())
    return Status::FailedPrecondition("engine brain: the model has no tokenizer (safetensors); use a GGUF model");
  auto format = engine::DetectChatFormat(model->gguf(), *model->tokenizer());
  if (!format.ok()) return format.status().WithContext("engine brain");
  options.kv_tokens = std::max(64, std::min(options.kv_tokens, model->config().context_length));
  return std::unique_ptr<Brain>(new EngineBrain(std::move(model), *format, options));
}

Result<std::unique_ptr<Brain>> CreateEngineBrain(const std::string& model_path, EngineBrainOptions options) {
  engine::LoadOptions load;
  load.threads = options.threads;
  auto model = engine::Model::Load(model_path, load);
  if (!model.ok()) return model.status();
  return CreateEngineBrain(std::shared_ptr<const engine::Model>(std::move(model).value()), options);
}

}  // namespace cadence::brain
