// CosyVoice 2's speech-token LM against the independent torch reference
// (tools/engine/token2wav/cosyvoice_lm_reference.py): the tiny CosyVoice2-shaped folder in
// tests/engine/data/cosyvoice_lm/, its tokenizer ids, greedy speech tokens and first-step logits;
// the published length rules; ras_sampling; and load errors that name what is wrong.
#include "engine/models/cosyvoice_lm.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/cosyvoice_lm";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const nlohmann::json& Golden() {
  static const nlohmann::json j = nlohmann::json::parse(ReadAll(kDir + "/golden.json"));
  return j;
}

size_t WeightBytesOfF32Model() {
  auto lm = CosyVoiceLm::Load(kDir, LoadOptions{});
  return lm.ok() ? (*lm)->model().WeightBytes() : 0;
}

class CosyVoiceLmTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    LoadOptions options;
    options.threads = 2;
    auto lm = CosyVoiceLm::Load(kDir, options);
    ASSERT_TRUE(lm.ok()) << lm.status().ToString();
    lm_ = std::move(lm).value().release();
  }
  static void TearDownTestSuite() {
    delete lm_;
    lm_ = nullptr;
  }
  static CosyVoiceLm* lm_;
};
CosyVoiceLm* CosyVoiceLmTest::lm_ = nullptr;

TEST_F(CosyVoiceLmTest, ShapesFollowTheCheckpoint) {
  EXPECT_EQ(lm_->speech_token_size(), 6561);
  EXPECT_EQ(lm_->model().n_logits(), 6561 + 3);
  EXPECT_EQ(lm_->text_vocab(), Golden()["config"]["vocab_size"].get<int>());
  // The input vocabulary: text rows, 6564 speech rows, sos/eos and task_id.
  EXPECT_EQ(lm_->model().config().n_vocab, lm_->text_vocab() + 6564 + 2);
}

TEST_F(CosyVoiceLmTest, TokenizerMatchesReference) {
  for (const auto& c : Golden()["tokenizer"]) {
    const std::string text = c["text"];
    EXPECT_EQ(lm_->EncodeText(text), c["ids"].get<std::vector<TokenId>>()) << text;
  }
  for (const auto& [text, id] : Golden()["special_ids"].items()) EXPECT_EQ(lm_->tokenizer().Find(text), id.get<int>()) << text;
  for (const auto& c : Golden()["cases"]) {
    EXPECT_EQ(lm_->EncodeText(c["text"].get<std::string>()), c["text_ids"].get<std::vector<TokenId>>());
    EXPECT_EQ(lm_->EncodeText(c["prompt_text"].get<std::string>()), c["prompt_text_ids"].get<std::vector<TokenId>>());
  }
}

TEST_F(CosyVoiceLmTest, GreedyTokensAndLogitsMatchReference) {
  CosyVoiceSampling greedy;
  greedy.greedy = true;
  for (const auto& c : Golden()["cases"]) {
    const std::string name = c["name"];
    std::vector<int> streamed;
    std::vector<float> logits;
    auto tokens = lm_->Generate(c["text_ids"].get<std::vector<TokenId>>(), c["prompt_text_ids"].get<std::vector<TokenId>>(),
                                c["prompt_speech"].get<std::vector<int>>(), greedy, 0,
                                [&](int t) { streamed.push_back(t); return true; }, nullptr, &logits);
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    const auto expected = c["tokens"].get<std::vector<int>>();
    EXPECT_EQ(*tokens, expected) << name;
    EXPECT_EQ(streamed, expected) << name << ": the callback sees every token, in order";
    EXPECT_GT(static_cast<int>(expected.size()), c["min_len"].get<int>()) << name;
    EXPECT_LT(static_cast<int>(expected.size()), c["max_len"].get<int>()) << name << ": stopped by eos";

    const auto golden = c["first_logits"].get<std::vector<double>>();
    ASSERT_EQ(logits.size(), golden.size());
    double max_abs = 0, max_err = 0;
    for (size_t i = 0; i < golden.size(); ++i) {
      max_abs = std::max(max_abs, std::abs(golden[i]));
      max_err = std::max(max_err, std::abs(logits[i] - golden[i]));
    }
    EXPECT_LT(max_err, 2e-5 * max_abs) << name << ": max |ours - reference| " << max_err << " of max |logit| " << max_abs;
  }
}

