#include "speech/tts/style_parser.h"

#include <gtest/gtest.h>

namespace cadence::speech {
namespace {

TEST(SpokenText, RemovesEveryTagKind) {
  EXPECT_EQ(SpokenText("Well [laughs] that is <emphasis>really</emphasis> funny."), "Well that is really funny.");
  EXPECT_EQ(SpokenText("Wait.<break time=\"300ms\"/> Now go!"), "Wait. Now go!");
  EXPECT_EQ(SpokenText("(whispering) Come closer. [sighs] [unknown thing] OK."), "Come closer. OK.");
  EXPECT_EQ(SpokenText("<prosody rate=\"slow\" pitch=\"+2st\">Slowly now</prosody>."), "Slowly now.");
  EXPECT_EQ(SpokenText("（高兴 2）今天真开心！（粤语）我们走吧。"), "今天真开心！我们走吧。");
  EXPECT_EQ(SpokenText("（慢速 1）（低语 1）晚安。"), "晚安。");
  EXPECT_EQ(SpokenText("<foo bar=1>kept words</foo>"), "kept words");
  EXPECT_EQ(SpokenText("Hello [laughs"), "Hello");  // unterminated tag: dropped, never read
}

TEST(SpokenText, KeepsOrdinaryParentheticals) {
  EXPECT_EQ(SpokenText("It takes (about five) minutes."), "It takes (about five) minutes.");
  EXPECT_EQ(SpokenText("这个（例如苹果）很好。"), "这个（例如苹果）很好。");
  // Unknown one-word stage directions are dropped rather than read.
  EXPECT_EQ(SpokenText("(mysteriously) Hello."), "Hello.");
}

TEST(ParseStyledText, EventsInOrder) {
  auto st = ParseStyledText("Hi. [laughs] So [pause] funny. [sighs] [breath] Bye. <break time=\"1.5s\"/>");
  std::vector<SegmentKind> kinds;
  for (const auto& s : st.segments) kinds.push_back(s.kind);
  std::vector<SegmentKind> want = {SegmentKind::kSpeech, SegmentKind::kLaugh, SegmentKind::kSpeech,
                                   SegmentKind::kPause,  SegmentKind::kSpeech, SegmentKind::kSigh,
                                   SegmentKind::kBreath, SegmentKind::kSpeech, SegmentKind::kPause};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(st.segments[3].pause_ms, 500);
  EXPECT_EQ(st.segments.back().pause_ms, 1500);
  EXPECT_TRUE(st.segments[0].sentence_end);
  EXPECT_FALSE(st.segments[2].sentence_end);
}

TEST(ParseStyledText, SsmlSpansNestAndClose) {
  auto st = ParseStyledText("a <prosody rate=\"slow\">b <emphasis>c</emphasis> d</prosody> e");
  ASSERT_EQ(st.segments.size(), 5u);
  EXPECT_DOUBLE_EQ(st.segments[0].style.rate, 1.0);
  EXPECT_DOUBLE_EQ(st.segments[1].style.rate, 0.8);
  EXPECT_LT(st.segments[2].style.rate, 0.8);  // emphasis slows further
  EXPECT_GT(st.segments[2].style.pitch_st, 0.0);
  EXPECT_GT(st.segments[2].style.volume, 1.0);
  EXPECT_DOUBLE_EQ(st.segments[3].style.rate, 0.8);
  EXPECT_DOUBLE_EQ(st.segments[4].style.rate, 1.0);
}

TEST(ParseStyledText, ProsodyAttributeForms) {
  auto st = ParseStyledText("<prosody rate='150%' pitch='-10%' volume='+6dB'>x</prosody>");
  ASSERT_EQ(st.segments.size(), 1u);
  EXPECT_DOUBLE_EQ(st.segments[0].style.rate, 1.5);
  EXPECT_NEAR(st.segments[0].style.pitch_st, -1.82, 0.01);
  EXPECT_NEAR(st.segments[0].style.volume, 2.0, 0.01);
}

TEST(ParseStyledText, EnglishCueLastsToSentenceEnd) {
  auto st = ParseStyledText("(whispering) Come here. Now look.");
  ASSERT_EQ(st.segments.size(), 2u);
  EXPECT_DOUBLE_EQ(st.segments[0].style.breathiness, 1.0);
  EXPECT_DOUBLE_EQ(st.segments[1].style.breathiness, 0.0);
  st = ParseStyledText("(happily) Great news!");
  EXPECT_EQ(st.segments[0].style.emotion, "happy");
}

TEST(ParseStyledText, StepFunTagsLastToReplyEnd) {
  auto st = ParseStyledText("（悲伤 1）（慢速 2）我很难过。真的。");
  ASSERT_EQ(st.segments.size(), 2u);
  for (const auto& s : st.segments) {
    EXPECT_EQ(s.style.emotion, "sad");
    EXPECT_LT(s.style.emotion_degree, 1.0);  // degree 1 of 2
    EXPECT_DOUBLE_EQ(s.style.rate, 0.7);
  }
  st = ParseStyledText("（高兴 2）太好了！");
  EXPECT_EQ(st.segments[0].style.emotion, "excited");
  st = ParseStyledText("（英语）Hello there.");
  EXPECT_EQ(st.segments[0].language, "en");
}

TEST(ParseStyledText, ReportsUnsupportedAndDropped) {
  auto st = ParseStyledText("（四川话）（日语）你好。[coughs] （神秘 1）再见。");
  EXPECT_EQ(st.unsupported, (std::vector<std::string>{"（四川话）", "（日语）"}));
  EXPECT_EQ(st.dropped, (std::vector<std::string>{"[coughs]", "（神秘 1）"}));
  EXPECT_EQ(SpokenText("（粤语）（四川话）（日语）你好。[coughs] （神秘 1）再见。"), "你好。再见。");
  st = ParseStyledText("（粤语）我哋去饮茶啦。");
  EXPECT_TRUE(st.unsupported.empty());
  EXPECT_EQ(st.segments[0].language, "yue");
}

TEST(ParseStyledText, MalformedMarkupNeverReadAloud) {
  for (const char* text : {"<<<>>>", "[[[", "]]]", "<prosody rate=>x", "</emphasis>y", "（（（", "<break time=\"-5s\"/>"}) {
    std::string spoken = SpokenText(text);
    EXPECT_EQ(spoken.find('<'), std::string::npos) << text;
    EXPECT_EQ(spoken.find('['), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace cadence::speech
