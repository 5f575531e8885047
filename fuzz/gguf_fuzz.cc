// Fuzzes GgufFile::Open (GGUF v2/v3 metadata, tensor infos, offsets) on the fuzzer's bytes written
// to a scratch file, then what loading a model reads next from the metadata: the BPE tokenizer
// (Tokenizer::FromGguf), chat-format detection and a short encode/decode with it. Every tensor
// the file declares is read end to end, so a bad offset or size shows up as an ASan report.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/formats/gguf.h"
#include "engine/text/chat_template.h"
#include "engine/text/tokenizer.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cadence::engine;
  static cadence::fuzz::ScratchFile scratch("gguf");
  const std::string& path = scratch.Write(data, size);
  if (path.empty()) return 0;
  auto gguf = GgufFile::Open(path);
  if (!gguf.ok()) return 0;
  uint64_t sum = 0;
  for (const GgufTensor& t : (*gguf)->tensors()) {
    for (size_t i = 0; i < t.bytes; ++i) sum += t.data[i];
    (void)(*gguf)->FindTensor(t.name);
  }
  (void)(*gguf)->GetString("general.architecture");
  (void)(*gguf)->GetIntOr("llama.context_length", 0);
  (void)(*gguf)->GetFloatOr("llama.rope.freq_base", 0);
  auto tokenizer = Tokenizer::FromGguf(**gguf);
  if (!tokenizer.ok()) return static_cast<int>(sum & 0);
  auto format = DetectChatFormat(gguf->get(), **tokenizer);
  const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "Hello, wörld! 你好 <|im_end|>"}};
  const std::string prompt = FormatChat(format.ok() ? *format : ChatFormat::kChatMl, chat, true);
  const std::vector<TokenId> ids = (*tokenizer)->Encode(prompt, /*add_bos=*/true, /*parse_special=*/true);
  (void)(*tokenizer)->Decode(ids);
  return 0;
}
