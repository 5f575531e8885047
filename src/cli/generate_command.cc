// `cadence generate --model FILE --prompt TEXT [--raw] [--temp 0] [-n N] [--seed S] [--tokens]`:
// streams a model's completion to stdout — how a user tries a model, and how others check ours
// token for token (`--temp 0 --tokens`).
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "cli/command.h"
#include "engine/generate/generator.h"
#include "engine/models/qwen2_llama.h"
#include "engine/text/chat_template.h"

namespace {

using namespace cadence::engine;

int RunGenerate(int argc, char** argv) {
  cadence::cli::Flags flags(
      "cadence generate --model FILE --prompt TEXT [--raw] [--temp 0] [-n N] [--seed S] [--tokens]");
  flags.String("model", "FILE", "model: .gguf, .safetensors (config.json beside it), or a directory holding both");
  flags.String("prompt", "TEXT", "the prompt (a user message, unless --raw)");
  flags.String("system", "TEXT", "system message for the chat template");
  flags.String("tokenizer", "FILE", "a GGUF whose tokenizer to use (needed for safetensors models)");
  flags.Int("n", "N", "maximum tokens to generate", 128, 1, 1 << 20);
  flags.Short('n', "n");
  flags.Double("temp", "T", "temperature; 0 is greedy", 0.8, 0.0, 100.0);
  flags.Int("top-k", "K", "top-k (0: off)", 40, 0, 1 << 24);
  flags.Double("top-p", "P", "top-p (1: off)", 0.95, 0.0, 1.0);
  flags.Double("repeat-penalty", "R", "repetition penalty (1: off)", 1.0, 0.01, 100.0);
  flags.Int("seed", "S", "sampling seed", 0, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  flags.Int("threads", "N", "compute threads (0: all cores)", 0, 0, 1024);
  flags.Switch("raw", "no chat template, and no BOS unless the model's metadata asks for one");
  flags.Switch("tokens", "also print the generated token ids, space separated, alone on the last line");
  flags.Switch("stats", "print prompt and decode speed to stderr");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.Get("model").empty() || !flags.Has("prompt")) {
    std::fprintf(stderr, "error: generate needs --model FILE and --prompt TEXT\n\n%s", flags.Help().c_str());
    return 2;
  }
  LoadOptions load;
  load.threads = flags.GetInt("threads");
  auto model = Model::Load(flags.Get("model"), load);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const Tokenizer* tokenizer = (*model)->tokenizer();
  std::unique_ptr<GgufFile> tokenizer_file;
  std::unique_ptr<Tokenizer> own_tokenizer;
  if (!flags.Get("tokenizer").empty()) {
    auto g = GgufFile::Open(flags.Get("tokenizer"));
    if (!g.ok()) {
      std::fprintf(stderr, "error: --tokenizer: %s\n", g.status().ToString().c_str());
      return 1;
    }
    auto t = Tokenizer::FromGguf(**g);
    if (!t.ok()) {
      std::fprintf(stderr, "error: --tokenizer: %s\n", t.status().ToString().c_str());
      return 1;
    }
    tokenizer_file = std::move(g).value();
    own_tokenizer = std::move(t).value();
    tokenizer = own_tokenizer.get();
  }
  if (!tokenizer) {
    std::fprintf(stderr, "error: %s has no tokenizer; pass --tokenizer FILE.gguf (a GGUF of the same vocabulary)\n",
                 flags.Get("model").c_str());
    return 1;
  }
  if (tokenizer->vocab_size() > (*model)->config().n_vocab) {
    std::fprintf(stderr, "error: the tokenizer has %d tokens but the model only %d; they do not belong together\n",
                 tokenizer->vocab_size(), (*model)->config().n_vocab);
    return 1;
  }
  std::vector<TokenId> prompt;
  std::vector<std::string> stops;
  if (flags.On("raw")) {
    prompt = tokenizer->Encode(flags.Get("prompt"), tokenizer->add_bos(), /*parse_special=*/false);
  } else {
    const GgufFile* meta = tokenizer_file ? tokenizer_file.get() : (*model)->gguf();
    auto format = DetectChatFormat(meta, *tokenizer);
    if (!format.ok()) {
      std::fprintf(stderr, "error: %s\n", format.status().ToString().c_str());
      return 1;
    }
    std::vector<ChatMessage> messages;
    if (!flags.Get("system").empty()) messages.push_back({"system", flags.Get("system")});
    messages.push_back({"user", flags.Get("prompt")});
    prompt = tokenizer->Encode(FormatChat(*format, messages, true), /*add_bos=*/false, /*parse_special=*/true);
    stops.push_back(EndOfTurn(*format));
  }
  if (prompt.empty()) {
    std::fprintf(stderr, "error: --prompt encodes to no tokens; give some text\n");
    return 2;
  }
  GenerateOptions options;
  options.max_tokens = flags.GetInt("n");
  options.sampling.temperature = static_cast<float>(flags.GetDouble("temp"));
  options.sampling.top_k = flags.GetInt("top-k");
  options.sampling.top_p = static_cast<float>(flags.GetDouble("top-p"));
  options.sampling.repetition_penalty = static_cast<float>(flags.GetDouble("repeat-penalty"));
  options.sampling.seed = static_cast<uint64_t>(flags.GetInt("seed"));
  options.stop = stops;
  Sequence sequence(**model, std::min((*model)->config().context_length > 0 ? (*model)->config().context_length : 4096,
                                      static_cast<int>(prompt.size()) + options.max_tokens + 1));
  auto result = Generate(sequence, *tokenizer, prompt, options, nullptr, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (!result.ok()) {
    std::fprintf(stderr, "\nerror: %s\n", result.status().ToString().c_str());
    return 1;
  }
  std::printf("\n");
  if (flags.On("tokens")) {
    std::string ids;
    for (size_t i = 0; i < result->tokens.size(); ++i) ids += (i ? " " : "") + std::to_string(result->tokens[i]);
    std::printf("%s\n", ids.c_str());
  }
  if (flags.On("stats")) {
    const int n = static_cast<int>(result->tokens.size());
    std::fprintf(stderr, "prompt %d tokens in %.1f ms (%.1f tok/s); %d tokens generated, decode %.1f tok/s; stop: %s\n",
                 result->prompt_tokens, result->prompt_ms, 1000.0 * result->prompt_tokens / std::max(result->prompt_ms, 1e-9),
                 n, n > 1 ? 1000.0 * (n - 1) / std::max(result->decode_ms, 1e-9) : 0.0, result->stop_reason.c_str());
  }
  return 0;
}

}  // namespace

CADENCE_COMMAND(generate, "generate text with a GGUF or safetensors language model", RunGenerate);
