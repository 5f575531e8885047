// Step-Audio 2 as a session brain: an end-to-end speech model that hears the user's committed
// audio itself (no recognizer in the loop) and answers with text and CosyVoice 2 speech tokens,
// which the session renders with a token2wav voice (speech/tts/token_voices.h).
//
// Two backends, one prompt: the persona, the client's instructions and the history
// (ComposeLlmMessages: user turns as their audio when the session kept it, else their text;
// assistant turns as their text) become Step-Audio 2's chat turns; a spoken answer is asked for
// with the "<tts_start>" assistant prefix.
//   - engine (`--brain step-audio-2 --model DIR`): the published checkpoint folder in Cadence's
//     engine (engine/models/step_audio2.h). Conversations keep KV-cache slots: a session's next
//     turn reuses its previous prompt, audio included, and encoder outputs are cached by audio.
//   - vLLM (`--brain step-audio-2 --llm-url URL`): StepFun's vLLM backend (step_audio_vllm.h);
//     Cadence stays cheap and the GPU server batches the sessions.
//
// Thread-safe; cancellation is checked every token (engine) or every streamed chunk (vLLM).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "brain/brain.h"
#include "brain/step_audio_vllm.h"
#include "core/status.h"

namespace cadence::engine {
struct StepAudio2AudioPiece;
}

namespace cadence::brain {

struct StepAudioBrainOptions {
  std::string model_dir;  // engine: the checkpoint folder (config.json, shards, tokenizer files)
  int threads = 0;        // engine: compute threads (0: all cores)
  bool q8_0 = true;       // engine: the LLM's BF16 matrices as Q8_0 at load (a quarter of F32's bytes)
  int slots = 4;          // engine: conversations kept in KV-cache slots
  int kv_tokens = 8192;   // engine: KV capacity of a slot
  StepAudioVllmConfig vllm;  // vLLM: url set selects this backend
  int max_output_tokens = 1024;  // when the request says 0 (a spoken answer spends ~30 tokens a second)
  uint64_t seed = 1;
};

Result<std::unique_ptr<Brain>> CreateStepAudioBrain(const StepAudioBrainOptions& options);

// One human turn's audio as Step-Audio 2's encoder takes it: 25-s pieces, each with 479 zeros
// appended, Whisper's log-mel with `n_mels` bins; each piece keyed by a hash of its samples.
Result<std::vector<std::shared_ptr<const engine::StepAudio2AudioPiece>>> StepAudioPieces(const std::vector<float>& samples_16k,
                                                                                          int n_mels);

// Splits a streamed answer into its thinking ("<think>...</think>", Step-Audio 2 mini Think) and
// its reply, tags dropped, a tag split across pieces included: each piece goes to the sink with
// whether it is thinking. Empty pieces may be passed.
class ThinkSplitter {
 public:
  using Sink = std::function<void(std::string_view text, bool thinking)>;
  void Feed(std::string_view piece, const Sink& sink);
  void Finish(const Sink& sink);  // what is held back (an unfinished tag is text)
  bool thinking() const { return thinking_; }

 private:
  std::string held_;
  bool thinking_ = false;
};

// The Step-Audio 2 turns of a request (before the answer's prefix): system messages, human turns
// (audio when the message has it, else text), assistant turns as text.
std::vector<StepAudioTurn> StepAudioTurns(const ReplyRequest& request);

}  // namespace cadence::brain
