#include "engine/text/tokenizer.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace cadence::engine {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The reference vectors: inputs separated by "\n__ggml_vocab_test__\n", one output line each.
void CheckVocab(const std::string& name) {
  const std::string base = std::string(CADENCE_SHARED_DATA) + "/tokenizer/ggml-vocab-" + name + ".gguf";
  auto gguf = GgufFile::Open(base);
  ASSERT_TRUE(gguf.ok()) << gguf.status().ToString();
  auto tok = Tokenizer::FromGguf(**gguf);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();

  std::string inp = ReadAll(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> inputs;
  size_t pos = 0;
  while (true) {
    size_t next = inp.find(sep, pos);
    if (next == std::string::npos) break;
    inputs.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream out(ReadAll(base + ".out"));
  std::vector<std::vector<TokenId>> expected;
  std::string line;
  while (std::getline(out, line)) {
    std::istringstream ls(line);
    std::vector<TokenId> ids;
    TokenId id;
    while (ls >> id) ids.push_back(id);
    expected.push_back(ids);
  }
  ASSERT_EQ(inputs.size(), expected.size()) << name;
  int failures = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto got = (*tok)->Encode(inputs[i], /*add_bos=*/false, /*parse_special=*/false);
    if (got != expected[i]) {
      ++failures;
      std::string g, e;
      for (auto x : got) g += std::to_string(x) + " ";
      for (auto x : expected[i]) e += std::to_string(x) + " ";
      ADD_FAILURE() << name << " input #" << i << " '" << inputs[i] << "'\n got:      " << g << "\n expected: " << e;
    }
    // Byte-level BPE round-trips exactly.
    EXPECT_EQ((*tok)->Decode(got), inputs[i]) << name << " input #" << i;
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerTest, Qwen2MatchesReference) { CheckVocab("qwen2"); }
TEST(TokenizerTest, Llama3MatchesReference) { CheckVocab("llama-bpe"); }
TEST(TokenizerTest, Gpt2MatchesReference) { CheckVocab("gpt-2"); }

TEST(TokenizerTest, SpecialTokensOnlyWhenParsingSpecial) {
  auto gguf = GgufFile::Open(std::string(CADENCE_SHARED_DATA) + "/tokenizer/ggml-vocab-qwen2.gguf");
  ASSERT_TRUE(gguf.ok());
  auto tok = Tokenizer::FromGguf(**gguf);
  ASSERT_TRUE(tok.ok());
  const TokenId im_start = (*tok)->Find("<|im_start|>");
  ASSERT_GE(im_start, 0);
  auto with = (*tok)->Encode("<|im_start|>user\n你好", false, true);
  ASSERT_FALSE(with.empty());
  EXPECT_EQ(with[0], im_start);
  auto without = (*tok)->Encode("<|im_start|>user", false, false);
  EXPECT_NE(without[0], im_start);
  EXPECT_TRUE((*tok)->IsEndOfGeneration((*tok)->Find("<|im_end|>")));
}

TEST(GgufTest, MissingFileNamesPath) {
  auto g = GgufFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kNotFound);
  EXPECT_NE(g.status().message().find("/nonexistent/model.gguf"), std::string::npos);
}

TEST(GgufTest, TruncatedFilesNeverCrash) {
  // Every prefix length of a real GGUF must fail cleanly with a message naming the file.
  const std::string path = std::string(CADENCE_SHARED_DATA) + "/tokenizer/ggml-vocab-gpt-2.gguf";
  const std::string bytes = ReadAll(path);
  const std::string tmp = testing::TempDir() + "/truncated.gguf";
  for (size_t len : {size_t{3}, size_t{8}, size_t{23}, size_t{100}, bytes.size() / 3, bytes.size() / 2}) {
    std::ofstream(tmp, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(len));
    auto g = GgufFile::Open(tmp);
    ASSERT_FALSE(g.ok()) << len;
    EXPECT_NE(g.status().message().find("truncated.gguf"), std::string::npos) << g.status().message();
  }
}

}  // namespace
}  // namespace cadence::engine
