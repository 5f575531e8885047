// Brain: turns the conversation so far into the assistant's next reply, streamed as text.
//
// Implementations: scripted (persona lines, no model), engine (Cadence's own transformer),
// remote (OpenAI-compatible HTTP). A Brain is shared by all sessions and must be safe to call
// concurrently (const methods; per-call state lives in the call). Reply() runs on a compute worker,
// calls `on_text` as text becomes available (any chunking: tokens, words, sentences), and returns
// promptly once `cancel` is set (within one token for model brains). The reply text may carry
// inline style tags ("[laughs]", "<emphasis>..</emphasis>", "(whispering)") that speech/tts renders.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "paralinguistics/cues.h"

namespace cadence::persona {
struct Persona;
}

namespace cadence::brain {

struct Message {
  enum class Role { kSystem, kUser, kAssistant };
  Role role = Role::kUser;
  std::string text;
  // A user turn's committed audio (16 kHz mono), for brains that hear it (hears_audio()); may be
  // null. `text` is then its transcript, when there is one.
  std::shared_ptr<const std::vector<float>> audio_16k{};
};

struct ReplyRequest {
  const persona::Persona* persona = nullptr;  // may be null: the brain's default persona
  std::string instructions;                   // session `instructions` (OpenAI clients set these)
  std::vector<Message> history;               // oldest first; the last user message is the turn
  std::optional<paralinguistics::UtteranceCues> cues;  // of the last user utterance, if analysed
  std::string language;                       // "en" | "zh" | "" (follow the user)
  int max_output_tokens = 0;                  // 0: brain default
  double temperature = 0.8;
};

// A model brain's running totals (zero for brains without a model).
struct BrainStats {
  int64_t generated_tokens = 0;  // tokens generated
  int64_t prompt_tokens = 0;     // prompt tokens evaluated
  int64_t reused_tokens = 0;     // prompt tokens found already evaluated (slots, shared heads)
  int64_t decode_steps = 0;      // batched passes that generated at least one token
  double busy_s = 0;             // wall time spent in forward passes
  int max_batch = 0;             // most replies generated in one pass
};

// Called with each piece of reply text; return false to stop generation early.
using TextSink = std::function<bool(std::string_view text)>;
// Called with speech tokens as a speaking brain generates them (CosyVoice 2 speech tokens,
// 0..6560, 25 per second of speech); return false to stop generation early.
using SpeechTokenSink = std::function<bool(std::span<const int> tokens)>;

class Brain {
 public:
  virtual ~Brain() = default;
  // "scripted" | "engine" | "remote"
  virtual std::string_view kind() const = 0;
  // Streams the reply; returns Cancelled if `cancel` was set, Unavailable if a backend is down.
  virtual Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const = 0;
  // The greeting a persona opens a conversation with (may be empty).
  virtual std::string Greeting(const ReplyRequest& request) const { return {}; }
  // The conversation so far, before its next turn (`request.history` ends where the next user turn
  // will follow; cues and budget are ignored): a model brain may evaluate this ahead of time, so
  // that the next Reply starts after it. Returns at once; the work is optional and may be dropped.
  virtual void Prepare(const ReplyRequest& request) const {}
  virtual BrainStats Stats() const { return {}; }

  // End-to-end speech models (Step-Audio 2): the brain hears the user's audio itself (Message::
  // audio_16k; no transcript needed) and speaks: ReplySpoken streams the reply's text and its
  // speech tokens, which the session renders with a token2wav voice instead of a synthesizer.
  // A reasoning model's thinking (Step-Audio 2 mini Think's "<think>...</think>") goes to
  // `on_thinking` (may be empty: dropped), never to `on_text` or into the speech.
  virtual bool hears_audio() const { return false; }
  virtual bool speaks() const { return false; }
  virtual Status ReplySpoken(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text,
                             const SpeechTokenSink& on_speech, const TextSink& on_thinking) const {
    return Status::Unimplemented("this brain does not speak; use Reply and a synthesizer");
  }
  Status ReplySpoken(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text,
                     const SpeechTokenSink& on_speech) const {
    return ReplySpoken(request, cancel, on_text, on_speech, TextSink());
  }
};

}  // namespace cadence::brain
