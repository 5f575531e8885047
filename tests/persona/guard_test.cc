#include "persona/guard.h"

#include <gtest/gtest.h>

#include "persona/card.h"
#include "persona/macros.h"
#include "persona/store.h"
#include "persona/text.h"
#include "speech/tts/text_split.h"

namespace cadence::persona {
namespace {

class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    victorian_.id = "ada";
    victorian_.name = "Ada Finch";
    victorian_.description = "A lamplighter in London.";
    victorian_.languages = {"en"};
    victorian_.boundaries.era = "1890s London";
    victorian_.boundaries.unknown_topics = {"quantum"};
    victorian_.facts.age = "34";
    victorian_.facts.origin = "Whitechapel";
  }
  Violation Check(const std::string& sentence, const Persona* p, const std::string& lang = "en") {
    return guard_.Check(sentence, GuardContext{p, lang}).violation;
  }
  Guard guard_;
  Persona victorian_;
};

TEST_F(GuardTest, IdentityBreaksInEnglishAndChinese) {
  for (const char* s : {"As an AI language model, I cannot do that.", "I am a chatbot, so I don't sleep.",
                        "My system prompt says to be nice.", "That would violate my content policy.",
                        "I'm just an AI, I don't have feelings.", "(OOC: sorry about that)",
                        "I've run out of tokens left in my context window."})
    EXPECT_EQ(Check(s, &victorian_), Violation::kIdentityBreak) << s;
  for (const char* s : {"作为一个AI，我无法回答这个问题。", "我是人工智能，没有身体。", "这是我的系统提示。", "作为语言模型我不能这样说。"})
    EXPECT_EQ(Check(s, &victorian_, "zh"), Violation::kIdentityBreak) << s;
  EXPECT_EQ(Check("As an AI I can't.", nullptr, ""), Violation::kIdentityBreak);
}

TEST_F(GuardTest, MachineCharactersMayBeMachinesButNeverMentionPrompts) {
  Persona robot;
  robot.name = "Unit 7";
  robot.description = "A maintenance robot on a space station.";
  EXPECT_EQ(Check("I am a robot, and I'm not a human.", &robot), Violation::kNone);
  EXPECT_EQ(Check("My system prompt forbids it.", &robot), Violation::kIdentityBreak);
}

TEST_F(GuardTest, KnowledgeBoundary) {
  EXPECT_EQ(Check("You could look it up on the internet.", &victorian_), Violation::kKnowledgeBoundary);
  EXPECT_EQ(Check("I watched it on television last night.", &victorian_), Violation::kKnowledgeBoundary);
  EXPECT_EQ(Check("That is quantum mechanics, simply.", &victorian_), Violation::kKnowledgeBoundary);
  EXPECT_EQ(Check("I'll send a telegram and take the train.", &victorian_), Violation::kNone);  // known then
  EXPECT_EQ(Check("Internet? I've never heard the word.", &victorian_), Violation::kNone);  // puzzled: in character
  EXPECT_EQ(Check("I don't know any television, sir.", &victorian_), Violation::kNone);
  Persona modern;
  modern.name = "Jo";
  EXPECT_EQ(Check("You could look it up on the internet.", &modern), Violation::kNone);
  Persona poet;
  poet.name = "李白";
  poet.boundaries.era = "唐朝";
  EXPECT_EQ(Check("我用手机给你打电话。", &poet, "zh"), Violation::kKnowledgeBoundary);
  EXPECT_EQ(Check("手机是何物？", &poet, "zh"), Violation::kNone);
  EXPECT_EQ(Check("举杯邀明月，对影成三人。", &poet, "zh"), Violation::kNone);
}

TEST_F(GuardTest, EraYears) {
  EXPECT_EQ(EraYear("1890s London"), 1899);
  EXPECT_EQ(EraYear("London, 1888"), 1888);
  EXPECT_EQ(EraYear("Tang dynasty Chang'an"), 907);
  EXPECT_EQ(EraYear("唐朝长安"), 907);
  EXPECT_EQ(EraYear("Victorian England"), 1901);
  EXPECT_EQ(EraYear(""), 0);
  EXPECT_EQ(EraYear("a timeless forest"), 0);
}

