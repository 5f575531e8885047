#include "brain/step_audio_brain.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "brain/engine_brain.h"
#include "core/log.h"
#include "engine/models/step_audio2.h"
#include "speech/asr/whisper/log_mel.h"

namespace cadence::brain {
namespace {

// FNV-1a over the samples' bits: identifies a piece of audio across turns (the engine reuses the
// positions and encoder output of audio it has seen).
uint64_t AudioKey(std::span<const float> samples) {
  uint64_t h = 1469598103934665603ull;
  for (float f : samples) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    h = (h ^ bits) * 1099511628211ull;
  }
  return h ^ samples.size();
}

}  // namespace

void ThinkSplitter::Feed(std::string_view piece, const Sink& sink) {
  held_.append(piece);
  while (!held_.empty()) {
    const std::string_view tag = thinking_ ? "</think>" : "<think>";
    const size_t at = held_.find(tag);
    if (at != std::string::npos) {
      sink(std::string_view(held_).substr(0, at), thinking_);
      held_.erase(0, at + tag.size());
      thinking_ = !thinking_;
      continue;
    }
    // Keep back a tail that may be the start of the tag.
    size_t keep = 0;
    for (size_t n = std::min(tag.size() - 1, held_.size()); n > 0; --n) {
      if (std::string_view(held_).substr(held_.size() - n) == tag.substr(0, n)) {
        keep = n;
        break;
      }
    }
    sink(std::string_view(held_).substr(0, held_.size() - keep), thinking_);
    held_.erase(0, held_.size() - keep);
    break;
  }
}

void ThinkSplitter::Finish(const Sink& sink) {
  if (!held_.empty()) sink(held_, thinking_);
  held_.clear();
}

