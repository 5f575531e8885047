// StepAudio2: Step-Audio 2 mini (StepFun, Apache 2.0; also -Base and -Think), an end-to-end speech
// model — a Whisper-style audio encoder and an adaptor project the user's audio into a
// Qwen2.5-7B-shaped LLM, which answers with text and CosyVoice 2 speech tokens (25 Hz, 0..6560)
// that a token2wav folder turns into a waveform.
//
// Loaded from the published checkpoint folder as downloaded (stepfun-ai/Step-Audio-2-mini):
// config.json (text_config, audio_encoder_config), model.safetensors.index.json + shards (BF16),
// vocab.json / merges.txt / tokenizer_config.json with the added tokens (<|BOT|>, <|EOT|>,
// <audio_start>, <audio_patch>, <audio_end>, <tts_start>, <tts_end>, <tts_pad>, <audio_0> ..
// <audio_6561>). Special tokens are found by name, not by the published ids.
//
// The chat format as published (stepaudio2.py, StepAudio2.apply_chat_template): a string turn is
// "<|BOT|>{role}\n{text}<|EOT|>" ("user" becomes "human"); a turn with parts is "<|BOT|>{role}\n",
// then each part (text as is; audio as "<audio_start>" + one "<audio_patch>" per adaptor output
// frame + "<audio_end>" per 25-s piece), then "<|EOT|>"; eot=false leaves the last <|EOT|> out
// (an assistant turn "<tts_start>" without it asks for a spoken answer). Every string piece is
// tokenized on its own. The adaptor's rows replace the <audio_patch> embeddings.
//
// Generation: ids below <audio_start>'s are text, ids from <audio_0>'s are speech tokens
// (id - <audio_0>; code 6561 is padding), a spoken answer interleaves one text token and four
// speech tokens after <tts_start>; <|EOT|> ends the turn.
//
// The LLM runs on the engine's Qwen2 path (Model, Sequence: KV cache, prefix reuse). Audio rows
// enter a Sequence under ids derived from the audio's key (negative, never a vocabulary id), so a
// later prompt holding the same audio reuses its positions; encoder outputs are kept for the last
// few keys. Immutable after Load apart from that cache; const methods may run on many threads
// (each call with its own Sequence).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "engine/generate/sampler.h"
#include "engine/models/qwen2_llama.h"
#include "engine/models/step_audio2_encoder.h"
#include "engine/text/tokenizer.h"

namespace cadence::engine {

class SafetensorsShards;

inline constexpr int kStepAudio2SpeechCodes = 6561;       // <audio_0> .. <audio_6560>
inline constexpr int kStepAudio2PieceSamples = 25 * 16000;  // audio is split into 25-s pieces
inline constexpr int kStepAudio2PadSamples = 479;          // zeros appended before the log-mel

// The named special tokens' ids.
struct StepAudio2Tokens {
  TokenId bot = -1, eot = -1, audio_start = -1, audio_end = -1, audio_patch = -1, tts_start = -1, tts_end = -1,
          tts_pad = -1, audio_0 = -1, eos = -1;
};

// One <= 25-s piece of audio as the encoder takes it: Whisper's log-mel (n_mels bins) of the
// 16 kHz samples with kStepAudio2PadSamples zeros appended, [n_mels][n_frames] row-major.
struct StepAudio2AudioPiece {
  int n_frames = 0;
  std::vector<float> mel;
  uint64_t key = 0;  // identifies the audio (e.g. a hash of the samples): equal keys, equal rows
};

// One message of the conversation.
struct StepAudio2Turn {
  struct Part {
    std::string text;
    std::shared_ptr<const StepAudio2AudioPiece> audio;  // set: an audio part
    std::vector<TokenId> ids;                           // raw ids (a "token" part), used when no text/audio
  };
  std::string role;         // "system" | "human" (or "user") | "assistant" | ...
  std::vector<Part> parts;  // one text part and !as_parts: the string form
  bool as_parts = false;    // the published list form (each piece tokenized on its own)
  bool eot = true;
  // Convenience: a string turn.
  static StepAudio2Turn Text(std::string role, std::string text, bool eot = true);
};

// A prompt: token ids (<audio_patch> at the audio rows) and where each audio piece's rows go.
struct StepAudio2Prompt {
  struct Audio {
    int position = 0;  // index of its first <audio_patch>
    int rows = 0;
    std::shared_ptr<const StepAudio2AudioPiece> piece;
  };
  std::vector<TokenId> ids;
  std::vector<Audio> audio;
};

struct StepAudio2Options {
  LoadOptions llm;           // the LLM's threads, ISA, quantize_q8_0
  int encoder_threads = 0;   // 0: llm.threads
  int encoder_cache = 16;    // encoder outputs kept (by audio key)
};

struct StepAudio2Generation {
  int max_tokens = 2048;
  SamplingParams sampling;  // published defaults: temperature 0.7, top_p 0.9, repetition 1.05
  StepAudio2Generation() {
    sampling.temperature = 0.7f;
    sampling.top_p = 0.9f;
    sampling.top_k = 0;
    sampling.repetition_penalty = 1.05f;
  }
};

struct StepAudio2Output {
  std::vector<TokenId> ids;  // generated, <|EOT|> excluded
  std::string text;
  std::vector<int> speech;   // speech tokens 0..6560
  int prompt_tokens = 0, reused_tokens = 0;
  bool finished = false;     // ended with <|EOT|> (or the tokenizer's end token), not the budget
};

class StepAudio2 {
 public:
  // `dir`: the checkpoint folder. Errors name the file, tensor or config field at fault.
  static Result<std::unique_ptr<StepAudio2>> Load(const std::string& dir, const StepAudio2Options& options = {});
  ~StepAudio2();

