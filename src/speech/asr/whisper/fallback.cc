#include "speech/asr/whisper/fallback.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace cadence::speech::whisper {
namespace {

// openai-whisper takes the ratio on the decoded text stripped of surrounding whitespace.
std::string_view Strip(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// A uniform double in [0, 1) from the top 53 bits of one draw.
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace

double CompressionRatio(std::string_view text) {
  if (text.empty()) return 0.0;
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(text.data()),
                static_cast<uLong>(text.size()), Z_DEFAULT_COMPRESSION) != Z_OK ||
      size == 0) {
    return 0.0;
  }
  return static_cast<double>(text.size()) / static_cast<double>(size);
}

int SampleToken(const float* logits, int n, double temperature, double u) {
  const float max_l = *std::max_element(logits, logits + n);
  // Each token's weight is computed once (a Whisper vocabulary is 51865 exponentials per draw).
  thread_local std::vector<double> weight;
  weight.resize(static_cast<size_t>(n));
  double total = 0.0;
  for (int i = 0; i < n; ++i) total += weight[i] = std::exp((static_cast<double>(logits[i]) - max_l) / temperature);
  const double target = u * total;
  double cumulative = 0.0;
  int last = 0;
  for (int i = 0; i < n; ++i) {
    if (std::isinf(logits[i]) && logits[i] < 0) continue;
    cumulative += weight[i];
    last = i;
    if (cumulative > target) return i;
  }
  return last;  // rounding left u * total past the sum
}

Result<std::vector<int>> SampleDecode(Decoder* decoder_ptr, const std::vector<int>& prompt, const SampleOptions& options,
                                      DecodeStats* stats, std::vector<SampledSequence>* samples) {
  if (prompt.empty()) return Status::InvalidArgument("whisper sampling: the prompt is empty");
  if (!(options.temperature > 0.0) || options.best_of < 1) {
    return Status::InvalidArgument("whisper sampling: temperature " + std::to_string(options.temperature) +
                                   " and best_of " + std::to_string(options.best_of) + " (use > 0 and >= 1)");
  }
  Decoder& decoder = *decoder_ptr;
  const Model& model = decoder.model();
  const int n_vocab = model.hparams.n_vocab;
  const int eot = model.specials.end_of_text;
  decoder.Reset();
  std::vector<float> logits, sot_logits;
  if (Status s = FeedPrompt(decoder, prompt, &logits, stats ? &sot_logits : nullptr); !s.ok()) return s;
  // best_of copies of the prompt's state, decoded as one batch; finished samples leave the batch.
  const int n = options.best_of;
  if (Status s = decoder.Reorder(std::vector<int>(n, 0)); !s.ok()) return s;
  std::vector<float> batch(static_cast<size_t>(n) * n_vocab);
  for (int j = 0; j < n; ++j) std::copy(logits.begin(), logits.end(), batch.begin() + static_cast<size_t>(j) * n_vocab);
  std::vector<SampledSequence> seqs(n);
  std::vector<int> live(n);  // the sample each decoder sequence belongs to
  std::iota(live.begin(), live.end(), 0);
  std::mt19937_64 rng(options.seed);
  for (int step = 0; step < options.max_new_tokens && !live.empty() && decoder.n_past() < model.hparams.n_text_ctx;
       ++step) {
    std::vector<int> keep, next_tokens, next_live;
    for (int j = 0; j < static_cast<int>(live.size()); ++j) {
      float* l = batch.data() + static_cast<size_t>(j) * n_vocab;
      SuppressLogits(model, step == 0, l);
      const int token = SampleToken(l, n_vocab, options.temperature, Uniform(rng));
      SampledSequence& s = seqs[live[j]];
      s.sum_logprob += static_cast<double>(l[token]) - LogSumExp(l, n_vocab);
      if (token == eot) continue;
      s.tokens.push_back(token);
      keep.push_back(j);
      next_tokens.push_back(token);
      next_live.push_back(live[j]);
    }
    if (next_live.empty()) break;
    if (next_live.size() != live.size()) {
      if (Status s = decoder.Reorder(keep); !s.ok()) return s;
    }
    live.swap(next_live);
    if (Status s = decoder.StepBatch(next_tokens, &batch); !s.ok()) return s;
  }
  // MaximumLikelihoodRanker, length_penalty None: summed log-probability / length.
  int best = 0;
  double best_score = -INFINITY;
  for (int i = 0; i < n; ++i) {
    const double score = seqs[i].sum_logprob / static_cast<double>(std::max<size_t>(1, seqs[i].tokens.size()));
    if (score > best_score) best_score = score, best = i;
  }
  std::vector<int> tokens = prompt;
  tokens.insert(tokens.end(), seqs[best].tokens.begin(), seqs[best].tokens.end());
  tokens.push_back(eot);
  if (stats) {
    *stats = {NoSpeechProb(model, sot_logits),
              seqs[best].sum_logprob / static_cast<double>(seqs[best].tokens.size() + 1)};
  }
  if (samples) *samples = std::move(seqs);
  return tokens;
}

bool NeedsFallback(const DecodeStats& stats, double compression_ratio, const FallbackOptions& options) {
  const bool unlikely = stats.avg_logprob < options.logprob_threshold;
  if (stats.no_speech_prob > options.no_speech_threshold && unlikely) return false;  // silence
  return compression_ratio > options.compression_ratio_threshold || unlikely;
}

Result<FallbackResult> DecodeWithFallback(Decoder* decoder, const std::vector<int>& prompt,
                                          const FallbackOptions& options) {
  const Model& model = decoder->model();
  FallbackResult result;
  for (int attempt = 0;; ++attempt) {
    // openai-whisper's temperatures: 0, increment, 2 x increment, ... up to 1.0.
    const double temperature = attempt * options.temperature_increment;
    DecodeStats stats;
    Result<std::vector<int>> ids =
        temperature == 0.0
            ? (options.beam_size > 1
                   ? BeamSearchDecode(decoder, prompt, {options.beam_size, options.max_new_tokens}, &stats)
                   : GreedyDecode(decoder, prompt, options.max_new_tokens, &stats, options.draft))
            : SampleDecode(decoder, prompt,
                           {temperature, options.best_of, options.max_new_tokens,
                            options.seed + static_cast<uint64_t>(attempt)},
                           &stats);
    if (!ids.ok()) return ids.status();
    result.tokens = std::move(ids).value();
    result.stats = stats;
    result.temperature = temperature;
    result.decodes = attempt + 1;
    const std::string text =
        DecodeText(model, std::vector<int>(result.tokens.begin() + static_cast<long>(prompt.size()), result.tokens.end()));
    result.compression_ratio = CompressionRatio(Strip(text));
    const double next = (attempt + 1) * options.temperature_increment;
    if (options.temperature_increment <= 0.0 || next > 1.0 + 1e-6 ||
        !NeedsFallback(stats, result.compression_ratio, options)) {
      return result;
    }
  }
}

}  // namespace cadence::speech::whisper
