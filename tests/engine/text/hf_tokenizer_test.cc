// Tokenizer::FromHuggingFace: the real Qwen2 vocabulary written as Hugging Face files (vocab.json,
// merges.txt, tokenizer_config.json) from ../shared's GGUF encodes llama.cpp's reference texts to
// the reference ids, as the GGUF reader does; added special tokens get the next free ids in order.
#include "engine/text/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "skip_or_fail.h"

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HfTokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = std::string(CADENCE_SHARED_DATA) + "/tokenizer/ggml-vocab-qwen2.gguf";
    if (!fs::exists(base_)) CADENCE_SKIP_OR_FAIL_IN_CI() << base_ << " is missing";
    auto gguf = GgufFile::Open(base_);
    ASSERT_TRUE(gguf.ok()) << gguf.status().ToString();
    auto tok = Tokenizer::FromGguf(**gguf);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    gguf_tok_ = std::move(tok).value();
    dir_ = fs::temp_directory_path() / ("hf_tokenizer_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    nlohmann::json vocab = nlohmann::json::object(), added = nlohmann::json::object();
    for (TokenId i = 0; i < gguf_tok_->vocab_size(); ++i) {
      const auto type = gguf_tok_->Type(i);
      if (type == Tokenizer::kNormal) vocab[gguf_tok_->TokenText(i)] = i;
      if (type == Tokenizer::kControl || type == Tokenizer::kUserDefined)
        added[std::to_string(i)] = {{"content", gguf_tok_->TokenText(i)}, {"special", type == Tokenizer::kControl}};
    }
    std::ofstream(dir_ / "vocab.json") << vocab.dump();
    std::ofstream merges(dir_ / "merges.txt");
    merges << "#version: 0.2\n";
    for (const std::string& m : (*gguf)->Find("tokenizer.ggml.merges")->strings) merges << m << "\n";
    merges.close();
    nlohmann::json config = {{"tokenizer_class", "Qwen2Tokenizer"}, {"eos_token", "<|endoftext|>"},
                             {"added_tokens_decoder", added}};
    std::ofstream(dir_ / "tokenizer_config.json") << config.dump();
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string base_;
  fs::path dir_;
  std::unique_ptr<Tokenizer> gguf_tok_;
};

TEST_F(HfTokenizerTest, Qwen2FilesMatchTheReferenceIds) {
  auto tok = Tokenizer::FromHuggingFace(dir_.string());
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::string inp = ReadAll(base_ + ".inp"), sep = "\n__ggml_vocab_test__\n";
  std::istringstream out(ReadAll(base_ + ".out"));
  size_t pos = 0;
  int cases = 0;
  for (size_t next; (next = inp.find(sep, pos)) != std::string::npos; pos = next + sep.size()) {
    const std::string text = inp.substr(pos, next - pos);
    std::string line;
    ASSERT_TRUE(std::getline(out, line));
    std::istringstream ls(line);
    std::vector<TokenId> expected;
    for (TokenId id; ls >> id;) expected.push_back(id);
    EXPECT_EQ((*tok)->Encode(text, false, false), expected) << "'" << text << "'";
    EXPECT_EQ((*tok)->Decode(expected), text);
    ++cases;
  }
  EXPECT_GT(cases, 10);
  EXPECT_EQ((*tok)->eos(), gguf_tok_->Find("<|endoftext|>"));
  EXPECT_EQ((*tok)->Encode("<|im_start|>user<|im_end|>", false, true),
            gguf_tok_->Encode("<|im_start|>user<|im_end|>", false, true));
}

TEST_F(HfTokenizerTest, AddedSpecialTokensTakeTheNextIds) {
  auto tok = Tokenizer::FromHuggingFace(dir_.string(), {"<|im_start|>", "<|endofprompt|>", "[breath]", "[laughter]"});
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  TokenId last = -1;  // the highest id the files define
  for (TokenId i = 0; i < gguf_tok_->vocab_size(); ++i)
    if (gguf_tok_->Type(i) != Tokenizer::kUnused) last = i;
  EXPECT_EQ((*tok)->Find("<|im_start|>"), gguf_tok_->Find("<|im_start|>")) << "already known: keeps its id";
  EXPECT_EQ((*tok)->Find("<|endofprompt|>"), last + 1);
  EXPECT_EQ((*tok)->Find("[breath]"), last + 2);
  EXPECT_EQ((*tok)->Find("[laughter]"), last + 3);
  EXPECT_EQ((*tok)->Encode("Hi[laughter]!", false, true),
            (std::vector<TokenId>{(*tok)->Encode("Hi", false, true)[0], last + 3, (*tok)->Encode("!", false, true)[0]}));
}

TEST_F(HfTokenizerTest, ErrorsNameTheFile) {
  fs::remove(dir_ / "merges.txt");
  auto tok = Tokenizer::FromHuggingFace(dir_.string());
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("merges.txt"), std::string::npos) << tok.status().ToString();
  std::ofstream(dir_ / "merges.txt") << "#version: 0.2\nĠ t\n";
  std::ofstream(dir_ / "tokenizer_config.json") << R"({"tokenizer_class": "LlamaTokenizer"})";
  tok = Tokenizer::FromHuggingFace(dir_.string());
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find("tokenizer_class"), std::string::npos) << tok.status().ToString();
}

}  // namespace
}  // namespace cadence::engine
