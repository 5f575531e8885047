// CosyVoiceLm: CosyVoice 2's speech-token language model (Qwen2LM in CosyVoice's llm.py) — text
// tokens in, speech tokens (the 25 Hz, 6561-entry vocabulary token2wav turns into audio) out.
//
// Loaded from a published CosyVoice2 folder: `llm.pt` (a torch.save state dict: the Qwen2 body
// under llm.model.model.*, llm_embedding [2, E] = sos/eos and task_id, speech_embedding [S + 3, E],
// llm_decoder [S + 3, E] + bias; S = 6561) and `CosyVoice-BlankEN/` (config.json and the Hugging Face
// tokenizer files; CosyVoice's special tags are added in code, in CosyVoice2Tokenizer's order).
//
// The body runs on the engine's Qwen2 forward pass (Model, Sequence, KV cache) with one input
// vocabulary [text rows | S + 3 speech rows | sos/eos | task_id] and llm_decoder (with its bias) as
// the output matrix, so every input is an ordinary token id and the logits are the S + 3 speech
// outputs. Generation follows Qwen2LM.inference: the prompt [sos/eos, prompt text + text, task_id,
// prompt speech tokens]; eos (S) masked for the first text_len * min_ratio steps; at most
// text_len * max_ratio tokens; any output >= S stops; the next input is the chosen speech token.
//
// Text normalisation of CosyVoice's frontend (wetext / ttsfrd, number spelling, paragraph
// splitting, Chinese punctuation rewrites) is not done here: EncodeText tokenizes the text as given.
//
// Immutable after Load; Generate is const and may run on many threads at once (each call owns its
// Sequence; the Model serializes forward passes).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "engine/models/qwen2_llama.h"
#include "engine/text/tokenizer.h"

namespace cadence::engine {

// CosyVoice2Tokenizer's added special tokens, in the order that decides their ids.
const std::vector<std::string>& CosyVoice2SpecialTokens();

// Sampling as published (cosyvoice2.yaml: ras_sampling top_p 0.8, top_k 25, win_size 10,
// tau_r 0.1; min/max token-text ratios 2 and 20), or greedy (argmax; for tests).
struct CosyVoiceSampling {
  bool greedy = false;
  int top_k = 25;
  double top_p = 0.8;
  int window = 10;     // repetition-aware window, in decoded speech tokens
  double tau_r = 0.1;  // a candidate seen >= window * tau_r times in the window is redrawn
  double min_token_text_ratio = 2.0, max_token_text_ratio = 20.0;

  Status Validate() const;
  std::string ToString() const;
};

// One ras_sampling draw (CosyVoice's utils/common.py): nucleus sampling over the softmax of
// `logits` (candidates in descending probability, taken while their running sum is below top_p and
// fewer than top_k are taken), and if the drawn token occurs >= window * tau_r times among the last
// `window` of `decoded`, a redraw from the whole softmax with that token excluded. `logits` is
// modified (the excluded token set to -inf).
int RasSample(std::span<float> logits, const std::vector<int>& decoded, const CosyVoiceSampling& sampling,
              std::mt19937_64& rng);

class CosyVoiceLm {
 public:
  // `dir`: a CosyVoice2 folder (llm.pt + CosyVoice-BlankEN/). Errors name the missing file, tensor
  // or key, or the shape at fault.
  static Result<std::unique_ptr<CosyVoiceLm>> Load(const std::string& dir, const LoadOptions& options = {});

  // Called with each speech token as it is decoded (streaming into token2wav); return false to
  // stop generating (the tokens so far are returned).
  using TokenCallback = std::function<bool(int speech_token)>;

  // Speech tokens for `text_ids` spoken in the voice of the prompt (`prompt_text_ids` and its
  // `prompt_speech_tokens`, both may be empty). `seed` seeds the sampler (ignored when greedy).
  // `first_logits` (optional) receives the first step's S + 3 logits (before eos masking).
  // InvalidArgument for an id outside the text vocabulary or a speech token outside [0, S).
  Result<std::vector<int>> Generate(const std::vector<TokenId>& text_ids, const std::vector<TokenId>& prompt_text_ids,
                                    const std::vector<int>& prompt_speech_tokens, const CosyVoiceSampling& sampling,
                                    uint64_t seed, const TokenCallback& on_token = {},
                                    const CancelToken* cancel = nullptr,
                                    std::vector<float>* first_logits = nullptr) const;

  // The text as CosyVoice 2's tokenizer encodes it: added special tags split out, then byte-level
  // BPE (no text normalisation; see above).
  std::vector<TokenId> EncodeText(std::string_view text) const { return tokenizer_->Encode(text, false, true); }

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const Model& model() const { return *model_; }
  int speech_token_size() const { return speech_token_size_; }  // S; eos = S
  int text_vocab() const { return text_vocab_; }

 private:
  CosyVoiceLm() = default;

  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  int speech_token_size_ = 0;
  int text_vocab_ = 0;
  TokenId speech_base_ = 0;    // input id of speech token 0
  TokenId sos_id_ = 0, task_id_ = 0;
};

}  // namespace cadence::engine