  // The adaptor frames (= <audio_patch> tokens) of a piece of n_frames mel frames.
  static int AudioRows(int n_frames) { return StepAudio2AudioTokens(n_frames); }

  Result<StepAudio2Prompt> BuildPrompt(const std::vector<StepAudio2Turn>& turns) const;
  // The adaptor's rows for one piece ([AudioRows][n_embd]), from the cache when its key was seen.
  Result<std::shared_ptr<const std::vector<float>>> EncodeAudio(const StepAudio2AudioPiece& piece) const;
  // Makes `seq` hold `prompt` (the longest common prefix kept, audio matched by key), `logits` the
  // last position's. Returns the positions reused.
  Result<int> Prefill(Sequence& seq, const StepAudio2Prompt& prompt, std::vector<float>* logits,
                      const CancelToken* cancel = nullptr) const;
  // Prefill, then generates until <|EOT|>, the budget, a sink's false or `cancel` (Cancelled).
  Result<StepAudio2Output> Generate(Sequence& seq, const StepAudio2Prompt& prompt, const StepAudio2Generation& options,
                                    const std::function<bool(std::string_view)>& on_text,
                                    const std::function<bool(std::span<const int>)>& on_speech,
                                    const CancelToken* cancel = nullptr) const;

  // The ids `prompt`'s positions are recorded under in a Sequence: the tokens, and for each audio
  // row an id derived from its piece's key and the row (negative: never a vocabulary id). What a
  // caller compares with Sequence::tokens() to find the slot holding most of a prompt.
  std::vector<TokenId> PositionIds(const StepAudio2Prompt& prompt) const;

  const Model& llm() const { return *llm_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const StepAudio2Tokens& tokens() const { return tokens_; }
  const StepAudio2EncoderConfig& audio_config() const { return encoder_->config(); }
  const StepAudio2Encoder& encoder() const { return *encoder_; }

 private:
  StepAudio2() = default;

  std::shared_ptr<const SafetensorsShards> weights_;
  std::unique_ptr<StepAudio2Encoder> encoder_;
  std::unique_ptr<Model> llm_;
  std::unique_ptr<Tokenizer> tokenizer_;
  StepAudio2Tokens tokens_;
  std::unique_ptr<WorkerTeam> encoder_team_;
  int encoder_cache_size_ = 16;
  mutable std::mutex encoder_mu_;  // encoder_team_ and the cache
  mutable std::list<std::pair<uint64_t, std::shared_ptr<const std::vector<float>>>> encoder_cache_;  // newest first
};

}  // namespace cadence::engine