// LoadOptions::quantize_q8_0: the layer matrices become Q8_0 and the first logits stay close to
// the reference's (Q8_0 moves each weight by at most half a step of max|row block| / 127).
TEST(CosyVoiceLmQuantizedTest, Q8_0LayersStayCloseToTheReference) {
  LoadOptions options;
  options.threads = 1;
  options.quantize_q8_0 = true;
  auto lm = CosyVoiceLm::Load(kDir, options);
  ASSERT_TRUE(lm.ok()) << lm.status().ToString();
  EXPECT_LT((*lm)->model().WeightBytes(), WeightBytesOfF32Model());
  CosyVoiceSampling greedy;
  greedy.greedy = true;
  const auto& c = Golden()["cases"][0];
  std::vector<float> logits;
  auto tokens = (*lm)->Generate(c["text_ids"].get<std::vector<TokenId>>(), c["prompt_text_ids"].get<std::vector<TokenId>>(),
                                c["prompt_speech"].get<std::vector<int>>(), greedy, 0, {}, nullptr, &logits);
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  const auto golden = c["first_logits"].get<std::vector<double>>();
  ASSERT_EQ(logits.size(), golden.size());
  double max_abs = 0, max_err = 0;
  for (size_t i = 0; i < golden.size(); ++i) {
    max_abs = std::max(max_abs, std::abs(golden[i]));
    max_err = std::max(max_err, std::abs(logits[i] - golden[i]));
  }
  std::printf("Q8_0 layers: first logits max |error| %.3g of max |logit| %.3g\n", max_err, max_abs);
  EXPECT_GT(max_err, 0.0) << "the quantized model computed exactly the f32 logits: were the layers quantized?";
  EXPECT_LT(max_err, 0.02 * max_abs);
}

// The published length rules, from the golden run of the English case: eos masked before
// text_len * min_ratio (raising the minimum past where eos won continues the same tokens), at
// most text_len * max_ratio tokens.
TEST_F(CosyVoiceLmTest, MinAndMaxLengthFollowTheTextLength) {
  const auto& c = Golden()["cases"][0];
  const auto text = c["text_ids"].get<std::vector<TokenId>>();
  const auto expected = c["tokens"].get<std::vector<int>>();
  CosyVoiceSampling s;
  s.greedy = true;
  s.min_token_text_ratio = s.max_token_text_ratio = 1.0;
  auto capped = lm_->Generate(text, {}, {}, s, 0);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(*capped, std::vector<int>(expected.begin(), expected.begin() + static_cast<long>(text.size())));

  s.min_token_text_ratio = s.max_token_text_ratio = 10.0;
  auto longer = lm_->Generate(text, {}, {}, s, 0);
  ASSERT_TRUE(longer.ok());
  ASSERT_GT(longer->size(), expected.size());
  EXPECT_EQ(std::vector<int>(longer->begin(), longer->begin() + static_cast<long>(expected.size())), expected);
}

TEST_F(CosyVoiceLmTest, CallbackStopsAndSamplingIsSeeded) {
  const auto& c = Golden()["cases"][1];
  const auto text = c["text_ids"].get<std::vector<TokenId>>();
  const auto prompt = c["prompt_text_ids"].get<std::vector<TokenId>>();
  const auto speech = c["prompt_speech"].get<std::vector<int>>();
  int calls = 0;
  auto five = lm_->Generate(text, prompt, speech, {}, 1, [&](int) { return ++calls < 5; });
  ASSERT_TRUE(five.ok());
  EXPECT_EQ(five->size(), 5u);
  auto a = lm_->Generate(text, prompt, speech, {}, 42);
  auto b = lm_->Generate(text, prompt, speech, {}, 42);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_GE(static_cast<int>(a->size()), c["min_len"].get<int>());
  for (int t : *a) EXPECT_TRUE(t >= 0 && t < 6561);
}

