// `cadence bench fidelity --base BASE.gguf --model QUANT.gguf [--text FILE] [--ctx 512] [--chunks N] [--batch N]`:
// how far a quantized model's next-token distributions are from its original's on a text, measured
// as llama.cpp's perplexity tool does (--kl-divergence-base / --kl-divergence), so the figures can
// be set side by side: the text is tokenized once (the base model's tokenizer, no BOS unless the
// model asks for one), cut into chunks of --ctx tokens, each chunk evaluated from an empty KV cache
// by both models, and every position of the chunk's second half but the last scored — its logits
// against the chunk's next token. Printed: mean KL(base || quant) ± its standard error, median,
// 99th percentile and maximum, how often both models' top token agrees, and each model's perplexity.
//
// Which kernels score the text can matter: a chunk appended in one call runs the prompt path
// (gemm.h: the integer GEMM for most quantized types, whose int8 activations are the dot kernels';
// the dequantizing GEMM with f32 activations for the others), decode steps the one-token dot
// kernels. `--batch N` appends each chunk N tokens at a time (1: the decode path) — same
// positions, same scores.
//
// `cadence bench fidelity --speed --model FILE [--prompt-tokens 32,128,512] [--decode-tokens 64]`:
// llama-bench's ppN / tgN on the same footing: ppN appends N random tokens to an empty sequence in
// one call (last token's logits only), tgN appends N random tokens one at a time from an empty
// sequence (each step's logits computed, none sampled); one warm-up run of each, then --repeat runs,
// each from a fresh sequence; median [range] tok/s.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/command.h"
#include "engine/models/qwen2_llama.h"
#include "engine/parallel.h"

namespace {

using namespace cadence::engine;
using Clock = std::chrono::steady_clock;

// The default text: English and Chinese prose of a voice assistant's kind (~235 tokens with Qwen2's
// vocabulary). Too short for --ctx 512: the chunk then shrinks to the text, with a note.
constexpr const char* kDefaultText =
    "A voice assistant has to listen, think and answer within the pause a person leaves in a "
    "conversation, which is rarely longer than a second. It hears the words while they are spoken, "
    "decides when the speaker has finished, and starts to reply before the whole answer is known. "
    "When the user interrupts, it stops at once and listens again. None of this works if the model "
    "behind it is slow, and little of it works if the model has been squeezed so hard that its answers "
    "drift away from what the full-precision model would have said.\n\n"
    "语音助手需要在对话的停顿之内听懂、思考并作出回答，而人们留下的停顿通常不超过一秒。它在用户说话的同时"
    "识别语音，判断对方何时说完，并在完整的回答生成之前就开始回应。如果用户打断，它会立刻停下来重新倾听。"
    "模型太慢，这一切都无法实现；模型被压缩得太厉害，回答又会偏离原始模型的意思。\n\n"
    "So we measure both: how fast the quantized model runs, and how close its predictions stay to the "
    "original's, token by token, in English and in Chinese alike. 我们同时测量速度和准确度。\n";

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// The `q` quantile of sorted values, interpolated between neighbours as llama.cpp's perplexity tool does.
double Quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0.0;
  const double p = q * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(p);
  return (1 - (p - i)) * sorted[i] + (p - i) * sorted[std::min(i + 1, sorted.size() - 1)];
}

// log-softmax of one position's logits, in double.
void LogSoftmax(const float* logits, int n, std::vector<double>* out) {
  out->resize(static_cast<size_t>(n));
  const double max = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(logits[i] - max);
  const double log_sum = max + std::log(sum);
  for (int i = 0; i < n; ++i) (*out)[static_cast<size_t>(i)] = logits[i] - log_sum;
}

cadence::Result<std::unique_ptr<Model>> LoadModel(const std::string& path, int threads) {
  LoadOptions options;
  options.threads = threads;
  return Model::Load(path, options);
}

std::vector<int> ParseInts(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoi(item));
  return out;
}

// Accumulated over every scored position.
struct Scores {
  std::vector<double> kl;
  double nll_base = 0, nll_quant = 0;
  double top_p_base = 0, entropy_base = 0;  // how peaked the base's distributions are
  int64_t same_top = 0;
};

