// TokenVoices: the voices that turn CosyVoice 2 speech tokens (25 Hz, 0..6560) into 24 kHz audio,
// streamed, through a token2wav folder (flow + HiFT) — the back half of the neural voice
// (neural_synthesizer.h) and the mouth of end-to-end speech brains (Step-Audio 2), which emit the
// tokens themselves.
//
// Voices are zero-shot: each prompt clip becomes the flow's prompt (its speech tokens from the S3
// tokenizer, its 24 kHz mel, its CAM++ speaker embedding), and a token2wav stream primed with it
// once; every reply starts from a copy. Without prompts there is one voice, "default", prompted by
// a sentence Flite's slt voice speaks at start-up. Vendor voice names resolve to the first voice.
//
// Threading: created once, shared, const. A Speaker is one reply's stream (not thread-safe).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "speech/tts/synthesizer.h"

namespace cadence::engine {
class Token2Wav;
class WorkerTeam;
}  // namespace cadence::engine

namespace cadence::speech {

struct NeuralVoicePrompt {
  std::string name;
  std::string wav_path;
  std::string transcript;
};

// Parses `NAME=FILE.wav:TEXT` (TEXT may hold ':'; FILE may not).
Result<NeuralVoicePrompt> ParseVoicePrompt(const std::string& spec);

// Every NAME.wav in `dir` with its transcript in NAME.txt (UTF-8); a .wav without its .txt is an
// error naming it.
Result<std::vector<NeuralVoicePrompt>> ReadVoicePromptFolder(const std::string& dir);

struct TokenVoicesConfig {
  std::string token2wav_dir;  // flow.yaml, flow.pt, hift.pt, campplus.onnx, speech_tokenizer_v2_25hz.onnx
  std::vector<NeuralVoicePrompt> prompts;
  std::string default_voice;  // a prompt's name, put first; "" = the first prompt
  int threads = 2;
  int chunk_tokens = 25;  // tokens per streamed token2wav chunk (1 s of audio)
  int n_timesteps = 0;    // Euler steps of the flow; 0 = the model's (10)
  uint64_t seed = 1;
  std::string engine_name = "token2wav";  // VoiceInfo::engine of the voices
};

struct TokenVoice {
  VoiceInfo info;
  std::string transcript;                // the prompt clip's
  std::vector<int> prompt_tokens;        // the clip's speech tokens
};

class TokenVoices {
 public:
  // Loads token2wav and the prompt encoders and primes every voice; errors name the file at fault.
  static Result<std::unique_ptr<TokenVoices>> Create(const TokenVoicesConfig& config);
  ~TokenVoices();

  std::vector<VoiceInfo> Voices() const;
  // A voice by id (the first voice when no voice has that id).
  const TokenVoice& Find(std::string_view id) const;
  // Maps a voice name (a voice's own, OpenAI's or StepFun's) to a voice id; InvalidArgument names
  // the voices there are.
  Result<std::string> ResolveVoice(std::string_view name) const;
  const TokenVoicesConfig& config() const { return config_; }

  // One reply's audio in one voice: Push tokens as they come; audio leaves `on_audio` a chunk
  // (chunk_tokens) at a time, then Finish renders the rest.
  class Speaker {
   public:
    ~Speaker();
    // Returns false when `on_audio` asked to stop; errors from token2wav otherwise.
    Result<bool> Push(std::span<const int> tokens);
    Status Finish();
    int64_t tokens() const { return tokens_; }

   private:
    friend class TokenVoices;
    Speaker() = default;
    struct State;
    std::unique_ptr<State> state_;
    int64_t tokens_ = 0;
  };
  Result<std::unique_ptr<Speaker>> Start(std::string_view voice, const AudioSink& on_audio) const;

 private:
  TokenVoices() = default;
  struct Impl;
  Status Init(const TokenVoicesConfig& config);
  Status AddVoice(const std::string& name, const std::vector<float>& samples, int rate_hz, const std::string& transcript);

  TokenVoicesConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadence::speech
