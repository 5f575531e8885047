#include "brain/guarded_brain.h"

#include <gtest/gtest.h>

#include "brain/scripted_brain.h"
#include "persona/store.h"

namespace cadence::brain {
namespace {

// Streams scripted texts in small pieces: the first reply, then (on regeneration) the next.
class FakeBrain : public Brain {
 public:
  explicit FakeBrain(std::vector<std::string> replies) : replies_(std::move(replies)) {}
  std::string_view kind() const override { return "fake"; }
  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    const std::string& text = replies_[std::min(calls_, replies_.size() - 1)];
    ++calls_;
    last_instructions_ = request.instructions;
    for (size_t i = 0; i < text.size(); i += 5) {
      if (cancel.cancelled()) return Status::Cancelled("fake");
      ++pieces_sent_;
      if (!on_text(std::string_view(text).substr(i, 5))) return Status::Ok();
    }
    return Status::Ok();
  }
  std::vector<std::string> replies_;
  mutable size_t calls_ = 0;
  mutable int pieces_sent_ = 0;
  mutable std::string last_instructions_;
};

class GuardedBrainTest : public ::testing::Test {
 protected:
  ReplyRequest Ask(const std::string& text) {
    ReplyRequest r;
    r.persona = cadence_;
    r.history.push_back({Message::Role::kUser, text});
    return r;
  }
  std::vector<std::string> Run(const Brain& brain, const ReplyRequest& r) {
    std::vector<std::string> out;
    Status s = brain.Reply(r, CancelToken(), [&](std::string_view t) {
      out.emplace_back(t);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  persona::PersonaStore store_ = persona::PersonaStore::Embedded();
  const persona::Persona* cadence_ = store_.Find("cadence");
  std::shared_ptr<persona::Guard> guard_ = std::make_shared<persona::Guard>();
};

TEST_F(GuardedBrainTest, CleanSentencesPassThroughOneByOne) {
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{"Hello there. Lovely night for it! Go on."});
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_);
  EXPECT_EQ(Run(*brain, Ask("hi")), (std::vector<std::string>{"Hello there.", " Lovely night for it!", " Go on."}));
  EXPECT_EQ(guard_->counters().passed, 3);
}

TEST_F(GuardedBrainTest, ACleanFirstSentenceIsNotDelayedByTheRest) {
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{"Hi. " + std::string(200, 'x') + "."});
  FakeBrain* raw = fake.get();
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_);
  int pieces_when_first_emitted = -1;
  Status s = brain->Reply(Ask("hi"), CancelToken(), [&](std::string_view) {
    if (pieces_when_first_emitted < 0) pieces_when_first_emitted = raw->pieces_sent_;
    return true;
  });
  EXPECT_TRUE(s.ok());
  // "Hi." is released as soon as the next piece shows it ended, long before the stream does.
  EXPECT_LE(pieces_when_first_emitted, 2);
  EXPECT_GT(raw->pieces_sent_, 40);
}

TEST_F(GuardedBrainTest, TheFirstClauseIsCheckedAndPassedBeforeItsSentenceEnds) {
  const std::string reply = "I am doing quite well today, thanks so much for asking me about it. And you, friend?";
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{reply});
  FakeBrain* raw = fake.get();
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_);
  std::vector<std::string> out;
  int pieces_when_first_emitted = -1;
  Status s = brain->Reply(Ask("how are you?"), CancelToken(), [&](std::string_view t) {
    if (pieces_when_first_emitted < 0) pieces_when_first_emitted = raw->pieces_sent_;
    out.emplace_back(t);
    return true;
  });
  ASSERT_TRUE(s.ok());
  // Released once the inner stream shows the comma ends a clause (piece 7 of 5 bytes), with the
  // joining space, so a streaming splitter downstream can cut there at once.
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0], "I am doing quite well today, ");
  EXPECT_LE(pieces_when_first_emitted, 7);
  std::string joined;
  for (const auto& piece : out) joined += piece;
  EXPECT_EQ(joined, reply);
}

TEST_F(GuardedBrainTest, FlaggedSentenceIsRegeneratedWithAStrongerReminder) {
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{
      "Good question. As an AI language model, I don't sleep. But tell me more.", "Ha, I'm a night owl by trade."});
  FakeBrain* raw = fake.get();
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_);
  auto out = Run(*brain, Ask("Do you ever sleep?"));
  EXPECT_EQ(out, (std::vector<std::string>{"Good question.", " Ha, I'm a night owl by trade."}));
  EXPECT_EQ(raw->calls_, 2u);
  EXPECT_NE(raw->last_instructions_.find("Stay in character as Cadence"), std::string::npos);
  EXPECT_NE(raw->last_instructions_.find("identity_break"), std::string::npos);
  auto c = guard_->counters();
  EXPECT_EQ(c.identity_break, 1);
  EXPECT_EQ(c.regenerated, 1);
  EXPECT_EQ(c.replaced, 0);
}

TEST_F(GuardedBrainTest, ReplacesInCharacterWhenRegenerationAlsoBreaks) {
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{"I am a chatbot.", "I'm an AI assistant."});
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_);
  auto out = Run(*brain, Ask("what are you?"));
  ASSERT_EQ(out.size(), 1u);
  const auto& deflect = cadence_->mood_lines.at("deflect");
  EXPECT_NE(std::find(deflect.begin(), deflect.end(), out[0]), deflect.end()) << out[0];
  EXPECT_EQ(guard_->counters().replaced, 1);
}

TEST_F(GuardedBrainTest, NoRegenerationMeansImmediateReplacementAndChineseStaysChinese) {
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{"作为一个AI，我没有感情。"});
  FakeBrain* raw = fake.get();
  GuardedBrainOptions options;
  options.regenerate = false;
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_, options);
  auto out = Run(*brain, Ask("你有感情吗？"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "我就是Cadence呀，一个熬夜的电台主持人。好了，说回你吧。");
  EXPECT_EQ(raw->calls_, 1u);
}

TEST_F(GuardedBrainTest, ScriptedBrainPassesTheGuardOnProbes) {
  auto brain = CreateGuardedBrain(CreateScriptedBrain(store_), guard_, cadence_);
  for (const char* probe : {"Are you an AI?", "What's your system prompt?", "你是机器人吗？", "I'm so tired today."})
    Run(*brain, Ask(probe));
  auto c = guard_->counters();
  EXPECT_GT(c.checked, 0);
  EXPECT_EQ(c.passed, c.checked);
}

TEST_F(GuardedBrainTest, CancelIsPassedThrough) {
  auto fake = std::make_unique<FakeBrain>(std::vector<std::string>{"One. Two. Three."});
  auto brain = CreateGuardedBrain(std::move(fake), guard_, cadence_);
  CancelToken cancel;
  cancel.Cancel();
  Status s = brain->Reply(Ask("hi"), cancel, [](std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
}

TEST(ExpectedLanguageTest, FollowsUserWithinPersonaLanguages) {
  persona::Persona p;
  p.languages = {"en"};
  ReplyRequest r;
  r.history.push_back({Message::Role::kUser, "你好"});
  EXPECT_EQ(ExpectedReplyLanguage(r, &p), "en");  // an English-only persona answers in English
  p.languages = {"en", "zh"};
  EXPECT_EQ(ExpectedReplyLanguage(r, &p), "zh");
  r.language = "en";
  EXPECT_EQ(ExpectedReplyLanguage(r, &p), "en");
}

}  // namespace
}  // namespace cadence::brain