TEST_F(CosyVoiceLmTest, RejectsIdsOutsideTheirVocabularies) {
  auto bad_text = lm_->Generate({lm_->text_vocab()}, {}, {}, {}, 0);
  EXPECT_FALSE(bad_text.ok());
  auto bad_speech = lm_->Generate({1, 2}, {}, {6561}, {}, 0);
  EXPECT_FALSE(bad_speech.ok());
  EXPECT_NE(bad_speech.status().message().find("6561"), std::string::npos);
}

std::vector<float> Logits(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(p > 0 ? static_cast<float>(std::log(p)) : -std::numeric_limits<float>::infinity());
  return l;
}

TEST(RasSampleTest, NucleusKeepsTopPAndTopK) {
  CosyVoiceSampling s;
  std::mt19937_64 rng(3);
  std::array<int, 3> seen{};
  for (int i = 0; i < 2000; ++i) {
    auto l = Logits({0.6, 0.3, 0.1});
    ++seen[static_cast<size_t>(RasSample(l, {}, s, rng))];
  }
  EXPECT_EQ(seen[2], 0) << "0.6 + 0.3 reaches top_p 0.8: the third token is never a candidate";
  EXPECT_NEAR(seen[0] / 2000.0, 2.0 / 3.0, 0.05);
  s.top_p = 1.0;
  s.top_k = 25;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> l(100, 0.0f);
    EXPECT_LT(RasSample(l, {}, s, rng), 25) << "equal probabilities: the first 25 (stable order) are kept";
  }
}

TEST(RasSampleTest, RepeatInWindowIsRedrawn) {
  CosyVoiceSampling s;
  std::mt19937_64 rng(5);
  std::vector<int> recent{1, 2, 7, 3, 4, 5, 6, 8, 9, 10};  // 7 within the last 10
  std::vector<int> old{7, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11};  // 7 just outside them
  for (int i = 0; i < 200; ++i) {
    auto l = Logits({0, 0, 0, 0, 0, 0, 0, 0.99, 0.01});
    EXPECT_EQ(RasSample(l, recent, s, rng), 8);
    auto l2 = Logits({0, 0, 0, 0, 0, 0, 0, 0.99, 0.01});
    EXPECT_EQ(RasSample(l2, old, s, rng), 7);
  }
}

// ---------------------------------------------------------------- load errors

