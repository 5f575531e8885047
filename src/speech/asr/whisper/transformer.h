// Whisper's forward pass on a loaded Model: encoder (conv stem with GELU, sinusoidal positions,
// pre-norm blocks), decoder with a self-attention KV cache and cross-attention over the encoder
// output, language detection, and greedy and beam-search decoding after the special-token prompt.
//
// Activations are float32. Products over many positions (the encoder's window, the cross-attention
// keys and values, a prompt) run on the engine's GEMM (engine/gemm.h), the encoder's attention on
// engine::FullAttention and its GELUs on engine::Gelu (the encoder block is engine/nn/whisper_block.h,
// shared with Step-Audio 2's audio encoder); a decoder step's few rows run on the dot
// kernels (engine/kernels.h) and attend on engine/attention.h's direct decode path, row by row.
// Any stored weight type works (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K); the work spreads over an
// optional engine::WorkerTeam (nullptr: the caller's thread only). A team runs
// one loop at a time, so calls sharing a team must be serialized by its owner. Encode(),
// DetectLanguage(), GreedyDecode() and BeamSearchDecode() are const on the Model; a Decoder is one
// utterance's state and is not thread-safe.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/parallel.h"
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
Result<EncoderOutput> Encode(const Model& model, const LogMel& mel, engine::WorkerTeam* team = nullptr);

// n_seq() parallel token sequences (beams) over one utterance's audio. All sequences advance
// together; each has its own self-attention cache, the cross-attention keys/values are shared.
class Decoder {
 public:
  // `model`, `audio` and `team` must outlive the Decoder. Starts with one sequence.
  Decoder(const Model& model, const EncoderOutput& audio, engine::WorkerTeam* team = nullptr);
  // One sequence: feeds `token` at the next position; returns the logits [n_vocab] after it.
  Result<std::vector<float>> Step(int token);
  // Feeds tokens[i] to sequence i (tokens.size() == n_seq()); fills `logits` with [n_seq][n_vocab]
  // unless it is nullptr (prompt tokens whose prediction nobody reads). OutOfRange once n_text_ctx
  // tokens have been fed, InvalidArgument for an id outside the vocabulary.
  Status StepBatch(std::span<const int> tokens, std::vector<float>* logits);
  // One sequence: feeds all `tokens` at the next positions in one pass (a prompt; each attends to
  // the ones before it) and fills `logits` with [logit_rows.size()][n_vocab], the predictions after
  // tokens[logit_rows[i]]. Equal to feeding them one by one with Step(), at the cost of ~one step.
  Status Feed(std::span<const int> tokens, std::span<const int> logit_rows, std::vector<float>* logits);
  // Forgets every position from `n_past` on (no-op past the current one): the next token is fed
  // at `n_past`. Speculative decoding's rewind after a rejected draft.
  void Truncate(int n_past);
  // Sequence i becomes a copy of the current sequence sources[i]; the count may grow or shrink.
  Status Reorder(std::span<const int> sources);
  // Back to one empty sequence over the same audio, keeping the cross-attention keys/values
  // (language detection, then decoding, pay for them once).
  void Reset();
  int n_seq() const { return n_seq_; }
  const Model& model() const { return model_; }
  int n_past() const { return n_past_; }
  // Forward passes run since construction (StepBatch, Feed, Step): what speculative decoding saves.
  int64_t passes() const { return passes_; }

 private:
  Status Forward(std::span<const int> tokens, int positions, std::vector<float>* logits,
                 std::span<const int> logit_rows);

  const Model& model_;
  const EncoderOutput& audio_;
  engine::WorkerTeam* team_;
  int n_seq_ = 1;
  int n_past_ = 0;
  int64_t passes_ = 0;
  std::vector<std::vector<float>> self_k_, self_v_;   // per layer [n_seq][n_text_ctx][d]
  std::vector<std::vector<float>> cross_k_;           // per layer [n_positions][d], scaled
  std::vector<std::vector<float>> cross_v_;           // per layer [n_positions][d]
};

// <|startoftranscript|> <|lang|> <|transcribe|> <|notimestamps|>; InvalidArgument naming the
// language when the model has no token for it.
Result<std::vector<int>> TranscribePrompt(const Model& model, const std::string& language);