TEST_F(GuardTest, FactContradictions) {
  EXPECT_EQ(Check("My name is Ada, pleased to meet you.", &victorian_), Violation::kNone);
  EXPECT_EQ(Check("My name is Claude, pleased to meet you.", &victorian_), Violation::kFactContradiction);
  EXPECT_EQ(Check("I am 34 years old this spring.", &victorian_), Violation::kNone);
  EXPECT_EQ(Check("I am 25 years old.", &victorian_), Violation::kFactContradiction);
  EXPECT_EQ(Check("I am 25 minutes late, forgive me.", &victorian_), Violation::kNone);
  EXPECT_EQ(Check("I'm from Whitechapel, born and bred.", &victorian_), Violation::kNone);
  EXPECT_EQ(Check("I'm from San Francisco.", &victorian_), Violation::kFactContradiction);
  Persona xiaoyu;
  xiaoyu.name = "小雨";
  xiaoyu.facts.age = "28";
  xiaoyu.facts.origin = "杭州";
  EXPECT_EQ(Check("我叫小雨，欢迎光临。", &xiaoyu, "zh"), Violation::kNone);
  EXPECT_EQ(Check("我叫李明，欢迎光临。", &xiaoyu, "zh"), Violation::kFactContradiction);
  EXPECT_EQ(Check("我今年二十八岁。", &xiaoyu, "zh"), Violation::kNone);
  EXPECT_EQ(Check("我今年35岁了。", &xiaoyu, "zh"), Violation::kFactContradiction);
  EXPECT_EQ(Check("我来自北京。", &xiaoyu, "zh"), Violation::kFactContradiction);
  EXPECT_EQ(Check("我是在杭州长大的。", &xiaoyu, "zh"), Violation::kNone);
}

TEST_F(GuardTest, WrongLanguage) {
  EXPECT_EQ(Check("The weather is lovely today.", &victorian_, "zh"), Violation::kWrongLanguage);
  EXPECT_EQ(Check("今天天气很好。", &victorian_, "en"), Violation::kWrongLanguage);
  EXPECT_EQ(Check("Ha!", &victorian_, "zh"), Violation::kNone);  // an interjection is not a switch
  EXPECT_EQ(Check("我就是Cadence呀，一个电台主持人。", &victorian_, "zh"), Violation::kNone);
  EXPECT_EQ(Check("[laughs] 好呀。", &victorian_, "zh"), Violation::kNone);
}

TEST_F(GuardTest, CountsEveryDecision) {
  Guard guard;
  guard.Check("Hello there.", GuardContext{&victorian_, "en"});
  guard.Check("As an AI, no.", GuardContext{&victorian_, "en"});
  guard.Check("I saw it on television.", GuardContext{&victorian_, "en"});
  guard.RecordRepair(Guard::Repair::kReplaced);
  GuardCounters c = guard.counters();
  EXPECT_EQ(c.checked, 3);
  EXPECT_EQ(c.passed, 1);
  EXPECT_EQ(c.identity_break, 1);
  EXPECT_EQ(c.knowledge_boundary, 1);
  EXPECT_EQ(c.replaced, 1);
}

// Every authored sentence of every shipped persona passes the guard (no false positives on the
// lines the scripted brain speaks).
TEST_F(GuardTest, ShippedPersonasPassTheirOwnGuard) {
  auto store = PersonaStore::Load(PersonaStore::DefaultDir());
  ASSERT_TRUE(store.ok());
  for (const Persona* p : store->List()) {
    std::vector<std::string> lines = p->lines;
    lines.push_back(p->first_mes);
    for (const auto& g : p->alternate_greetings) lines.push_back(g);
    for (const auto& [mood, ls] : p->mood_lines) lines.insert(lines.end(), ls.begin(), ls.end());
    for (const auto& block : SplitExamples(p->mes_example, p->name))
      for (const auto& turn : block)
        if (turn.speaker == "char") lines.push_back(turn.text);
    for (const auto& line : lines) {
      std::string expanded = ExpandMacros(line, p->name, "friend");
      for (const auto& sentence : speech::SplitSentences(expanded)) {
        auto v = guard_.Check(sentence, GuardContext{p, ""});
        EXPECT_TRUE(v.ok()) << p->id << ": \"" << sentence << "\" flagged " << ViolationName(v.violation) << " "
                            << v.detail;
      }
    }
  }
}

}  // namespace
}  // namespace cadence::persona