// Copies the tiny folder to a temporary one whose llm.pt has `from` replaced by `to` (same length)
// in its pickle, the entry's CRC-32 fixed so the zip stays valid.
class BrokenFolder {
 public:
  explicit BrokenFolder(const std::string& tag)
      : dir_(fs::temp_directory_path() / ("cosyvoice_lm_" + tag + "_" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy(kDir + "/CosyVoice-BlankEN", dir_ / "CosyVoice-BlankEN");
    bytes_ = ReadAll(kDir + "/llm.pt");
  }
  ~BrokenFolder() { fs::remove_all(dir_); }
  void Replace(const std::string& from, const std::string& to) {
    ASSERT_EQ(from.size(), to.size());
    const size_t at = bytes_.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    bytes_.replace(at, from.size(), to);
  }
  std::string Write() {
    FixPickleCrc();
    std::ofstream(dir_ / "llm.pt", std::ios::binary) << bytes_;
    return dir_.string();
  }
  std::string dir() const { return dir_.string(); }

 private:
  static uint32_t Crc32(const char* p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; ++i) {
      c ^= static_cast<uint8_t>(p[i]);
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
  }
  uint32_t U32(size_t at) const {
    uint32_t v;
    std::memcpy(&v, bytes_.data() + at, 4);
    return v;
  }
  uint16_t U16(size_t at) const {
    uint16_t v;
    std::memcpy(&v, bytes_.data() + at, 2);
    return v;
  }
  void PutU32(size_t at, uint32_t v) { std::memcpy(bytes_.data() + at, &v, 4); }
  // The central directory entry of */data.pkl: its CRC (offset 16), size (20) and local header
  // (42); torch writes a data descriptor (signature, CRC) after the stored data.
  void FixPickleCrc() {
    for (size_t cd = bytes_.find("PK\x01\x02"); cd != std::string::npos; cd = bytes_.find("PK\x01\x02", cd + 4)) {
      const std::string name = bytes_.substr(cd + 46, U16(cd + 28));
      if (name.size() < 9 || name.compare(name.size() - 9, 9, "/data.pkl") != 0) continue;
      const uint32_t size = U32(cd + 20), local = U32(cd + 42);
      const size_t data = local + 30 + U16(local + 26) + U16(local + 28);
      const uint32_t crc = Crc32(bytes_.data() + data, size);
      PutU32(cd + 16, crc);
      const size_t desc = data + size;
      PutU32(bytes_.compare(desc, 4, "PK\x07\x08") == 0 ? desc + 4 : desc, crc);
      return;
    }
    FAIL() << "no data.pkl in the zip";
  }

  fs::path dir_;
  std::string bytes_;
};

TEST(CosyVoiceLmLoadTest, UnbrokenCopyLoads) {
  BrokenFolder f("copy");
  auto lm = CosyVoiceLm::Load(f.Write());
  EXPECT_TRUE(lm.ok()) << lm.status().ToString();
}

TEST(CosyVoiceLmLoadTest, MissingFilesAreNamed) {
  BrokenFolder f("nollm");
  auto lm = CosyVoiceLm::Load(f.dir());
  ASSERT_FALSE(lm.ok());
  EXPECT_NE(lm.status().message().find("llm.pt"), std::string::npos) << lm.status().ToString();
  f.Write();
  fs::remove(fs::path(f.dir()) / "CosyVoice-BlankEN" / "merges.txt");
  lm = CosyVoiceLm::Load(f.dir());
  ASSERT_FALSE(lm.ok());
  EXPECT_NE(lm.status().message().find("merges.txt"), std::string::npos) << lm.status().ToString();
  fs::remove(fs::path(f.dir()) / "CosyVoice-BlankEN" / "config.json");
  lm = CosyVoiceLm::Load(f.dir());
  ASSERT_FALSE(lm.ok());
  EXPECT_NE(lm.status().message().find("config.json"), std::string::npos) << lm.status().ToString();
}

TEST(CosyVoiceLmLoadTest, MissingTensorsAreNamed) {
  for (const std::string name : {"llm_decoder.bias", "speech_embedding.weight", "llm_embedding.weight",
                                  "llm.model.model.layers.1.mlp.up_proj.weight"}) {
    BrokenFolder f("missing");
    std::string renamed = name;
    renamed.back() = '_';
    f.Replace(name, renamed);
    auto lm = CosyVoiceLm::Load(f.Write());
    ASSERT_FALSE(lm.ok()) << name;
    EXPECT_NE(lm.status().message().find(name), std::string::npos) << lm.status().ToString();
  }
}

TEST(CosyVoiceLmLoadTest, WrongShapesAreNamed) {
  // Layer 0's q_proj [64, 64] and k_proj [32, 64] swap names: q_proj has k's shape.
  BrokenFolder f("shape");
  const std::string q = "layers.0.self_attn.q_proj.weight", k = "layers.0.self_attn.k_proj.weight";
  f.Replace(q, "layers.0.self_attn.z_proj.weight");
  f.Replace(k, q);
  f.Replace("layers.0.self_attn.z_proj.weight", k);
  auto lm = CosyVoiceLm::Load(f.Write());
  ASSERT_FALSE(lm.ok());
  EXPECT_NE(lm.status().message().find("llm.model.model." + q), std::string::npos) << lm.status().ToString();
  EXPECT_NE(lm.status().message().find("[32, 64]"), std::string::npos) << lm.status().ToString();
}

}  // namespace
}  // namespace cadence::engine
