#include "brain/engine_brain.h"

#include <chrono>
#include <thread>

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

// Waits until the brain has evaluated more than `prompt_tokens` prompt tokens in all (a Prepare
// queued before has started) and its counters have stopped changing.
void Settle(const Brain& brain, int64_t prompt_tokens = -1) {
  for (int i = 0; i < 1000 && brain.Stats().prompt_tokens <= prompt_tokens; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BrainStats last = brain.Stats();
  for (int quiet = 0, i = 0; quiet < 5 && i < 400; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const BrainStats now = brain.Stats();
    quiet = now.prompt_tokens == last.prompt_tokens ? quiet + 1 : 0;
    last = now;
  }
}

TEST(EngineBrainTest, PreparedConversationIsReusedAndRepliesAsWithout) {
  EngineBrainOptions options;
  options.max_output_tokens = 12;
  auto prepared = CreateEngineBrain(kTiny, options);
  auto plain = CreateEngineBrain(kTiny, options);
  ASSERT_TRUE(prepared.ok() && plain.ok());
  auto collect = [](const Brain& brain, const ReplyRequest& r) {
    std::string text;
    EXPECT_TRUE(brain.Reply(r, CancelToken(), [&](std::string_view p) { text += p; return true; }).ok());
    return text;
  };
  ReplyRequest first = Request(0);
  const std::string answer = collect(**prepared, first);
  ASSERT_EQ(collect(**plain, first), answer);
  // While the user speaks again, the prepared brain evaluates the conversation so far.
  ReplyRequest so_far = first;
  so_far.history.push_back({Message::Role::kAssistant, answer.empty() ? "fine" : answer});
  const int64_t before = (*prepared)->Stats().prompt_tokens;
  (*prepared)->Prepare(so_far);
  Settle(**prepared, before);
  ReplyRequest second = so_far;
  second.history.push_back({Message::Role::kUser, "And what are you doing today?"});
  Settle(**plain);
  const BrainStats p0 = (*prepared)->Stats(), q0 = (*plain)->Stats();
  EXPECT_EQ(collect(**prepared, second), collect(**plain, second));
  const BrainStats p1 = (*prepared)->Stats(), q1 = (*plain)->Stats();
  // Both hold the first turn's prompt and reply; the prepared one also the reply as history text,
  // so it evaluated only the new turn.
  EXPECT_LT(p1.prompt_tokens - p0.prompt_tokens, q1.prompt_tokens - q0.prompt_tokens);
  EXPECT_GT(p1.reused_tokens - p0.reused_tokens, q1.reused_tokens - q0.reused_tokens);
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
