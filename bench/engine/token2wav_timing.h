// Shared by `cadence bench token2wav` and `cadence bench step-audio-2`: a random voice prompt and
// speech tokens for a loaded Token2Wav, and the timing of one streamed decode as the server runs
// it — the prompt's set-up (Start), the first chunk (the first Push of `chunk` tokens plus the
// look-ahead: speech tokens in, first audio out) and the whole stream.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/status.h"
#include "engine/models/token2wav.h"
#include "engine/parallel.h"

namespace cadence::bench {

// A `seconds`-long voice prompt of random tokens, mel and speaker embedding.
inline engine::VoicePrompt RandomVoicePrompt(const engine::Token2Wav& t2w, double seconds, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> id(0, t2w.config().encoder.vocab_size - 1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  engine::VoicePrompt prompt;
  prompt.tokens.resize(static_cast<size_t>(seconds * 25));
  for (auto& t : prompt.tokens) t = id(rng);
  prompt.mel.resize(static_cast<size_t>(prompt.frames() * t2w.config().mel_dim));
  for (auto& v : prompt.mel) v = -5.0f + 2.0f * normal(rng);
  prompt.speaker_embedding.resize(static_cast<size_t>(t2w.config().spk_embed_dim));
  for (auto& v : prompt.speaker_embedding) v = normal(rng);
  return prompt;
}

// `n` random speech tokens.
inline std::vector<int32_t> RandomSpeechTokens(const engine::Token2Wav& t2w, size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> id(0, t2w.config().encoder.vocab_size - 1);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = id(rng);
  return tokens;
}

struct StreamTiming {
  double setup_s = 0;   // Start: the prompt through the encoder's and the estimator's caches
  double first_s = 0;   // the first Push (chunk + look-ahead tokens): first audio out
  double stream_s = 0;  // every Push and the Finish, set-up excluded
};

// One streamed decode of `tokens` in chunks of `chunk` (each Push carries the encoder's
// pre_lookahead_len tokens that follow it). `first_only`: stop after the first chunk (stream_s is
// then that chunk's time). Needs tokens.size() >= chunk + look-ahead.
inline Result<StreamTiming> TimeStream(const engine::Token2Wav& t2w, const engine::VoicePrompt& prompt,
                                       std::span<const int32_t> tokens, int chunk, engine::WorkerTeam* team,
                                       bool first_only = false) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  const size_t look = static_cast<size_t>(t2w.config().encoder.pre_lookahead_len);
  if (tokens.size() < static_cast<size_t>(chunk) + look)
    return Status::InvalidArgument("token2wav timing: fewer tokens than one chunk and its look-ahead");
  StreamTiming timing;
  auto t0 = Clock::now();
  auto stream = t2w.Start(prompt, 1, team);
  if (!stream.ok()) return stream.status();
  timing.setup_s = since(t0);
  t0 = Clock::now();
  size_t start = 0;
  bool first = true;
  while (start + static_cast<size_t>(chunk) + look <= tokens.size()) {
    const auto c0 = Clock::now();
    auto out = (*stream)->Push(tokens.subspan(start, static_cast<size_t>(chunk) + look), team);
    if (!out.ok()) return out.status();
    if (first) timing.first_s = since(c0);
    first = false;
    start += static_cast<size_t>(chunk);
    if (first_only) {
      timing.stream_s = since(t0);
      return timing;
    }
  }
  auto tail = (*stream)->Finish(tokens.subspan(start), team);
  if (!tail.ok()) return tail.status();
  timing.stream_s = since(t0);
  return timing;
}

}  // namespace cadence::bench
