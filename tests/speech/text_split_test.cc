#include "speech/tts/text_split.h"

#include <gtest/gtest.h>

namespace cadence::speech {
namespace {

TEST(SplitSentences, EnglishKeepsPunctuationAndDecimals) {
  auto s = SplitSentences("Hello there! It costs 3.50 dollars. Really?! Yes...  ");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "Hello there!");
  EXPECT_EQ(s[1], "It costs 3.50 dollars.");
  EXPECT_EQ(s[2], "Really?!");
  EXPECT_EQ(s[3], "Yes...");
}

TEST(SplitSentences, ChineseFullwidthStops) {
  auto s = SplitSentences("你好。今天天气很好！你想出去吗？好");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], "你好。");
  EXPECT_EQ(s[1], "今天天气很好！");
  EXPECT_EQ(s[2], "你想出去吗？");
  EXPECT_EQ(s[3], "好");
}

TEST(SplitSentences, LongSentenceSplitsAtCommas) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "this clause is fairly long, ";
  text += "and it ends.";
  auto s = SplitSentences(text, 80);
  EXPECT_GT(s.size(), 3u);
  for (const auto& piece : s) EXPECT_LE(piece.size(), 120u) << piece;
}

TEST(SplitSentences, EmptyAndWhitespace) {
  EXPECT_TRUE(SplitSentences("").empty());
  EXPECT_TRUE(SplitSentences("   \n  ").empty());
}

TEST(ContainsHan, DetectsChinese) {
  EXPECT_TRUE(ContainsHan("hello 世界"));
  EXPECT_FALSE(ContainsHan("hello world, ça va?"));
  EXPECT_FALSE(ContainsHan("（）。！"));
}

}  // namespace
}  // namespace cadence::speech
