// `cadence bench token2wav --model DIR`: how fast the engine turns speech tokens into audio with a
// token2wav folder (flow.yaml, flow.pt, hift.pt): the flow and HiFT on a whole utterance (real-time
// factor = compute seconds per second of audio), and the streamed decode as the server runs it —
// the prompt's set-up, the first chunk's latency (tokens in to first audio out) and the real-time
// factor over the whole stream. Random weights in the published shapes come from
// `tools/engine/token2wav/make_tiny_token2wav.py --published-shape DIR` (the timing is what matters;
// the audio is noise).
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "cli/command.h"
#include "engine/models/token2wav.h"
#include "engine/parallel.h"
#include "token2wav_timing.h"

namespace cadence::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace cadence::engine;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int RunToken2WavBench(int argc, char** argv) {
  cli::Flags flags("cadence bench token2wav --model DIR [--seconds S] [--threads N] [--chunk TOKENS] [--steps N]");
  flags.String("model", "DIR", "a token2wav folder: flow.yaml, flow.pt, hift.pt");
  flags.Double("seconds", "S", "seconds of audio to make", 10.0, 0.5, 600.0);
  flags.Double("prompt-seconds", "S", "seconds of voice prompt", 3.0, 0.2, 30.0);
  flags.Int("threads", "N", "compute threads", 2, 1, 256);
  flags.Int("chunk", "TOKENS", "tokens per streamed chunk (25 = 1 s)", 25, 1, 1000);
  flags.Int("steps", "N", "Euler steps of the flow (published: 10)", 10, 1, 100);
  flags.Int("runs", "N", "repetitions; the fastest is reported", 2, 1, 100);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.Get("model").empty()) {
    std::fprintf(stderr, "error: --model DIR is required (random published-shape weights: /usr/bin/python3 "
                         "tools/engine/token2wav/make_tiny_token2wav.py --published-shape DIR)\n");
    return 2;
  }
  Token2Wav::Options options;
  options.n_timesteps = flags.GetInt("steps");
  std::fprintf(stderr, "loading %s ...\n", flags.Get("model").c_str());
  const auto t_load = Clock::now();
  auto model = Token2Wav::Load(flags.Get("model"), options);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "loaded in %.1f s\n", Since(t_load));
  const Token2Wav& t2w = **model;
  const int threads = flags.GetInt("threads");
  WorkerTeam team(threads);
  std::mt19937 rng(3);
  const VoicePrompt prompt = RandomVoicePrompt(t2w, flags.GetDouble("prompt-seconds"), rng);
  const std::vector<int32_t> tokens = RandomSpeechTokens(t2w, static_cast<size_t>(flags.GetDouble("seconds") * 25), rng);
  const double audio_s = static_cast<double>(tokens.size()) / 25.0;

  double mel_s = 1e30, whole_s = 1e30, setup_s = 1e30, first_s = 1e30, stream_s = 1e30;
  const int chunk = flags.GetInt("chunk");
  for (int run = 0; run < flags.GetInt("runs"); ++run) {
    auto t0 = Clock::now();
    auto mel = t2w.Mel(tokens, prompt, &team);
    if (!mel.ok()) {
      std::fprintf(stderr, "error: %s\n", mel.status().ToString().c_str());
      return 1;
    }
    mel_s = std::min(mel_s, Since(t0));
    std::mt19937_64 noise(1);
    t0 = Clock::now();
    auto audio = t2w.Synthesize(tokens, prompt, noise, &team);
    if (!audio.ok()) {
      std::fprintf(stderr, "error: %s\n", audio.status().ToString().c_str());
      return 1;
    }
    whole_s = std::min(whole_s, Since(t0));

    auto timing = TimeStream(t2w, prompt, tokens, chunk, &team);
    if (!timing.ok()) {
      std::fprintf(stderr, "error: %s\n", timing.status().ToString().c_str());
      return 1;
    }
    setup_s = std::min(setup_s, timing->setup_s);
    first_s = std::min(first_s, timing->first_s);
    stream_s = std::min(stream_s, timing->stream_s);
  }
  std::printf("token2wav %s: %.1f s of audio, %.1f s prompt, %d Euler steps, %d thread(s), chunk %d tokens\n",
              flags.Get("model").c_str(), audio_s, flags.GetDouble("prompt-seconds"), flags.GetInt("steps"), threads,
              chunk);
  std::printf("  whole: flow %.2f s (RTF %.2f), HiFT %.2f s (RTF %.2f), flow + HiFT RTF %.2f\n", mel_s,
              mel_s / audio_s, whole_s - mel_s, (whole_s - mel_s) / audio_s, whole_s / audio_s);
  std::printf("  stream: prompt set-up %.0f ms, first chunk %.0f ms (%.2f s of audio), RTF %.2f\n", setup_s * 1e3,
              first_s * 1e3, chunk / 25.0, stream_s / audio_s);
  return 0;
}

}  // namespace

CADENCE_BENCH(token2wav, "token2wav (flow + HiFT): real-time factor, first-chunk latency", RunToken2WavBench);

}  // namespace cadence::bench
