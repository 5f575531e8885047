// Sampler: picks the next token from logits — repetition penalty, temperature, top-k, top-p, and a
// seeded RNG so runs repeat exactly. temperature <= 0 is greedy (argmax, lowest id on ties).
//
// One Sampler per generation; not thread-safe (it owns its RNG).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "engine/text/tokenizer.h"

namespace cadence::engine {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;               // 0: no limit
  float top_p = 0.95f;          // 1: no limit
  float repetition_penalty = 1.0f;  // 1: off; llama.cpp semantics (divide positive, multiply negative)
  int repetition_window = 64;   // tokens of history the penalty looks at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}
  // `logits` is modified in place (penalty applied). `history`: tokens so far (prompt + output).
  TokenId Sample(std::vector<float>& logits, const std::vector<TokenId>& history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
};

}  // namespace cadence::engine