int RunSpeed(const Model& model, const std::string& path, const std::vector<int>& prompt_lengths, int decode_tokens,
             int repeat) {
  const int n_vocab = model.config().n_vocab;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> id(0, n_vocab - 1);
  auto random_tokens = [&](int n) {
    std::vector<TokenId> tokens(static_cast<size_t>(n));
    for (TokenId& t : tokens) t = static_cast<TokenId>(id(rng));
    return tokens;
  };
  std::printf("model %s, %d threads, kernels %s, %d runs after one warm-up\n", path.c_str(), model.threads(),
              std::string(IsaName(model.isa())).c_str(), repeat);
  std::vector<float> logits;
  for (int n : prompt_lengths) {
    std::vector<double> rates;
    for (int run = 0; run <= repeat; ++run) {
      const std::vector<TokenId> prompt = random_tokens(n);
      Sequence seq(model, n + 1);
      const auto t0 = Clock::now();
      const auto status = seq.Append(prompt, &logits);
      const double s = Seconds(t0);
      if (!status.ok()) {
        std::fprintf(stderr, "error: pp%d: %s\n", n, status.ToString().c_str());
        return 1;
      }
      if (run > 0) rates.push_back(n / s);
    }
    std::printf("pp%-4d %8.1f tok/s [%.1f-%.1f]\n", n, Median(rates), *std::min_element(rates.begin(), rates.end()),
                *std::max_element(rates.begin(), rates.end()));
    std::fflush(stdout);
  }
  if (decode_tokens > 0) {
    std::vector<double> rates;
    for (int run = 0; run <= repeat; ++run) {
      const std::vector<TokenId> tokens = random_tokens(run == 0 ? 1 : decode_tokens);
      Sequence seq(model, decode_tokens + 1);
      const auto t0 = Clock::now();
      for (TokenId t : tokens) {
        const auto status = seq.Append({t}, &logits);
        if (!status.ok()) {
          std::fprintf(stderr, "error: tg%d: %s\n", decode_tokens, status.ToString().c_str());
          return 1;
        }
      }
      if (run > 0) rates.push_back(decode_tokens / Seconds(t0));
    }
    std::printf("tg%-4d %8.1f tok/s [%.1f-%.1f]\n", decode_tokens, Median(rates),
                *std::min_element(rates.begin(), rates.end()), *std::max_element(rates.begin(), rates.end()));
  }
  return 0;
}