Result<std::vector<std::shared_ptr<const engine::StepAudio2AudioPiece>>> StepAudioPieces(const std::vector<float>& samples,
                                                                                          int n_mels) {
  std::vector<std::shared_ptr<const engine::StepAudio2AudioPiece>> pieces;
  for (size_t at = 0; at < samples.size(); at += engine::kStepAudio2PieceSamples) {
    const size_t n = std::min(samples.size() - at, static_cast<size_t>(engine::kStepAudio2PieceSamples));
    std::vector<float> padded(samples.begin() + static_cast<std::ptrdiff_t>(at),
                              samples.begin() + static_cast<std::ptrdiff_t>(at + n));
    padded.resize(n + engine::kStepAudio2PadSamples, 0.0f);
    speech::whisper::LogMelOptions mel_options;
    mel_options.n_mels = n_mels;
    auto mel = speech::whisper::ComputeLogMel(padded, mel_options);
    if (!mel.ok()) return mel.status().WithContext("step-audio-2: the user's audio");
    auto piece = std::make_shared<engine::StepAudio2AudioPiece>();
    piece->n_frames = mel->n_frames;
    piece->mel = std::move(mel->data);
    piece->key = AudioKey(std::span<const float>(samples.data() + at, n));
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

namespace {

// Runs one answer on a backend.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual Status Answer(const std::vector<StepAudioTurn>& turns, bool spoken, const StepAudioSampling& sampling,
                        const CancelToken& cancel, const TextSink& on_text, const SpeechTokenSink& on_speech) const = 0;
  virtual BrainStats Stats() const { return {}; }
  // Evaluates the conversation so far ahead of the next turn (engine only).
  virtual void Prepare(const std::vector<StepAudioTurn>& turns) const {}
};

class VllmBackend : public Backend {
 public:
  explicit VllmBackend(StepAudioVllmConfig config) : client_(std::move(config)) {}
  Status Answer(const std::vector<StepAudioTurn>& turns, bool spoken, const StepAudioSampling& sampling,
                const CancelToken& cancel, const TextSink& on_text, const SpeechTokenSink& on_speech) const override {
    return client_.Stream(turns, spoken, sampling, cancel, on_text, on_speech);
  }

 private:
  StepAudioVllmClient client_;
};

class EngineBackend : public Backend {
 public:
  Status Init(const StepAudioBrainOptions& options) {
    engine::StepAudio2Options model_options;
    model_options.llm.threads = options.threads;
    model_options.llm.quantize_q8_0 = options.q8_0;
    auto model = engine::StepAudio2::Load(options.model_dir, model_options);
    if (!model.ok()) return model.status();
    model_ = std::move(model).value();
    for (int i = 0; i < std::max(1, options.slots); ++i)
      slots_.push_back(std::make_unique<Slot>(model_->llm(), options.kv_tokens));
    seed_ = options.seed;
    return Status::Ok();
  }

  Status Answer(const std::vector<StepAudioTurn>& turns, bool spoken, const StepAudioSampling& sampling,
                const CancelToken& cancel, const TextSink& on_text, const SpeechTokenSink& on_speech) const override {
    CADENCE_ASSIGN_OR_RETURN(std::vector<engine::StepAudio2Turn> chat, Chat(turns));
    chat.push_back(spoken ? engine::StepAudio2Turn::Text("assistant", "<tts_start>", false)
                          : engine::StepAudio2Turn::Text("assistant", "", false));
    CADENCE_ASSIGN_OR_RETURN(engine::StepAudio2Prompt prompt, model_->BuildPrompt(chat));
    Slot* slot = Acquire(prompt, &cancel);
    if (slot == nullptr) return Status::Cancelled("reply cancelled while waiting for a free slot");
    struct Release {
      const EngineBackend* self;
      Slot* slot;
      ~Release() { self->ReleaseSlot(slot); }
    } release{this, slot};
    engine::StepAudio2Generation gen;
    gen.max_tokens = sampling.max_tokens;
    gen.sampling.temperature = static_cast<float>(sampling.temperature);
    gen.sampling.top_p = static_cast<float>(sampling.top_p);
    gen.sampling.repetition_penalty = static_cast<float>(sampling.repetition_penalty);
    gen.sampling.seed = seed_ + static_cast<uint64_t>(calls_.fetch_add(1));
    auto out = model_->Generate(slot->seq, prompt, gen, on_text, on_speech, &cancel);
    if (!out.ok()) return out.status();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.prompt_tokens += out->prompt_tokens - out->reused_tokens;
    stats_.reused_tokens += out->reused_tokens;
    stats_.generated_tokens += static_cast<int64_t>(out->ids.size());
    return Status::Ok();
  }

  // The history's positions, computed while the user speaks: the next turn starts after them.
  void Prepare(const std::vector<StepAudioTurn>& turns) const override {
    auto chat = Chat(turns);
    if (!chat.ok() || chat->empty()) return;
    auto prompt = model_->BuildPrompt(*chat);
    if (!prompt.ok() || prompt->ids.empty()) return;
    Slot* slot = Acquire(*prompt);
    if (slot == nullptr) return;
    std::vector<float> logits;
    auto reused = model_->Prefill(slot->seq, *prompt, &logits);
    if (reused.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.prompt_tokens += static_cast<int64_t>(prompt->ids.size()) - *reused;
      stats_.reused_tokens += *reused;
    }
    ReleaseSlot(slot);
  }

  BrainStats Stats() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  // The turns in the engine's form: human audio as log-mel pieces.
  Result<std::vector<engine::StepAudio2Turn>> Chat(const std::vector<StepAudioTurn>& turns) const {
    std::vector<engine::StepAudio2Turn> chat;
    for (const StepAudioTurn& t : turns) {
      if (t.role == StepAudioTurn::Role::kHuman && t.audio_16k && !t.audio_16k->empty()) {
        engine::StepAudio2Turn turn;
        turn.role = "human";
        turn.as_parts = true;
        CADENCE_ASSIGN_OR_RETURN(auto pieces, StepAudioPieces(*t.audio_16k, model_->audio_config().n_mels));
        for (auto& p : pieces) turn.parts.push_back({"", std::move(p), {}});
        if (!t.text.empty() && pieces.empty()) turn.parts.push_back({t.text, nullptr, {}});
        chat.push_back(std::move(turn));
        continue;
      }
      const char* role = t.role == StepAudioTurn::Role::kSystem ? "system"
                         : t.role == StepAudioTurn::Role::kHuman ? "human"
                                                                 : "assistant";
      chat.push_back(engine::StepAudio2Turn::Text(role, t.text));
    }
    return chat;
  }

  struct Slot {
    Slot(const engine::Model& model, int kv_tokens) : seq(model, kv_tokens) {}
    engine::Sequence seq;
    bool busy = false;
    int64_t used = 0;
  };

  // The free slot holding the longest part of `prompt` (a session's previous turn), else the
  // least recently used; waits while every slot is busy.
  // Null when `cancel` fires first.
  Slot* Acquire(const engine::StepAudio2Prompt& prompt, const CancelToken* cancel = nullptr) const {
    const std::vector<engine::TokenId> ids = model_->PositionIds(prompt);
    std::unique_lock<std::mutex> lock(mu_);
    auto any_free = [&] { return std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return !s->busy; }); };
    while (!any_free()) {
      if (cancel != nullptr && cancel->cancelled()) return nullptr;
      cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    Slot* best = nullptr;
    size_t best_common = 0;
    for (const auto& s : slots_) {
      if (s->busy) continue;
      const auto& held = s->seq.tokens();
      size_t common = 0;
      while (common < held.size() && common < ids.size() && held[common] == ids[common]) ++common;
      if (!best || common > best_common || (common == best_common && s->used < best->used)) {
        best = s.get();
        best_common = common;
      }
    }
    best->busy = true;
    best->used = ++clock_;
    return best;
  }
  void ReleaseSlot(Slot* slot) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      slot->busy = false;
    }
    cv_.notify_one();
  }

  std::unique_ptr<engine::StepAudio2> model_;
  std::vector<std::unique_ptr<Slot>> slots_;
  uint64_t seed_ = 1;
  mutable std::atomic<uint64_t> calls_{0};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable int64_t clock_ = 0;
  mutable BrainStats stats_;
};

