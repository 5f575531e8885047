// EngineSet: the shared engines every session uses (VAD, ASR, TTS, brain, personas, paralinguistic
// analyzer), built once at startup from command-line style options. `cadence serve` and
// `cadence bench realtime` build the same stack through this.
//
// Ownership: the EngineSet owns every engine; Engines() hands out raw pointers that stay valid
// while it lives, so it must outlive the Server. Built on one thread; read-only afterwards.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "realtime/http_api.h"
#include "realtime/session.h"

// The engine types are forward-declared by realtime/session.h.

namespace cadence::server {

struct EngineOptions {
  std::string personas_dir;  // extra persona cards ("" = embedded ones only)
  std::string voice;         // default voice, any vendor's name ("" = the synthesizer's default)
  std::string vad_model;     // Silero ONNX ("" = default places, else energy VAD)
  std::string asr_model;     // Whisper model ("" = PocketSphinx)
  bool asr_accurate = false; // PocketSphinx: all search passes (slower, fewer word errors)
  std::string asr_language;  // Whisper: "en" | "zh" | "" (detect per utterance)
  int asr_beam = 1;          // Whisper: beam size (1 = greedy)
  int asr_preload = 1;       // PocketSphinx: decoders loaded at start (one per user talking at once)
  int asr_max_decoders = 16; // PocketSphinx: decoders alive at most (0: no limit)
  double asr_temperature_inc = 0.2;  // Whisper: fallback temperature step (0: off)
  std::string asr_window = "full";  // Whisper: "full" (padded 30-s window) | "speech" (the utterance only)
  std::string brain;         // "" (auto) | scripted | engine | remote | step-audio-2
  std::string llm_model;     // GGUF for the engine brain ("" = scripted brain); step-audio-2: its folder
  int llm_slots = 8;         // engine brain: conversations in KV slots, replies batched at once
  std::string llm_url, llm_name;  // remote OpenAI-compatible brain
  std::string llm_api_key;   // bearer token for --llm-url (from CADENCE_LLM_API_KEY)
  // The neural voice (speech/tts/neural_synthesizer.h); "" = Flite and eSpeak NG.
  std::string voice_model;      // CosyVoice 2 folder (its speech-token LM)
  std::string voice_token2wav;  // token2wav folder ("" = voice_model)
  std::string voice_prompt;     // NAME=FILE.wav:TRANSCRIPT
  std::string voice_prompts;    // a folder of NAME.wav + NAME.txt
  int voice_steps = 0;          // flow Euler steps (0: the model's)
  bool voice_lm_f32 = false;    // keep the LM's F32 weights (default: Q8_0 at load)
};

class EngineSet {
 public:
  // A missing model file or a bad option is an error naming the option and the file.
  static Result<std::unique_ptr<EngineSet>> Build(const EngineOptions& options);
  ~EngineSet();

  // Pointers for the sessions; `workers` runs the user's audio (ASR), `reply_workers` speech
  // synthesis (null: `workers` too), `brain_workers` the brain (null: `reply_workers`). The pools
  // are owned by the caller.
  realtime::Engines Engines(ThreadPool* workers, ThreadPool* reply_workers = nullptr,
                            ThreadPool* brain_workers = nullptr) const;
  // Engine names for /healthz (version left to the caller).
  realtime::HealthInfo Health() const;
  // The body of GET /v1/personas.
  std::string PersonasJson() const;
  // The body of GET /v1/voices.
  std::string VoicesJson() const;
  const speech::Synthesizer& tts() const { return *tts_; }
  const brain::Brain* brain() const { return brain_.get(); }

 private:
  EngineSet() = default;
  std::unique_ptr<persona::PersonaStore> personas_;
  std::string default_voice_;  // --voice as given
  bool neural_voice_ = false;
  std::unique_ptr<speech::VadModel> vad_;
  std::unique_ptr<speech::Recognizer> asr_;
  std::unique_ptr<speech::Synthesizer> tts_;
  std::unique_ptr<brain::Brain> brain_;
  // A speaking brain's voices (step-audio-2): its speech tokens rendered by token2wav.
  std::unique_ptr<speech::TokenVoices> token_voices_;
  std::unique_ptr<paralinguistics::Analyzer> analyzer_;
};

}  // namespace cadence::server
