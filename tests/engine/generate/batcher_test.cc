// Batched forward passes and the continuous-batching Batcher: each sequence gets the logits and
// the tokens it would get alone; shared heads and slot reuse give the same result as evaluating the
// whole prompt; a changed head or a rewritten history never reuses stale keys and values.
#include "engine/generate/batcher.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <latch>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/generate/generator.h"
#include "engine/models/qwen2_llama.h"

namespace cadence::engine {
namespace {

const std::string kData = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/";

std::unique_ptr<Model> LoadModel(const std::string& name, Isa isa = BestIsa()) {
  LoadOptions options;
  options.threads = 2;
  options.isa = isa;
  auto model = Model::Load(kData + name, options);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

std::vector<TokenId> Encode(const Model& model, const std::string& text) {
  return model.tokenizer()->Encode(text, false, false);
}

// Greedy generation on a fresh sequence of its own: what a generation must produce in a batch.
GenerateResult Alone(const Model& model, const std::vector<TokenId>& prompt, int max_tokens) {
  Sequence seq(model, 256);
  GenerateOptions options;
  options.sampling.temperature = 0;
  options.max_tokens = max_tokens;
  auto result = Generate(seq, *model.tokenizer(), prompt, options, nullptr, nullptr);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : GenerateResult{};
}

GenerationRequest Greedy(std::vector<TokenId> prompt, int max_tokens, int head_tokens = 0) {
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.options.sampling.temperature = 0;
  request.options.max_tokens = max_tokens;
  request.head_tokens = head_tokens;
  return request;
}

void ExpectClose(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  float scale = 0;
  for (float v : want) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4f * scale) << i;
}

TEST(ForwardBatchTest, EachSequenceGetsItsOwnLogits) {
  for (const char* name : {"qwen2-small-q8_0.gguf", "llama-small-f32.gguf", "qwen2-mixed-q4_k_m.gguf"}) {
    SCOPED_TRACE(name);
    auto model = LoadModel(name);
    ASSERT_NE(model, nullptr);
    const std::vector<TokenId> a = Encode(*model, "Hello world, how are you?");
    const std::vector<TokenId> b = Encode(*model, "The quick brown fox");
    const std::vector<TokenId> c = Encode(*model, "ok");
    // Alone: a's prompt; b's prompt then one more token; c's prompt.
    Sequence a1(*model, 64), b1(*model, 64), c1(*model, 64);
    std::vector<float> la, lb, lc;
    ASSERT_TRUE(a1.Append(a, &la).ok());
    ASSERT_TRUE(b1.Append(b, nullptr).ok());
    ASSERT_TRUE(b1.Append({a[0]}, &lb).ok());
    ASSERT_TRUE(c1.Append(c, &lc).ok());
    // Together: b already holds its prompt; a prefill, a decode step and another prefill in one
    // pass. The rows together may take the GEMM where some alone took the dot kernels: the same
    // arithmetic summed in another order.
    Sequence a2(*model, 64), b2(*model, 64), c2(*model, 64);
    ASSERT_TRUE(b2.Append(b, nullptr).ok());
    std::vector<float> ma, mb, mc;
    std::vector<BatchEntry> batch{{&a2, a, &ma}, {&b2, {a[0]}, &mb}, {&c2, c, &mc}};
    ASSERT_TRUE(ForwardBatch(batch).ok());
    ExpectClose(ma, la);
    ExpectClose(mb, lb);
    ExpectClose(mc, lc);
    EXPECT_EQ(a2.tokens(), a1.tokens());
    EXPECT_EQ(b2.size(), static_cast<int>(b.size()) + 1);
    // A decode step of three sequences together: what each gets alone.
    std::vector<float> da, db, dc, ea, eb, ec;
    ASSERT_TRUE(a1.Append({c[0]}, &da).ok());
    ASSERT_TRUE(b1.Append({c[0]}, &db).ok());
    ASSERT_TRUE(c1.Append({a[0]}, &dc).ok());
    std::vector<BatchEntry> step{{&a2, {c[0]}, &ea}, {&b2, {c[0]}, &eb}, {&c2, {a[0]}, &ec}};
    ASSERT_TRUE(ForwardBatch(step).ok());
    ExpectClose(ea, da);
    ExpectClose(eb, db);
    ExpectClose(ec, dc);
  }
}

TEST(ForwardBatchTest, RejectsBadBatchesWithoutChangingAnySequence) {
  auto model = LoadModel("qwen2-small-q8_0.gguf");
  ASSERT_NE(model, nullptr);
  Sequence a(*model, 8), b(*model, 8);
  std::vector<float> logits;
  std::vector<BatchEntry> twice{{&a, {1, 2}, &logits}, {&a, {3}, &logits}};
  EXPECT_FALSE(ForwardBatch(twice).ok());
  std::vector<BatchEntry> too_long{{&a, {1, 2}, &logits}, {&b, std::vector<TokenId>(9, 1), &logits}};
  EXPECT_EQ(ForwardBatch(too_long).code(), StatusCode::kOutOfRange);
  std::vector<BatchEntry> bad_id{{&a, {1, 2}, &logits}, {&b, {model->config().n_vocab}, &logits}};
  EXPECT_EQ(ForwardBatch(bad_id).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.size(), 0);
  EXPECT_EQ(b.size(), 0);
}

TEST(SequenceTest, KvMemoryGrowsWithTheTokensHeld) {
  // F32: one long prompt and ten short ones take different kernels, but the same arithmetic.
  auto model = LoadModel("qwen2-small-f32.gguf");
  ASSERT_NE(model, nullptr);
  Sequence seq(*model, 4096);
  EXPECT_EQ(seq.KvBytes(), 0u);
  ASSERT_TRUE(seq.Append(Encode(*model, "Hello world"), nullptr).ok());
  const size_t small = seq.KvBytes();
  EXPECT_GT(small, 0u);
  EXPECT_LT(small, size_t{4096} * model->config().n_layer * 2 * 32 * sizeof(float) / 4);
  // Growing past the first reservation keeps what was computed.
  std::vector<float> before, after;
  Sequence fresh(*model, 4096);
  std::vector<TokenId> long_prompt;
  for (int i = 0; i < 150; ++i) long_prompt.push_back(static_cast<TokenId>(32 + i % 60));
  ASSERT_TRUE(fresh.Append(long_prompt, &before).ok());
  Sequence grown(*model, 4096);
  for (size_t i = 0; i < long_prompt.size(); i += 10)
    ASSERT_TRUE(grown.Append(std::vector<TokenId>(long_prompt.begin() + i, long_prompt.begin() + i + 10), &after).ok());
  EXPECT_GT(grown.KvBytes(), small);
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) ASSERT_NEAR(before[i], after[i], 1e-3f) << i;
}

TEST(SequenceTest, CopiedPrefixGivesTheFullPromptsLogits) {
  auto model = LoadModel("qwen2-small-f32.gguf");
  ASSERT_NE(model, nullptr);
  const std::vector<TokenId> head = Encode(*model, "You are Cadence. Answer briefly.");
  std::vector<TokenId> prompt = head;
  for (TokenId t : Encode(*model, " User: hi there")) prompt.push_back(t);
  Sequence whole(*model, 128), shared(*model, 128), copy(*model, 128);
  std::vector<float> expected, got;
  ASSERT_TRUE(whole.Append(prompt, &expected).ok());
  ASSERT_TRUE(shared.Append(head, nullptr).ok());
  copy.CopyPrefix(shared, static_cast<int>(head.size()));
  ASSERT_EQ(copy.tokens(), head);
  ASSERT_TRUE(copy.Append(std::vector<TokenId>(prompt.begin() + head.size(), prompt.end()), &got).ok());
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-4f) << i;
  // A copy of part of the head: the rest is evaluated, the logits are the same again.
  Sequence part(*model, 128);
  part.CopyPrefix(shared, 3);
  ASSERT_TRUE(part.Append(std::vector<TokenId>(prompt.begin() + 3, prompt.end()), &got).ok());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expected[i], 1e-4f) << i;
}

