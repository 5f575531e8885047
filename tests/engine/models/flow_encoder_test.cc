// The token2wav flow's token encoder against our independent PyTorch reference
// (tools/engine/token2wav/flow_encoder_reference.py): tiny random weights in flow.pt's key layout
// (tests/engine/data/token2wav/flow_encoder.pt), the whole-utterance output and the published
// chunked (streaming) output, and the load errors.
#include "engine/models/flow_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cadence::engine {
namespace {

const std::string kData = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/";

// Outputs are O(1) (max |value| ~3.9); float32 against float32 with other summation orders and
// sin/exp implementations: measured max |error| 1.4e-6 .. 2.5e-6 (scalar and AVX-512 GEMM, 1 and 2
// threads). 2e-5 absolute leaves room for other ISAs without hiding a real error: leaving out any
// term of the network moves outputs by 1e-2 or more.
constexpr double kTolerance = 2e-5;

nlohmann::json Golden() {
  std::ifstream in(kData + "flow_encoder.golden.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

FlowEncoderConfig ConfigFrom(const nlohmann::json& j) {
  FlowEncoderConfig c;
  c.vocab_size = j["vocab_size"];
  c.input_size = j["input_size"];
  c.output_size = j["output_size"];
  c.mel_dim = j["mel_dim"];
  c.attention_heads = j["attention_heads"];
  c.linear_units = j["linear_units"];
  c.num_blocks = j["num_blocks"];
  c.num_up_blocks = j["num_up_blocks"];
  c.pre_lookahead_len = j["pre_lookahead_len"];
  c.up_stride = j["up_stride"];
  c.key_bias = j["key_bias"];
  return c;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

class FlowEncoderTest : public testing::Test {
 protected:
  void SetUp() override {
    golden_ = Golden();
    config_ = ConfigFrom(golden_["config"]);
    auto checkpoint = TorchCheckpoint::Open(kData + "flow_encoder.pt");
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status().ToString();
    checkpoint_ = std::move(*checkpoint);
  }
  std::unique_ptr<FlowEncoder> Load(Isa isa) {
    auto encoder = FlowEncoder::Load(*checkpoint_, config_, isa);
    EXPECT_TRUE(encoder.ok()) << encoder.status().ToString();
    return encoder.ok() ? std::move(*encoder) : nullptr;
  }

  nlohmann::json golden_;
  FlowEncoderConfig config_;
  std::unique_ptr<TorchCheckpoint> checkpoint_;
};

TEST_F(FlowEncoderTest, WholeUtteranceMatchesReference) {
  const std::vector<int32_t> tokens = golden_["tokens"].get<std::vector<int32_t>>();
  const std::vector<float> want = golden_["full"]["values"].get<std::vector<float>>();
  WorkerTeam team(2);
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    auto encoder = Load(isa);
    ASSERT_NE(encoder, nullptr);
    for (WorkerTeam* t : {static_cast<WorkerTeam*>(nullptr), &team}) {
      auto got = encoder->Forward(tokens, t);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), want.size());
      ASSERT_EQ(static_cast<int>(got->size()), golden_["full"]["frames"].get<int>() * config_.mel_dim);
      const double err = MaxAbsDiff(*got, want);
      EXPECT_LE(err, kTolerance) << "isa=" << IsaName(isa) << " threads=" << (t ? t->threads() : 1);
      std::printf("whole utterance, %s, %d thread(s): max |error| %.3g\n", std::string(IsaName(isa)).c_str(),
                  t ? t->threads() : 1, err);
    }
  }
}

TEST_F(FlowEncoderTest, ChunkedStreamMatchesPublishedForwardChunk) {
  WorkerTeam team(2);
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    auto encoder = Load(isa);
    ASSERT_NE(encoder, nullptr);
    FlowEncoderStream stream;
    int64_t tokens_done = 0;
    for (const auto& chunk : golden_["chunks"]) {
      const std::vector<int32_t> ids = chunk["tokens"].get<std::vector<int32_t>>();
      const bool last = chunk["last"];
      const std::vector<float> want = chunk["values"].get<std::vector<float>>();
      auto got = encoder->ForwardChunk(&stream, ids, last, &team);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(static_cast<int>(got->size()), chunk["frames"].get<int>() * config_.mel_dim);
      ASSERT_EQ(got->size(), want.size());
      const double err = MaxAbsDiff(*got, want);
      EXPECT_LE(err, kTolerance) << "isa=" << IsaName(isa) << " chunk of " << ids.size();
      std::printf("chunk of %zu tokens%s, %s: max |error| %.3g\n", ids.size(), last ? " (last)" : "",
                  std::string(IsaName(isa)).c_str(), err);
      tokens_done += last ? static_cast<int64_t>(ids.size()) : static_cast<int64_t>(ids.size()) - config_.pre_lookahead_len;
      EXPECT_EQ(stream.tokens_done(), tokens_done);
    }
    EXPECT_TRUE(stream.finished());
    EXPECT_GT(stream.CacheBytes(), 0u);
    // A finished stream refuses more.
    auto more = encoder->ForwardChunk(&stream, std::vector<int32_t>{1, 2, 3, 4}, false, nullptr);
    EXPECT_EQ(more.status().code(), StatusCode::kFailedPrecondition);
  }
}

