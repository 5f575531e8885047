// Step-Audio 2 mini on StepFun's vLLM backend: the client of its OpenAI-style chat-completions API.
//
// The backend (StepFun's vLLM fork, `vllm serve Step-Audio-2-mini --tokenizer-mode step_audio_2
// --audio-parser step_audio_2_tts_ta4 ...`) takes a dialect of chat messages — the user role is
// "human"; human audio is sent as `input_audio` parts, each a base64 WAV (16-bit PCM mono 16 kHz)
// of at most 25 s, placed before the turn's text; an assistant turn that was spoken carries
// `tts_content` {tts_text, tts_audio: "<audio_N>..."} — and answers with server-sent events whose
// deltas carry `content` (a text answer) or `tts_content` {tts_text, tts_audio} (a spoken answer:
// its text and its CosyVoice 2 speech tokens, N in 0..6560; 6561 is padding).
// A spoken answer is asked for by ending the conversation with the assistant prefix "<tts_start>"
// (eot false) and continue_final_message; a text answer by add_generation_prompt.
//
// Const and thread-safe: each Stream uses its own connection.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/status.h"

namespace cadence::brain {

// One message of the conversation.
struct StepAudioTurn {
  enum class Role { kSystem, kHuman, kAssistant };
  Role role = Role::kHuman;
  std::string text;                                     // system text, human text part, assistant text
  std::shared_ptr<const std::vector<float>> audio_16k{};  // human audio (16 kHz mono float), may be null
  std::vector<int> speech_tokens;                       // assistant: the speech tokens it spoke, may be empty
};

struct StepAudioVllmConfig {
  std::string url;  // http://host:8000/v1, or the full .../v1/chat/completions
  std::string model = "step-audio-2-mini";
  std::string api_key;  // "Authorization: Bearer KEY" when not empty
  double timeout_s = 60;  // for the first streamed chunk, and between chunks after it
};

struct StepAudioSampling {
  int max_tokens = 2048;
  double temperature = 0.7;
  double top_p = 0.9;
  double repetition_penalty = 1.05;
};

// Samples per input_audio part: the backend's audio encoder takes at most 25 s at 16 kHz.
inline constexpr size_t kStepAudioMaxChunkSamples = 25 * 16000;
// Speech codes are 0..6560; <audio_6561> is padding.
inline constexpr int kStepAudioMaxSpeechCode = 6560;

class StepAudioVllmClient {
 public:
  explicit StepAudioVllmClient(StepAudioVllmConfig config);

  // The endpoint actually posted to ({base}/chat/completions).
  const std::string& endpoint() const { return endpoint_; }

  // The request body for `turns` (spoken: ends with the <tts_start> assistant prefix).
  nlohmann::json RequestBody(const std::vector<StepAudioTurn>& turns, bool spoken, const StepAudioSampling& sampling) const;

  // Streams one answer: on_text for text pieces (a spoken answer's tts_text, or a text answer's
  // content), on_speech for speech tokens (0..6560) as they arrive; either returning false stops
  // (Ok). Unavailable naming the URL when the server is down, answers HTTP 429/5xx (with its
  // status and message) or the stream ends before [DONE] / a finish_reason (a cut stream: the
  // pieces already delivered stay delivered); Cancelled when `cancel` fires; InvalidArgument
  // naming the field for malformed chunks; Unavailable for an `error` sent inside the stream.
  Status Stream(const std::vector<StepAudioTurn>& turns, bool spoken, const StepAudioSampling& sampling,
                const CancelToken& cancel, const std::function<bool(std::string_view)>& on_text,
                const std::function<bool(std::span<const int>)>& on_speech) const;

 private:
  StepAudioVllmConfig config_;
  std::string endpoint_;
};

// Parses "<audio_12><audio_6561>..." into codes, dropping codes > 6560; text between tokens is ignored.
std::vector<int> ParseAudioTokens(std::string_view s);

// The same, fed piece by piece: a token split across pieces ("<audio_1" + "2>") is held back
// until it is complete.
class AudioTokenParser {
 public:
  // Appends the codes completed by `piece` to `out`.
  void Feed(std::string_view piece, std::vector<int>* out);
  // The incomplete tail held back so far ("" between tokens).
  const std::string& pending() const { return pending_; }

 private:
  std::string pending_;
};

// "<audio_12><audio_873>": the tts_audio text of speech tokens.
std::string FormatAudioTokens(std::span<const int> tokens);

// One input_audio part's WAV: RIFF/WAVE, 16-bit PCM, mono, 16 kHz.
std::vector<uint8_t> StepAudioWav(std::span<const float> samples_16k);

}  // namespace cadence::brain
