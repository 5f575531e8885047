// Token2Wav (Step-Audio 2's token2wav folder) on the tiny random folder and goldens that
// tools/engine/token2wav/make_tiny_token2wav.py writes from our PyTorch references of the parts,
// composed as the published CausalMaskedDiffWithXvec composes them: the whole-utterance mel, the
// streamed mel chunk by chunk (prompt set-up, look-ahead, cache trimming), and the audio's length
// and range through HiFT, whole and streamed.
#include "engine/models/token2wav.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace cadence::engine {
namespace {

const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/";

struct Golden {
  nlohmann::json index;
  std::vector<float> data;
  std::vector<float> Array(const std::string& name) const {
    const auto& a = index["arrays"][name];
    size_t n = 1;
    for (const auto& d : a["shape"]) n *= d.get<size_t>();
    const size_t off = a["offset"].get<size_t>();
    return std::vector<float>(data.begin() + off, data.begin() + off + n);
  }
};

Golden ReadGolden() {
  Golden g;
  std::ifstream j(kDir + "token2wav_golden.json");
  std::stringstream ss;
  ss << j.rdbuf();
  g.index = nlohmann::json::parse(ss.str());
  std::ifstream b(kDir + "token2wav_golden.bin", std::ios::binary);
  b.seekg(0, std::ios::end);
  g.data.resize(static_cast<size_t>(b.tellg()) / 4);
  b.seekg(0);
  b.read(reinterpret_cast<char*>(g.data.data()), static_cast<std::streamsize>(g.data.size() * 4));
  return g;
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class Token2WavTest : public ::testing::Test {
 protected:
  void SetUp() override {
    golden_ = ReadGolden();
    Token2Wav::Options options;
    options.seed = golden_.index["seed"].get<uint64_t>();
    options.n_timesteps = golden_.index["n_timesteps"].get<int>();
    auto t = Token2Wav::Load(kDir + "tiny", options);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    model_ = std::move(t).value();
    prompt_.tokens = golden_.index["prompt_tokens"].get<std::vector<int32_t>>();
    prompt_.mel = golden_.Array("prompt_mel");
    prompt_.speaker_embedding = golden_.Array("embedding");
    tokens_ = golden_.index["tokens"].get<std::vector<int32_t>>();
  }
  Golden golden_;
  std::unique_ptr<Token2Wav> model_;
  VoicePrompt prompt_;
  std::vector<int32_t> tokens_;
  WorkerTeam team_{2};
};

// Measured: at most 4.1e-6 (whole) and 3.6e-6 (streamed) on values of magnitude ~1-10, after 10
// Euler steps; the tolerance is about 10x that.
constexpr float kMelTolerance = 5e-5f;

TEST_F(Token2WavTest, SpeakerVectorAndWholeMelMatchTheReference) {
  EXPECT_LT(MaxAbsDiff(model_->SpeakerVector(prompt_.speaker_embedding), golden_.Array("spk")), 1e-5f);
  auto mel = model_->Mel(tokens_, prompt_, &team_);
  ASSERT_TRUE(mel.ok()) << mel.status().ToString();
  const float err = MaxAbsDiff(*mel, golden_.Array("mel"));
  std::printf("whole mel: max abs error %.3g\n", err);
  EXPECT_LT(err, kMelTolerance);
}

TEST_F(Token2WavTest, StreamedMelMatchesThePublishedStreamingDecode) {
  auto stream = model_->Start(prompt_, 1, &team_);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  const auto& chunks = golden_.index["stream"];
  // Enough chunks that the estimator's caches outgrow the prompt + 100 frames and are trimmed
  // before the last one.
  ASSERT_GE(chunks.size(), 5u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto ids = chunks[i]["tokens"].get<std::vector<int32_t>>();
    auto mel = (*stream)->FlowChunk(ids, chunks[i]["last"].get<bool>(), &team_);
    ASSERT_TRUE(mel.ok()) << mel.status().ToString();
    const float err = MaxAbsDiff(*mel, golden_.Array("stream" + std::to_string(i)));
    std::printf("streamed chunk %zu: max abs error %.3g\n", i, err);
    EXPECT_LT(err, kMelTolerance) << "chunk " << i;
  }
}

TEST_F(Token2WavTest, AudioWholeAndStreamedHasOneFramePerMelFrameWithinTheLimit) {
  std::mt19937_64 rng(7);
  auto whole = model_->Synthesize(tokens_, prompt_, rng, &team_);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  const size_t expected = tokens_.size() * static_cast<size_t>(model_->samples_per_token());
  EXPECT_EQ(whole->size(), expected);
  auto stream = model_->Start(prompt_, 7, &team_);
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  size_t streamed = 0;
  std::vector<float> audio;
  const int look = model_->config().encoder.pre_lookahead_len;
  size_t start = 0;
  for (int n : {25, 1, 9}) {  // uneven chunks, one shorter than the vocoder's overlap
    std::span<const int32_t> ids(tokens_.data() + start, static_cast<size_t>(n + look));
    auto out = (*stream)->Push(ids, &team_);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    audio.insert(audio.end(), out->begin(), out->end());
    start += static_cast<size_t>(n);
  }
  auto tail = (*stream)->Finish(std::span<const int32_t>(tokens_).subspan(start), &team_);
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  audio.insert(audio.end(), tail->begin(), tail->end());
  streamed = audio.size();
  EXPECT_EQ(streamed, expected);
  for (float x : audio) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_LE(std::fabs(x), 0.99f + 1e-6f);
  }
  EXPECT_FALSE((*stream)->Push(std::span<const int32_t>(tokens_).first(4), &team_).ok());  // finished
}

TEST_F(Token2WavTest, BadPromptsAndMissingFilesAreNamed) {
  VoicePrompt bad = prompt_;
  bad.mel.pop_back();
  EXPECT_NE(model_->CheckPrompt(bad).message().find("voice prompt: mel"), std::string::npos);
  bad = prompt_;
  bad.tokens[0] = 6561;
  EXPECT_NE(model_->CheckPrompt(bad).message().find("token 6561 outside"), std::string::npos);
  bad = prompt_;
  bad.speaker_embedding.resize(10);
  EXPECT_NE(model_->CheckPrompt(bad).message().find("speaker embedding"), std::string::npos);
  auto missing = Token2Wav::Load(kDir + "no-such-folder", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("flow.yaml"), std::string::npos) << missing.status().message();
}

TEST(Token2WavConfigTest, CosyVoice2UNetFlowIsNamedAsNotYetSupported) {
  auto yaml = HyperPyYamlConfig::Parse(R"(flow: !new:cosyvoice.flow.flow.CausalMaskedDiffWithXvec
    input_size: 512
    decoder: !new:cosyvoice.flow.flow_matching.CausalConditionalCFM
        estimator: !new:cosyvoice.flow.decoder.CausalConditionalDecoder
            in_channels: 320
)",
                                       "cosyvoice2.yaml");
  ASSERT_TRUE(yaml.ok());
  auto config = Token2WavConfig::FromYaml(*yaml);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(config.status().message().find("CausalConditionalDecoder"), std::string::npos)
      << config.status().message();
}

}  // namespace
}  // namespace cadence::engine
