// `cadence bench batch`: what continuous batching buys — one model decoding for N sessions at once.
// For each N, N sequences read prompts of their own, then decode together in batched passes
// (ForwardBatch: each pass reads the weights once for all N next tokens). Prints tokens per second
// per session and in all, and the speed-up over one session, with CPU seconds per token.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "engine/models/qwen2_llama.h"
#include "engine/parallel.h"

namespace cadence::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace cadence::engine;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct Level {
  int sessions = 0;
  double tokens_per_s = 0;  // in all
  double cpu_ms_per_token = 0;
};

Level Measure(const Model& model, int sessions, int prompt_tokens, int decode_tokens) {
  std::mt19937 rng(11 + sessions);
  std::uniform_int_distribution<int> id(0, model.config().n_vocab - 1);
  std::vector<std::unique_ptr<Sequence>> seqs;
  std::vector<std::vector<float>> logits(static_cast<size_t>(sessions));
  for (int s = 0; s < sessions; ++s) {
    seqs.push_back(std::make_unique<Sequence>(model, prompt_tokens + decode_tokens + 8));
    std::vector<TokenId> prompt(static_cast<size_t>(prompt_tokens));
    for (auto& t : prompt) t = id(rng);
    (void)seqs.back()->Append(prompt, &logits[static_cast<size_t>(s)]);
  }
  const double cpu0 = CpuSeconds();
  const auto t0 = Clock::now();
  for (int step = 0; step < decode_tokens; ++step) {
    std::vector<BatchEntry> batch;
    for (int s = 0; s < sessions; ++s) {
      auto& l = logits[static_cast<size_t>(s)];
      const TokenId next = static_cast<TokenId>(std::max_element(l.begin(), l.end()) - l.begin());
      batch.push_back({seqs[static_cast<size_t>(s)].get(), {next}, &l});
    }
    if (Status st = ForwardBatch(batch); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
      return {};
    }
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double tokens = static_cast<double>(sessions) * decode_tokens;
  return {sessions, tokens / wall, 1000.0 * (CpuSeconds() - cpu0) / tokens};
}

int RunBatchBench(int argc, char** argv) {
  cadence::cli::Flags flags("cadence bench batch --model FILE [--sessions 1,2,4,8]");
  flags.String("model", "FILE", "a GGUF model (tools/engine/make_shaped_gguf.py writes real-shaped random ones)");
  flags.String("sessions", "LIST", "sessions decoding together, comma-separated", "1,2,4,8");
  flags.Int("prompt-tokens", "N", "each session's prompt before decoding (its context)", 128, 1, 1 << 16);
  flags.Int("decode-tokens", "N", "tokens each session decodes", 48, 1, 1 << 16);
  flags.Int("threads", "N", "compute threads (0: all cores)", 0, 0, 1024);
  flags.Int("repeat", "N", "runs per level (the median is printed, with the range)", 3, 1, 100);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.Get("model").empty()) {
    std::fprintf(stderr, "error: --model FILE is required\n");
    return 2;
  }
  LoadOptions load;
  load.threads = flags.GetInt("threads");
  std::printf("loading %s ...\n", flags.Get("model").c_str());
  auto model = Model::Load(flags.Get("model"), load);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
    return 1;
  }
  std::printf("batched decode: %d threads, %s, prompt %d tokens, %d decoded per session, median of %d runs\n",
              (*model)->threads(), std::string(IsaName((*model)->isa())).c_str(), flags.GetInt("prompt-tokens"),
              flags.GetInt("decode-tokens"), flags.GetInt("repeat"));
  std::printf("  %8s %14s %18s %12s %16s\n", "sessions", "tok/s in all", "tok/s per session", "vs 1 session",
              "CPU ms per token");
  double single = 0;
  std::stringstream list(flags.Get("sessions"));
  std::string item;
  while (std::getline(list, item, ',')) {
    const int n = std::atoi(item.c_str());
    if (n <= 0) continue;
    std::vector<Level> runs;
    for (int r = 0; r < flags.GetInt("repeat"); ++r)
      runs.push_back(Measure(**model, n, flags.GetInt("prompt-tokens"), flags.GetInt("decode-tokens")));
    std::sort(runs.begin(), runs.end(), [](const Level& a, const Level& b) { return a.tokens_per_s < b.tokens_per_s; });
    const Level& mid = runs[runs.size() / 2];
    if (n == 1 || single == 0) single = mid.tokens_per_s / n;
    std::printf("  %8d %8.1f [%.1f-%.1f] %12.1f %11.2fx %14.1f\n", n, mid.tokens_per_s, runs.front().tokens_per_s,
                runs.back().tokens_per_s, mid.tokens_per_s / n, mid.tokens_per_s / single, mid.cpu_ms_per_token);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

CADENCE_BENCH(batch, "batched decode: tokens/s per session and in all at 1..N sessions on one model", RunBatchBench);

}  // namespace cadence::bench
