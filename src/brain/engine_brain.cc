#include "brain/engine_brain.h"

#include <algorithm>
#include <atomic>

#include "engine/generate/batcher.h"
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
      : model_(std::move(model)),
        format_(format),
        options_(options),
        batcher_(*model_, *model_->tokenizer(),
                 {.slots = options.slots,
                  .kv_tokens = options.kv_tokens,
                  .prefill_chunk = options.prefill_chunk,
                  .shared_heads = options.shared_heads}) {
    if (options_.warm_default_head) {
      ReplyRequest empty;
      Prepare(empty);
    }
  }

  std::string_view kind() const override { return "engine"; }

  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    const std::vector<engine::ChatMessage> chat = Chat(ComposeLlmMessages(request));
    engine::GenerationRequest gen;
    gen.prompt = Encode(chat, chat.size(), true);
    gen.head_tokens = HeadTokens(chat, gen.prompt);
    gen.options.sampling = options_.sampling;
    gen.options.sampling.temperature = static_cast<float>(request.temperature);
    gen.options.sampling.seed = seed_counter_.fetch_add(1, std::memory_order_relaxed);
    gen.options.max_tokens = request.max_output_tokens > 0 ? request.max_output_tokens : options_.max_output_tokens;
    gen.options.stop = {engine::EndOfTurn(format_)};
    auto result = batcher_.Generate(gen, &cancel, [&](std::string_view piece) { return on_text(piece); });
    if (!result.ok()) return result.status().WithContext("engine brain");
    return Status::Ok();
  }

  void Prepare(const ReplyRequest& request) const override {
    ReplyRequest so_far = request;
    so_far.cues.reset();
    const std::vector<engine::ChatMessage> chat = Chat(ComposeLlmMessages(so_far));
    if (chat.empty()) return;
    batcher_.Prepare(Encode(chat, 1, false), true);  // the system message: a shared head
    // ComposePrompt ends with the post-history reminder, which moves with every turn: the next
    // prompt shares everything before it.
    if (request.history.empty() || chat.size() < 3) return;
    batcher_.Prepare(Encode(chat, chat.size() - 1, false), false);
  }

  BrainStats Stats() const override {
    const engine::BatcherStats s = batcher_.stats();
    return {.generated_tokens = s.decode_tokens,
            .prompt_tokens = s.prompt_tokens,
            .reused_tokens = s.reused_tokens,
            .decode_steps = s.decode_steps,
            .busy_s = s.busy_ms / 1000.0,
            .max_batch = s.max_batch};
  }

 private:
  static std::vector<engine::ChatMessage> Chat(const std::vector<Message>& messages) {
    std::vector<engine::ChatMessage> chat;
    for (const Message& m : messages) chat.push_back({std::string(RoleName(m.role)), m.text});
    return chat;
  }

  // The tokens of the first `n` messages rendered with the chat template.
  std::vector<engine::TokenId> Encode(const std::vector<engine::ChatMessage>& chat, size_t n,
                                      bool add_generation_prompt) const {
    const std::vector<engine::ChatMessage> head(chat.begin(), chat.begin() + static_cast<std::ptrdiff_t>(n));
    return model_->tokenizer()->Encode(engine::FormatChat(format_, head, add_generation_prompt), false, true);
  }

  // How many of `prompt`'s tokens are the system message's (the head sessions share), or 0 when the
  // rendering of the system message alone is not a prefix of the prompt's tokens.
  int HeadTokens(const std::vector<engine::ChatMessage>& chat, const std::vector<engine::TokenId>& prompt) const {
    if (chat.empty() || chat[0].role != "system") return 0;
    const std::vector<engine::TokenId> head = Encode(chat, 1, false);
    if (head.size() >= prompt.size() || !std::equal(head.begin(), head.end(), prompt.begin())) return 0;
    return static_cast<int>(head.size());
  }

  std::shared_ptr<const engine::Model> model_;
  engine::ChatFormat format_;
  EngineBrainOptions options_;
  mutable engine::Batcher batcher_;
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
