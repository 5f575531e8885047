// NeuralSynthesizer: the server's neural voice — CosyVoice 2's speech-token language model turns
// the reply text into 25 Hz speech tokens, and a token2wav folder (flow + HiFT) turns them into
// 24 kHz audio, streamed: the first chunk of tokens becomes audio while the LM goes on.
//
// Files (as published; `cadence serve --voice-model DIR [--voice-token2wav DIR2]`):
//   DIR   CosyVoice2-0.5B: llm.pt + CosyVoice-BlankEN/ (the language model)
//   DIR2  a token2wav folder with a DiT flow: Step-Audio 2 mini's token2wav/ (flow.yaml, flow.pt,
//         hift.pt, campplus.onnx, speech_tokenizer_v2_25hz.onnx). Both models speak the same
//         CosyVoice 2 speech tokens. Default: DIR itself — CosyVoice 2's own flow (a causal U-Net
//         estimator) is not implemented yet, and loading it says so.
//
// Voices are zero-shot: a prompt clip and its transcript (`--voice-prompt NAME=FILE.wav:TEXT`)
// become the LM's prompt (transcript + the clip's speech tokens) and the flow's (tokens, 24 kHz mel,
// CAM++ speaker embedding), computed once at start. Without prompts there is one voice, "default",
// prompted by a sentence Flite's slt voice speaks at start-up. Vendor voice names (OpenAI's,
// StepFun's) resolve to the first voice.
//
// Tone and tags (cosyvoice_text.h): inline tags become CosyVoice 2's fine-grained tags; the scene
// tone and emotion cues become an instruct-mode instruction (then the LM's prompt is the
// instruction, not the transcript, as CosyVoice 2's inference_instruct2 does; the flow keeps the
// voice's prompt).
//
// The voices and the streaming token2wav are TokenVoices (token_voices.h). Each voice's token2wav
// stream is set up once with its prompt (the prompt's encoder and estimator caches: ~1.3 MB per
// prompt frame at the published width, so ~200 MB for a 3-s prompt) and every reply starts from a
// copy of it.
//
// Threading: created once, shared, const; each Synthesize call owns its LM sequence and token2wav
// stream. `threads` compute threads per call.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "speech/tts/synthesizer.h"
#include "speech/tts/token_voices.h"

namespace cadence::speech {

struct NeuralVoiceConfig {
  std::string lm_dir;
  std::string token2wav_dir;  // "" = lm_dir
  std::vector<NeuralVoicePrompt> prompts;
  int threads = 2;
  int chunk_tokens = 25;  // tokens per streamed token2wav chunk (1 s of audio)
  int n_timesteps = 0;    // Euler steps of the flow; 0 = the model's (10)
  bool lm_q8_0 = true;    // the LM's float layer matrices as Q8_0 (a quarter of F32's bytes per token)
  std::string default_voice;  // a prompt's name, put first; "" = the first prompt
  uint64_t seed = 1;
};

// Loads the models and encodes every voice prompt; errors name the file at fault.
Result<std::unique_ptr<Synthesizer>> CreateNeuralSynthesizer(const NeuralVoiceConfig& config);

}  // namespace cadence::speech