TEST_F(FlowEncoderTest, TrimmedStreamMatchesStepAudio2CacheTrimming) {
  const auto& trimmed = golden_["trimmed"];
  const int64_t head = trimmed["head_frames"], tail = trimmed["tail_frames"];
  auto encoder = Load(BestIsa());
  ASSERT_NE(encoder, nullptr);
  WorkerTeam team(2);
  FlowEncoderStream stream;
  for (const auto& chunk : trimmed["chunks"]) {
    const std::vector<int32_t> ids = chunk["tokens"].get<std::vector<int32_t>>();
    auto got = encoder->ForwardChunk(&stream, ids, chunk["last"].get<bool>(), &team);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const std::vector<float> want = chunk["values"].get<std::vector<float>>();
    ASSERT_EQ(got->size(), want.size());
    const double err = MaxAbsDiff(*got, want);
    EXPECT_LE(err, kTolerance) << "chunk of " << ids.size();
    std::printf("trimmed stream, chunk of %zu tokens: max |error| %.3g\n", ids.size(), err);
    ASSERT_TRUE(encoder->TrimCache(&stream, head, tail).ok());
  }
  EXPECT_EQ(encoder->TrimCache(&stream, head, tail + 1).code(), StatusCode::kInvalidArgument);
}

TEST_F(FlowEncoderTest, BadCallsLeaveTheStreamUnchanged) {
  auto encoder = Load(BestIsa());
  ASSERT_NE(encoder, nullptr);
  FlowEncoderStream stream;
  // A chunk that is not the last needs at least one new token after the look-ahead.
  auto short_chunk = encoder->ForwardChunk(&stream, std::vector<int32_t>{1, 2, 3}, false, nullptr);
  EXPECT_EQ(short_chunk.status().code(), StatusCode::kInvalidArgument);
  auto bad_id = encoder->ForwardChunk(&stream, std::vector<int32_t>{1, 2, config_.vocab_size, 4}, false, nullptr);
  EXPECT_EQ(bad_id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_id.status().message().find("6561"), std::string::npos) << bad_id.status().message();
  auto negative = encoder->Forward(std::vector<int32_t>{-1}, nullptr);
  EXPECT_FALSE(negative.ok());
  EXPECT_EQ(stream.tokens_done(), 0);
  EXPECT_FALSE(stream.finished());

  // After the errors the stream still gives the reference's first chunk.
  const auto& chunk = golden_["chunks"][0];
  auto got = encoder->ForwardChunk(&stream, chunk["tokens"].get<std::vector<int32_t>>(), false, nullptr);
  ASSERT_TRUE(got.ok());
  EXPECT_LE(MaxAbsDiff(*got, chunk["values"].get<std::vector<float>>()), kTolerance);
}

TEST_F(FlowEncoderTest, EmptyLastChunkFinishesTheStream) {
  auto encoder = Load(BestIsa());
  ASSERT_NE(encoder, nullptr);
  FlowEncoderStream stream;
  auto got = encoder->ForwardChunk(&stream, std::vector<int32_t>{}, true, nullptr);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_TRUE(stream.finished());
}

TEST_F(FlowEncoderTest, MissingTensorIsNamed) {
  FlowEncoderConfig config = config_;
  config.num_blocks = 3;  // the tiny checkpoint has two
  auto encoder = FlowEncoder::Load(*checkpoint_, config);
  ASSERT_FALSE(encoder.ok());
  EXPECT_EQ(encoder.status().code(), StatusCode::kNotFound);
  EXPECT_NE(encoder.status().message().find("encoder.encoders.2."), std::string::npos) << encoder.status().message();
  EXPECT_NE(encoder.status().message().find("flow_encoder.pt"), std::string::npos) << encoder.status().message();
}

TEST_F(FlowEncoderTest, WrongShapeIsNamed) {
  FlowEncoderConfig config = config_;
  config.linear_units = 48;  // the tiny checkpoint's FFN is 64 wide
  auto encoder = FlowEncoder::Load(*checkpoint_, config);
  ASSERT_FALSE(encoder.ok());
  EXPECT_NE(encoder.status().message().find("encoder.encoders.0.feed_forward.w_1.weight"), std::string::npos)
      << encoder.status().message();

  config = config_;
  config.vocab_size = 4096;  // the table holds 6561 rows
  encoder = FlowEncoder::Load(*checkpoint_, config);
  ASSERT_FALSE(encoder.ok());
  EXPECT_NE(encoder.status().message().find("input_embedding.weight"), std::string::npos) << encoder.status().message();
}

TEST(FlowEncoderConfigTest, PublishedDefaultsAreValidAndCheckedOnes) {
  FlowEncoderConfig c;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.output_size, 512);
  EXPECT_EQ(c.attention_heads, 8);
  EXPECT_EQ(c.num_blocks + c.num_up_blocks, 10);
  c.attention_heads = 7;
  EXPECT_FALSE(c.Validate().ok());
  c = FlowEncoderConfig();
  c.input_size = 256;
  EXPECT_FALSE(c.Validate().ok());
}

}  // namespace
}  // namespace cadence::engine
