#include "brain/engine_brain.h"

#include <gtest/gtest.h>

#include "brain/factory.h"

namespace cadence::brain {
namespace {

const std::string kTiny = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/qwen2-small-f32.gguf";

ReplyRequest Request(double temperature) {
  ReplyRequest r;
  r.history = {{Message::Role::kUser, "Hello world, how are you?"}};
  r.temperature = temperature;
  r.max_output_tokens = 12;
  return r;
}

TEST(EngineBrainTest, StreamsDeterministicGreedyReplies) {
  auto brain = CreateEngineBrain(kTiny);
  ASSERT_TRUE(brain.ok()) << brain.status().ToString();
  EXPECT_EQ((*brain)->kind(), "engine");
  std::string first, second;
  int pieces = 0;
  ASSERT_TRUE((*brain)->Reply(Request(0), CancelToken(), [&](std::string_view p) { first += p; ++pieces; return true; }).ok());
  // The second call reuses the cached prompt prefix and must produce the same greedy text.
  ASSERT_TRUE((*brain)->Reply(Request(0), CancelToken(), [&](std::string_view p) { second += p; return true; }).ok());
  EXPECT_EQ(first, second);
  EXPECT_GT(pieces, 0);
}

TEST(EngineBrainTest, CancelledBeforeStartReturnsCancelled) {
  auto brain = CreateEngineBrain(kTiny);
  ASSERT_TRUE(brain.ok());
  CancelToken cancel;
  cancel.Cancel();
  Status s = (*brain)->Reply(Request(0.8), cancel, [](std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
}

TEST(FactoryTest, PicksTheBrainFromTheConfig) {
  auto engine = CreateBrain(BrainConfig{.model_path = kTiny}, nullptr);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  EXPECT_EQ((*engine)->kind(), "engine");
  auto remote = CreateBrain(BrainConfig{.llm_url = "http://127.0.0.1:9/v1", .llm_model = "m"}, nullptr);
  ASSERT_TRUE(remote.ok());
  EXPECT_EQ((*remote)->kind(), "remote");
  auto bad_url = CreateBrain(BrainConfig{.llm_url = "127.0.0.1:9"}, nullptr);
  EXPECT_EQ(bad_url.status().code(), StatusCode::kInvalidArgument);
  auto missing = CreateBrain(BrainConfig{.model_path = "/no/such.gguf"}, nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/no/such.gguf"), std::string::npos);
  auto none = CreateBrain(BrainConfig{}, nullptr);
  EXPECT_FALSE(none.ok());
  auto unknown = CreateBrain(BrainConfig{.kind = "oracle"}, nullptr);
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cadence::brain