TEST(BatcherTest, ConcurrentGenerationsGetTheTokensTheyGetAlone) {
  auto model = LoadModel("qwen2-small-q8_0.gguf");
  ASSERT_NE(model, nullptr);
  const std::vector<std::string> texts{"Hello world, how are you?", "你好，世界！", "def add(a, b):", "The quick brown fox"};
  std::vector<GenerateResult> alone;
  for (const auto& t : texts) alone.push_back(Alone(*model, Encode(*model, t), 40));
  Batcher batcher(*model, *model->tokenizer(), {.slots = 4, .kv_tokens = 256});
  std::vector<Result<GenerateResult>> together(texts.size(), Status::Internal("not run"));
  std::vector<std::string> streamed(texts.size());
  std::vector<std::thread> threads;
  std::latch ready(static_cast<std::ptrdiff_t>(texts.size()));  // submitted together, so they share steps
  for (size_t i = 0; i < texts.size(); ++i)
    threads.emplace_back([&, i] {
      const GenerationRequest request = Greedy(Encode(*model, texts[i]), 40);
      ready.arrive_and_wait();
      together[i] = batcher.Generate(request, nullptr, [&, i](std::string_view piece) {
        streamed[i] += piece;
        return true;
      });
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(texts[i]);
    ASSERT_TRUE(together[i].ok()) << together[i].status().ToString();
    EXPECT_EQ(together[i]->tokens, alone[i].tokens);
    EXPECT_EQ(together[i]->text, alone[i].text);
    EXPECT_EQ(streamed[i], alone[i].text);
    EXPECT_EQ(together[i]->stop_reason, alone[i].stop_reason);
  }
  EXPECT_GT(batcher.stats().max_batch, 1) << "the generations never shared a step";
}

TEST(BatcherTest, SharedHeadAndSlotReuseGiveTheFullPromptsResult) {
  auto model = LoadModel("qwen2-small-q8_0.gguf");
  ASSERT_NE(model, nullptr);
  const std::vector<TokenId> head = Encode(*model, "You are Cadence, a calm voice. Answer briefly.\n");
  auto with = [&](const std::vector<TokenId>& h, const std::string& turn) {
    std::vector<TokenId> p = h;
    const auto t = Encode(*model, turn);
    p.insert(p.end(), t.begin(), t.end());
    return p;
  };
  Batcher batcher(*model, *model->tokenizer(), {.slots = 2, .kv_tokens = 256});
  batcher.Prepare(head, true);
  batcher.WaitIdle();
  // A new slot starts from the shared head: only the turn is evaluated.
  const auto p1 = with(head, "User: hi there");
  auto r1 = batcher.Generate(Greedy(p1, 12, static_cast<int>(head.size())), nullptr, nullptr);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->reused_tokens, static_cast<int>(head.size()));
  EXPECT_EQ(batcher.stats().head_copies, 1);
  EXPECT_EQ(r1->tokens, Alone(*model, p1, 12).tokens);
  // The same conversation's next turn goes to its slot: everything up to the new turn is reused.
  std::vector<TokenId> p2 = p1;
  p2.insert(p2.end(), r1->tokens.begin(), r1->tokens.end() - 1);
  const auto more = Encode(*model, " User: and now?");
  p2.insert(p2.end(), more.begin(), more.end());
  auto r2 = batcher.Generate(Greedy(p2, 12), nullptr, nullptr);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->reused_tokens, static_cast<int>(p1.size() + r1->tokens.size() - 1));
  EXPECT_EQ(r2->tokens, Alone(*model, p2, 12).tokens);
  // A history rewritten at its end (truncation, barge-in) keeps only what still matches.
  std::vector<TokenId> p3(p1.begin(), p1.end() - 2);
  const auto other = Encode(*model, " hello again");
  p3.insert(p3.end(), other.begin(), other.end());
  auto r3 = batcher.Generate(Greedy(p3, 12), nullptr, nullptr);
  ASSERT_TRUE(r3.ok());
  EXPECT_LE(r3->reused_tokens, static_cast<int>(p1.size() - 2));
  EXPECT_GE(r3->reused_tokens, static_cast<int>(head.size()));
  EXPECT_EQ(r3->tokens, Alone(*model, p3, 12).tokens);
  // A changed persona (another head) shares only its common tokens with what is cached.
  const std::vector<TokenId> head2 = Encode(*model, "You are Nova, a lively voice. Answer briefly.\n");
  const auto p4 = with(head2, "User: hi there");
  auto r4 = batcher.Generate(Greedy(p4, 12, static_cast<int>(head2.size())), nullptr, nullptr);
  ASSERT_TRUE(r4.ok());
  size_t common = 0;
  while (common < head.size() && head[common] == head2[common]) ++common;
  EXPECT_LE(r4->reused_tokens, static_cast<int>(common));
  EXPECT_EQ(r4->tokens, Alone(*model, p4, 12).tokens);
}

TEST(BatcherTest, CancelAndStopEndOneGenerationOnly) {
  auto model = LoadModel("qwen2-small-q8_0.gguf");
  ASSERT_NE(model, nullptr);
  Batcher batcher(*model, *model->tokenizer(), {.slots = 2, .kv_tokens = 256});
  CancelToken cancelled;
  cancelled.Cancel();
  auto r = batcher.Generate(Greedy(Encode(*model, "Hello"), 50), &cancelled, nullptr);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  int pieces = 0;
  auto stopped = batcher.Generate(Greedy(Encode(*model, "Hello world"), 50), nullptr, [&](std::string_view) {
    return ++pieces < 2;
  });
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->stop_reason, "stop");
  EXPECT_EQ(pieces, 2);
  auto fine = batcher.Generate(Greedy(Encode(*model, "Hello world"), 10), nullptr, nullptr);
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->tokens, Alone(*model, Encode(*model, "Hello world"), 10).tokens);
  auto too_long = batcher.Generate(Greedy(Encode(*model, "Hello"), 400), nullptr, nullptr);
  EXPECT_EQ(too_long.status().code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace cadence::engine
