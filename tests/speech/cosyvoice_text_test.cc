// ToCosyVoiceText: Cadence's inline tags and scene tone as CosyVoice 2's tags and instruction.
#include "speech/tts/cosyvoice_text.h"

#include <gtest/gtest.h>

namespace cadence::speech {
namespace {

TEST(CosyVoiceTextTest, EventsAndEmphasisBecomeCosyVoiceTags) {
  auto out = ToCosyVoiceText("Well [laughs] that is <emphasis>really</emphasis> funny [sighs] okay.", Tone{});
  EXPECT_EQ(out.text, "Well [laughter] that is <strong>really</strong> funny [sigh] okay.");
  EXPECT_EQ(out.instruction, "");  // neutral, no cue: zero-shot
  EXPECT_EQ(out.language, "en");
}

TEST(CosyVoiceTextTest, SceneToneAndStepFunCuesBecomeTheInstruction) {
  Tone happy;
  happy.emotion = "happy";
  auto en = ToCosyVoiceText("What a day!", happy);
  EXPECT_EQ(en.instruction, "Speak in a happy tone.<|endofprompt|>");
  // A StepFun bracket in a Chinese reply names the emotion in Chinese.
  auto zh = ToCosyVoiceText("（生气 2）你怎么又迟到了[breath]", Tone{});
  EXPECT_EQ(zh.language, "zh");
  EXPECT_NE(zh.instruction.find("生气"), std::string::npos) << zh.instruction;
  EXPECT_NE(zh.instruction.find("<|endofprompt|>"), std::string::npos);
  EXPECT_EQ(zh.text.find("（"), std::string::npos) << zh.text;  // the cue is not read aloud
  EXPECT_NE(zh.text.find("[breath]"), std::string::npos) << zh.text;
  Tone whisper;
  whisper.emotion = "whisper";
  EXPECT_EQ(ToCosyVoiceText("Come closer.", whisper).instruction, "Speak in a whisper.<|endofprompt|>");
}

TEST(CosyVoiceTextTest, PausesBecomePunctuation) {
  auto out = ToCosyVoiceText("One <break time=\"800ms\"/> two [pause] three.", Tone{});
  EXPECT_EQ(out.text.find("<break"), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("..."), std::string::npos) << out.text;
}

}  // namespace
}  // namespace cadence::speech