int RunFidelityBench(int argc, char** argv) {
  cadence::cli::Flags flags(
      "cadence bench fidelity --base BASE.gguf --model QUANT.gguf [--text FILE] [--ctx 512] [--chunks N] [--batch N]\n"
      "       cadence bench fidelity --speed --model FILE [--prompt-tokens 32,128,512] [--decode-tokens 64]");
  flags.String("base", "FILE", "the reference model (e.g. the F16 file)");
  flags.String("model", "FILE", "the model measured against it (e.g. a quantized file of the same model)");
  flags.String("text", "FILE", "UTF-8 text to evaluate on (default: a short English and Chinese text built in)");
  flags.Int("ctx", "N", "tokens per chunk; the second half of each chunk is scored", 512, 4, 1 << 16);
  flags.Int("chunks", "N", "at most this many chunks (0: every whole chunk of the text)", 0, 0, 1 << 20);
  flags.Int("batch", "N",
            "tokens per Append call within a chunk (0: the whole chunk; 1: the decode path's kernels)",
            0, 0, 1 << 16);
  flags.Int("threads", "N", "compute threads (0: all cores)", 0, 0, 1024);
  flags.Switch("speed", "measure --model's prompt and decode speed instead (as llama-bench's ppN / tgN)");
  flags.String("prompt-tokens", "N,N", "--speed: prompt lengths", "32,128,512");
  flags.Int("decode-tokens", "N", "--speed: tokens decoded one at a time from an empty sequence (0: none)", 64, 0,
            1 << 16);
  flags.Int("repeat", "N", "--speed: measured runs of each test", 5, 1, 1000);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const int threads = flags.GetInt("threads") > 0 ? flags.GetInt("threads") : DefaultThreads();
  if (flags.Get("model").empty()) {
    std::fprintf(stderr, "error: --model is required\n%s", flags.Help().c_str());
    return 2;
  }

  if (flags.On("speed")) {
    std::vector<int> lengths;
    try {
      lengths = ParseInts(flags.Get("prompt-tokens"));
    } catch (const std::exception&) {
      lengths.clear();
    }
    if (lengths.empty() || std::any_of(lengths.begin(), lengths.end(), [](int n) { return n < 1; })) {
      std::fprintf(stderr, "error: --prompt-tokens: expected positive whole numbers separated by commas\n");
      return 2;
    }
    auto model = LoadModel(flags.Get("model"), threads);
    if (!model.ok()) {
      std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
      return 1;
    }
    return RunSpeed(**model, flags.Get("model"), lengths, flags.GetInt("decode-tokens"), flags.GetInt("repeat"));
  }

  if (flags.Get("base").empty()) {
    std::fprintf(stderr, "error: --base is required (or --speed)\n%s", flags.Help().c_str());
    return 2;
  }
  std::string text = kDefaultText;
  if (!flags.Get("text").empty()) {
    std::ifstream in(flags.Get("text"), std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: --text: cannot read %s\n", flags.Get("text").c_str());
      return 1;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  auto base = LoadModel(flags.Get("base"), threads);
  if (!base.ok()) {
    std::fprintf(stderr, "error: %s\n", base.status().ToString().c_str());
    return 1;
  }
  auto quant = LoadModel(flags.Get("model"), threads);
  if (!quant.ok()) {
    std::fprintf(stderr, "error: %s\n", quant.status().ToString().c_str());
    return 1;
  }
  const Tokenizer* tok = (*base)->tokenizer();
  if (!tok) {
    std::fprintf(stderr, "error: %s has no tokenizer (use GGUF files)\n", flags.Get("base").c_str());
    return 1;
  }
  const int n_vocab = (*base)->config().n_vocab;
  if ((*quant)->config().n_vocab != n_vocab) {
    std::fprintf(stderr, "error: the models' vocabularies differ (%d and %d tokens)\n", n_vocab,
                 (*quant)->config().n_vocab);
    return 1;
  }
  const std::vector<TokenId> tokens = tok->Encode(text, tok->add_bos(), false);
  int ctx = flags.GetInt("ctx");
  if (static_cast<int>(tokens.size()) < ctx) {
    const int shrunk = static_cast<int>(tokens.size()) & ~1;
    std::printf("note: the text has %zu tokens, fewer than --ctx %d: one chunk of %d\n", tokens.size(), ctx, shrunk);
    ctx = shrunk;
    if (ctx < 4) {
      std::fprintf(stderr, "error: the text is too short (%zu tokens)\n", tokens.size());
      return 1;
    }
  }
  int chunks = static_cast<int>(tokens.size()) / ctx;
  if (flags.GetInt("chunks") > 0) chunks = std::min(chunks, flags.GetInt("chunks"));
  const int first = ctx / 2;
  const int batch = flags.GetInt("batch") > 0 ? std::min(flags.GetInt("batch"), ctx) : ctx;
  std::printf("base %s\nmodel %s\ntext: %zu tokens; %d chunks of %d, positions %d-%d of each scored, appended %d "
              "at a time; %d threads, kernels %s\n",
              flags.Get("base").c_str(), flags.Get("model").c_str(), tokens.size(), chunks, ctx, first, ctx - 2, batch,
              threads, std::string(IsaName((*base)->isa())).c_str());
  std::fflush(stdout);

  Scores scores;
  std::vector<float> logits_base, logits_quant, piece_logits;
  std::vector<double> lp_base, lp_quant;
  double base_s = 0, quant_s = 0;
  for (int c = 0; c < chunks; ++c) {
    const std::vector<TokenId> chunk(tokens.begin() + static_cast<ptrdiff_t>(c) * ctx,
                                     tokens.begin() + static_cast<ptrdiff_t>(c + 1) * ctx);
    for (auto [model, logits, seconds] : {std::tuple{base->get(), &logits_base, &base_s},
                                          std::tuple{quant->get(), &logits_quant, &quant_s}}) {
      Sequence seq(*model, ctx);
      logits->clear();
      const auto t0 = Clock::now();
      for (int at = 0; at < ctx; at += batch) {
        const std::vector<TokenId> piece(chunk.begin() + at, chunk.begin() + std::min(ctx, at + batch));
        const auto status = seq.Append(piece, nullptr, nullptr, &piece_logits);
        if (!status.ok()) {
          std::fprintf(stderr, "error: chunk %d: %s\n", c, status.ToString().c_str());
          return 1;
        }
        logits->insert(logits->end(), piece_logits.begin(), piece_logits.end());
      }
      *seconds += Seconds(t0);
    }
    double chunk_kl = 0;
    for (int j = first; j < ctx - 1; ++j) {
      const float* b = logits_base.data() + static_cast<size_t>(j) * n_vocab;
      const float* q = logits_quant.data() + static_cast<size_t>(j) * n_vocab;
      LogSoftmax(b, n_vocab, &lp_base);
      LogSoftmax(q, n_vocab, &lp_quant);
      double kl = 0, entropy = 0;
      for (int i = 0; i < n_vocab; ++i) {
        const double p = std::exp(lp_base[i]);
        kl += p * (lp_base[i] - lp_quant[i]);
        entropy -= p * lp_base[i];
      }
      scores.entropy_base += entropy;
      scores.kl.push_back(kl);
      chunk_kl += kl;
      const TokenId next = chunk[static_cast<size_t>(j) + 1];
      scores.nll_base -= lp_base[static_cast<size_t>(next)];
      scores.nll_quant -= lp_quant[static_cast<size_t>(next)];
      const auto top_base = std::max_element(b, b + n_vocab) - b;
      scores.same_top += top_base == (std::max_element(q, q + n_vocab) - q);
      scores.top_p_base += std::exp(lp_base[static_cast<size_t>(top_base)]);
    }
    std::printf("chunk %d: mean KL %.6f\n", c, chunk_kl / (ctx - 1 - first));
    std::fflush(stdout);
  }

  const auto n = static_cast<double>(scores.kl.size());
  double sum = 0, sum2 = 0;
  for (double kl : scores.kl) {
    sum += kl;
    sum2 += kl * kl;
  }
  const double mean = sum / n;
  const double mean_err = n > 1 ? std::sqrt(std::max(0.0, sum2 / n - mean * mean) / (n - 1)) : 0.0;
  std::vector<double> sorted = scores.kl;
  std::sort(sorted.begin(), sorted.end());
  const double same = static_cast<double>(scores.same_top) / n;
  const double same_err = n > 1 ? std::sqrt(same * (1 - same) / (n - 1)) : 0.0;
  std::printf("\nscored positions       %d\n", static_cast<int>(n));
  std::printf("mean KL(base||model)   %.6f ± %.6f\n", mean, mean_err);
  std::printf("median KL              %.6f\n", Quantile(sorted, 0.5));
  std::printf("99th percentile KL     %.6f\n", Quantile(sorted, 0.99));
  std::printf("maximum KL             %.6f\n", sorted.back());
  std::printf("same top token         %.2f ± %.2f %%\n", 100 * same, 100 * same_err);
  std::printf("perplexity base        %.4f\n", std::exp(scores.nll_base / n));
  std::printf("perplexity model       %.4f\n", std::exp(scores.nll_quant / n));
  std::printf("base distributions     mean top probability %.3f, mean entropy %.2f nats\n", scores.top_p_base / n,
              scores.entropy_base / n);
  std::printf("evaluation speed       base %.1f tok/s, model %.1f tok/s\n", chunks * ctx / base_s,
              chunks * ctx / quant_s);
  return 0;
}

}  // namespace

CADENCE_BENCH(fidelity, "KL divergence and top-token agreement of a quantized model against its original; --speed: ppN/tgN",
              RunFidelityBench);