// Whisper's language identification: the logits after <|startoftranscript|> restricted to the
// language tokens the model has; `language` is the argmax's code, `probability` its softmax share.
struct LanguageGuess {
  std::string language;
  double probability = 0.0;
  std::vector<std::pair<std::string, double>> probabilities;  // every language, most likely first
};
Result<LanguageGuess> DetectLanguage(const Model& model, const EncoderOutput& audio, engine::WorkerTeam* team = nullptr);
// The same on a caller's Decoder (Reset() first); leaves it holding <|startoftranscript|>.
Result<LanguageGuess> DetectLanguage(Decoder* decoder);

// openai-whisper's logit filters for decoding without timestamps, applied to one position's logits
// (n_vocab floats) before the choice: SuppressTokens sets to -inf every token after <|endoftext|>
// (start, language, task, no-speech, no-timestamps and timestamp tokens: none is text) and the
// model's generation_config "suppress_tokens"; SuppressBlank, at the first generated position
// (`first`), also " " and <|endoftext|> (or the config's "begin_suppress_tokens").
void SuppressLogits(const Model& model, bool first, float* logits);

// openai-whisper's figures of a decoding result: the probability of <|nospeech|> at the
// <|startoftranscript|> position (unfiltered logits), and the generated tokens' log-probabilities
// (under the filtered logits, <|endoftext|> included) summed and divided by the text tokens + 1.
struct DecodeStats {
  double no_speech_prob = 0.0;
  double avg_logprob = 0.0;
};
// openai-whisper's silence rule: no speech when <|nospeech|> is likely (> no_speech_threshold,
// 0.6 there) and the text is not confidently decoded (avg_logprob <= logprob_threshold, -1.0).
bool IsNoSpeech(const DecodeStats& stats, double no_speech_threshold, double logprob_threshold);

// Pieces every decoding strategy shares (greedy and beam here, sampling in fallback.h):
// log(sum(exp(l))) over one position's logits (-inf entries count zero);
double LogSumExp(const float* logits, int n);
// feeds the prompt to a Reset() decoder: `logits` gets the last position's, `sot_logits` (when not
// null) the first's, <|startoftranscript|>'s, where <|nospeech|> is read;
Status FeedPrompt(Decoder& decoder, const std::vector<int>& prompt, std::vector<float>* logits,
                  std::vector<float>* sot_logits);
// the probability of <|nospeech|> in those logits (0 when the model has no such token).
double NoSpeechProb(const Model& model, const std::vector<float>& sot_logits);

// Feeds `prompt`, then appends argmax tokens (after SuppressLogits) until <|endoftext|> (included),
// max_new_tokens or n_text_ctx. Returns prompt + generated ids; fills `stats` when given.
Result<std::vector<int>> GreedyDecode(const Model& model, const EncoderOutput& audio, const std::vector<int>& prompt,
                                      int max_new_tokens, engine::WorkerTeam* team = nullptr);
// The decoding functions on a caller's Decoder, which they Reset() first.
// `draft`: tokens the text probably starts with (a partial transcript's), verified rather than
// generated: the prompt and the draft go through the decoder in one pass, and every draft token
// the argmax agrees with is taken from that pass without a step of its own; at the first
// disagreement the decoder rewinds and continues one token per step. The result is greedy
// decoding's whatever the draft (to float rounding: the one pass sums in another order).
Result<std::vector<int>> GreedyDecode(Decoder* decoder, const std::vector<int>& prompt, int max_new_tokens,
                                      DecodeStats* stats = nullptr, std::span<const int> draft = {});

// openai-whisper's BeamSearchDecoder with patience 1 and MaximumLikelihoodRanker(length_penalty=None):
// each step expands every live beam by its beam_size + 1 best log-probabilities, keeps the
// beam_size best unfinished sequences and collects finished ones until beam_size are finished (or
// max_new_tokens / n_text_ctx is reached, when the live beams are finished with <|endoftext|>);
// the result is the finished sequence with the highest sum log-probability / length (tokens after
// the prompt, <|endoftext|> excluded). Logits pass SuppressLogits first, as in GreedyDecode. Returns
// prompt + chosen ids + <|endoftext|>.
struct BeamOptions {
  int beam_size = 5;
  int max_new_tokens = 224;
};
Result<std::vector<int>> BeamSearchDecode(const Model& model, const EncoderOutput& audio, const std::vector<int>& prompt,
                                          const BeamOptions& options, engine::WorkerTeam* team = nullptr);
// `stats` (when given) describes the chosen sequence.
Result<std::vector<int>> BeamSearchDecode(Decoder* decoder, const std::vector<int>& prompt, const BeamOptions& options,
                                          DecodeStats* stats = nullptr);

}  // namespace cadence::speech::whisper
