// Fuzzes chat formatting and tokenization of untrusted conversation text: the input is split at
// NUL bytes into messages (the first byte of each picks its role), formatted with both chat
// formats (FormatChat) and encoded, with and without special-token parsing, by the BPE tokenizers
// of two test models from tests/engine/data (Qwen2 and Llama 3 pre-tokenizers); then decoded.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/formats/gguf.h"
#include "engine/text/chat_template.h"
#include "engine/text/tokenizer.h"
#include "fuzz_util.h"

namespace {

using namespace cadence::engine;

struct Loaded {
  std::unique_ptr<GgufFile> gguf;
  std::unique_ptr<Tokenizer> tokenizer;
};

Loaded Load(const std::string& name) {
  const std::string path = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/" + name;
  auto gguf = GgufFile::Open(path);
  if (!gguf.ok()) std::abort();  // the harness's own data is missing: nothing to fuzz
  auto tokenizer = Tokenizer::FromGguf(**gguf);
  if (!tokenizer.ok()) std::abort();
  return {std::move(gguf).value(), std::move(tokenizer).value()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Loaded* models = new Loaded[2]{Load("qwen2-small-q4_0.gguf"), Load("llama-small-q4_0.gguf")};
  static const char* kRoles[] = {"system", "user", "assistant"};
  std::vector<ChatMessage> messages;
  for (std::string_view piece : cadence::fuzz::SplitInput(data, size, '\0')) {
    ChatMessage m;
    if (!piece.empty()) {
      m.role = kRoles[static_cast<uint8_t>(piece[0]) % 3];
      piece.remove_prefix(1);
    } else {
      m.role = "user";
    }
    m.content = std::string(piece);
    messages.push_back(std::move(m));
  }
  for (int i = 0; i < 2; ++i) {
    const Tokenizer& tokenizer = *models[i].tokenizer;
    auto format = DetectChatFormat(models[i].gguf.get(), tokenizer);
    const std::string prompt = FormatChat(format.ok() ? *format : ChatFormat::kChatMl, messages, true);
    (void)tokenizer.Decode(tokenizer.Encode(prompt, /*add_bos=*/true, /*parse_special=*/true));
    if (!messages.empty()) {
      (void)tokenizer.Decode(tokenizer.Encode(messages.back().content, /*add_bos=*/false, /*parse_special=*/false));
    }
  }
  return 0;
}
