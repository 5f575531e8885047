// Whisper's forward pass on a loaded Model: encoder (conv stem with GELU, sinusoidal positions,
// pre-norm blocks), decoder with a self-attention KV cache and cross-attention over the encoder
// output, and greedy decoding after the special-token prompt.
//
// Float32 throughout, plain loops (a first, reference-checked implementation; not yet using the
// engine's SIMD kernels). Encode() and GreedyDecode() are const on the Model and safe to call from
// many threads at once; a Decoder is one utterance's state and is not thread-safe.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "speech/asr/whisper/log_mel.h"
#include "speech/asr/whisper/model.h"

namespace cadence::speech::whisper {

// Row-major [n_positions][n_audio_state].
struct EncoderOutput {
  int n_positions = 0;
  int width = 0;
  std::vector<float> data;
};

// `mel` must have the model's n_mels and at most 2 * n_audio_ctx frames (3000 for released
// models: pad with ComputeLogMel's pad_to_30s). n_positions = ceil(n_frames / 2).
Result<EncoderOutput> Encode(const Model& model, const LogMel& mel);

class Decoder {
 public:
  // `model` and `audio` must outlive the Decoder.
  Decoder(const Model& model, const EncoderOutput& audio);
  // Feeds one token at the next position; returns the logits [n_vocab] for the position after it.
  // OutOfRange once n_text_ctx tokens have been fed, InvalidArgument for an id outside the vocab.
  Result<std::vector<float>> Step(int token);
  int n_past() const { return n_past_; }

 private:
  const Model& model_;
  const EncoderOutput& audio_;
  int n_past_ = 0;
  std::vector<std::vector<float>> self_k_, self_v_;    // per layer [n_text_ctx][d]
  std::vector<std::vector<float>> cross_k_, cross_v_;  // per layer [n_positions][d], computed once
};

// <|startoftranscript|> <|lang|> <|transcribe|> <|notimestamps|>; InvalidArgument naming the
// language when the model has no token for it.
Result<std::vector<int>> TranscribePrompt(const Model& model, const std::string& language);

// Feeds `prompt`, then appends argmax tokens until <|endoftext|> (included), max_new_tokens or
// n_text_ctx. Returns prompt + generated ids.
Result<std::vector<int>> GreedyDecode(const Model& model, const EncoderOutput& audio, const std::vector<int>& prompt,
                                      int max_new_tokens);

}  // namespace cadence::speech::whisper
