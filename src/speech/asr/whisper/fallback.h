// openai-whisper's temperature fallback (transcribe.py, decode_with_fallback), the guard against
// Whisper's two failure modes on hard audio: repetition loops ("Thank you. Thank you. ...") and
// text it does not believe itself.
//
// A window is decoded at temperature 0 (greedy, or beam search). The result needs a retry when
// its text is too repetitive (zlib compression ratio over compression_ratio_threshold, 2.4) or
// too unlikely (avg_logprob under logprob_threshold, -1.0), unless the window is silence
// (no_speech_prob over no_speech_threshold with that low avg_logprob: the silence rule drops it
// anyway). A retry samples best_of sequences at temperature t, then 2t, ... up to 1.0 (t =
// temperature_increment, 0.2), and keeps the sample with the highest mean log-probability; the
// first result that needs no retry stands, else the last one. As openai-whisper: logits pass
// SuppressLogits, samples come from softmax(logits / T), log-probabilities are taken at T = 1,
// and the ranking divides a sample's summed log-probability by its length (<|endoftext|> excluded).
#pragma once

#include <cstdint>
#include <string_view>
#include <span>
#include <vector>

#include "core/status.h"
#include "speech/asr/whisper/transformer.h"

namespace cadence::speech::whisper {

// len(text) / len(zlib.compress(text)) over the UTF-8 bytes, at zlib's default level as Python's
// zlib.compress uses; 0 for empty text.
double CompressionRatio(std::string_view text);

// The index drawn from softmax(logits[0..n) / temperature) by a uniform u in [0, 1): the first
// whose cumulative probability exceeds u (-inf logits are never drawn). temperature > 0.
int SampleToken(const float* logits, int n, double temperature, double u);

struct SampleOptions {
  double temperature = 1.0;
  int best_of = 5;  // independent samples, decoded as one batch
  int max_new_tokens = 224;
  uint64_t seed = 0;  // the draws are a deterministic function of the seed
};

struct SampledSequence {
  std::vector<int> tokens;  // generated ids, <|endoftext|> excluded
  double sum_logprob = 0.0;  // log-probabilities at T = 1 of the ids and of <|endoftext|> when drawn
};

// Sampled decoding after `prompt` (the decoder is Reset() first). Returns prompt + the best sample
// + <|endoftext|>; `stats` describes the best sample, `samples` (when given) receives all of them.
Result<std::vector<int>> SampleDecode(Decoder* decoder, const std::vector<int>& prompt, const SampleOptions& options,
                                      DecodeStats* stats = nullptr, std::vector<SampledSequence>* samples = nullptr);

struct FallbackOptions {
  int beam_size = 1;  // the temperature-0 decode: 1 greedy, else beam search
  int max_new_tokens = 224;
  double temperature_increment = 0.2;  // <= 0: no retries
  int best_of = 5;
  double compression_ratio_threshold = 2.4;
  double logprob_threshold = -1.0;
  double no_speech_threshold = 0.6;
  uint64_t seed = 0;
  // Greedy's draft (GreedyDecode): tokens the text probably starts with; beam search and sampling
  // ignore it.
  std::span<const int> draft;
};

struct FallbackResult {
  std::vector<int> tokens;  // prompt + generated ids (+ <|endoftext|>)
  DecodeStats stats;
  double temperature = 0.0;  // of the decode that stands
  double compression_ratio = 0.0;
  int decodes = 0;  // 1 + retries
};

// Whether a decode needs a retry at a higher temperature (the rule above).
bool NeedsFallback(const DecodeStats& stats, double compression_ratio, const FallbackOptions& options);

Result<FallbackResult> DecodeWithFallback(Decoder* decoder, const std::vector<int>& prompt,
                                          const FallbackOptions& options);

}  // namespace cadence::speech::whisper