class StepAudioBrain : public Brain {
 public:
  StepAudioBrain(std::unique_ptr<Backend> backend, int max_output_tokens)
      : backend_(std::move(backend)), max_output_tokens_(max_output_tokens) {}
  std::string_view kind() const override { return "step-audio-2"; }
  bool hears_audio() const override { return true; }
  bool speaks() const override { return true; }
  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    return Run(request, false, cancel, on_text, {}, {});
  }
  using Brain::ReplySpoken;
  Status ReplySpoken(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text,
                     const SpeechTokenSink& on_speech, const TextSink& on_thinking) const override {
    return Run(request, true, cancel, on_text, on_speech, on_thinking);
  }
  BrainStats Stats() const override { return backend_->Stats(); }
  void Prepare(const ReplyRequest& request) const override { backend_->Prepare(StepAudioTurns(request)); }

 private:
  Status Run(const ReplyRequest& request, bool spoken, const CancelToken& cancel, const TextSink& on_text,
             const SpeechTokenSink& on_speech, const TextSink& on_thinking) const {
    StepAudioSampling sampling;
    sampling.max_tokens = request.max_output_tokens > 0 ? request.max_output_tokens : max_output_tokens_;
    sampling.temperature = request.temperature;
    ThinkSplitter split;
    bool go_on = true;
    // Each piece to its sink: thinking to on_thinking (dropped when there is none), the rest to on_text.
    const ThinkSplitter::Sink route = [&](std::string_view t, bool thinking) {
      if (!go_on || t.empty()) return;
      if (thinking) {
        if (on_thinking) go_on = on_thinking(t);
      } else if (on_text) {
        go_on = on_text(t);
      }
    };
    auto text = [&](std::string_view piece) {
      split.Feed(piece, route);
      return go_on;
    };
    Status st = backend_->Answer(StepAudioTurns(request), spoken, sampling, cancel, text, on_speech);
    if (st.ok()) split.Finish(route);
    if (!st.ok() && cancel.cancelled()) return Status::Cancelled("reply cancelled");
    return st;
  }

  std::unique_ptr<Backend> backend_;
  int max_output_tokens_;
};

}  // namespace

std::vector<StepAudioTurn> StepAudioTurns(const ReplyRequest& request) {
  std::vector<StepAudioTurn> turns;
  for (const Message& m : ComposeLlmMessages(request)) {
    StepAudioTurn t;
    t.role = m.role == Message::Role::kSystem ? StepAudioTurn::Role::kSystem
             : m.role == Message::Role::kUser ? StepAudioTurn::Role::kHuman
                                              : StepAudioTurn::Role::kAssistant;
    t.text = m.text;
    if (m.role == Message::Role::kUser) t.audio_16k = m.audio_16k;
    if (t.text.empty() && !(t.audio_16k && !t.audio_16k->empty())) continue;
    turns.push_back(std::move(t));
  }
  return turns;
}

Result<std::unique_ptr<Brain>> CreateStepAudioBrain(const StepAudioBrainOptions& options) {
  std::unique_ptr<Backend> backend;
  if (!options.vllm.url.empty()) {
    if (options.vllm.url.rfind("http://", 0) != 0 && options.vllm.url.rfind("https://", 0) != 0)
      return Status::InvalidArgument("brain: --llm-url '" + options.vllm.url + "' must start with http:// or https://");
    backend = std::make_unique<VllmBackend>(options.vllm);
    CADENCE_LOG(kInfo, "brain", "step-audio-2 brain on vLLM at %s model=%s", options.vllm.url.c_str(),
                options.vllm.model.c_str());
  } else {
    if (options.model_dir.empty())
      return Status::InvalidArgument(
          "brain: step-audio-2 needs the model folder (--model DIR, e.g. a download of stepfun-ai/Step-Audio-2-mini) "
          "or a vLLM server (--llm-url http://HOST:8000/v1)");
    auto engine_backend = std::make_unique<EngineBackend>();
    CADENCE_RETURN_IF_ERROR(engine_backend->Init(options).WithContext("brain: loading --model " + options.model_dir));
    backend = std::move(engine_backend);
    CADENCE_LOG(kInfo, "brain", "step-audio-2 brain on %s", options.model_dir.c_str());
  }
  return std::unique_ptr<Brain>(std::make_unique<StepAudioBrain>(std::move(backend), options.max_output_tokens));
}

}  // namespace cadence::brain
