// Unit tests of the protocol pieces: tag stripping, turn detection,
// session config parsing.
#include <gtest/gtest.h>

#include "realtime/session_extras.h"
#include "realtime/session_config.h"
#include "realtime/turn_detector.h"

namespace cadence::realtime {
namespace {

TEST(SpokenTextTest, KeepsOnlySpokenWords) {
  EXPECT_EQ(SpokenText("Well [laughs] that is <emphasis>really</emphasis> funny."),
            "Well that is really funny.");
  EXPECT_EQ(SpokenText("(whispering) come here [sighs]."), "come here.");
  EXPECT_EQ(SpokenText("A (Big) deal <break time=\"500ms\"/>ok"), "A (Big) deal ok");
  EXPECT_EQ(SpokenText("你好[laughs]。"), "你好。");
}

TEST(TurnDetectorTest, StartAndStopWithPaddingAndHysteresis) {
  TurnDetector d;
  d.Configure(0.5, 300, 500);
  d.Reset(0);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(d.Push(0.1f));  // 640 ms silence
  EXPECT_FALSE(d.Push(0.9f));
  auto start = d.Push(0.9f);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->kind, TurnEvent::Kind::kSpeechStarted);
  EXPECT_EQ(start->audio_ms, 640 - 300);
  // 0.4 is below the threshold but above the hysteresis level: still speech.
  for (int i = 0; i < 30; ++i) EXPECT_FALSE(d.Push(0.4f));
  std::optional<TurnEvent> stop;
  int windows = 0;
  while (!stop && windows < 100) {
    stop = d.Push(0.0f);
    ++windows;
  }
  ASSERT_TRUE(stop);
  EXPECT_EQ(stop->kind, TurnEvent::Kind::kSpeechStopped);
  EXPECT_EQ(windows, 16);  // ceil(500 / 32)
  EXPECT_EQ(stop->audio_ms, (20 + 2 + 30 + 16) * 32);
}

TEST(TurnDetectorTest, SingleWindowBlipIsNotSpeech) {
  TurnDetector d;
  d.Reset(1000);
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(d.Push(i % 2 ? 0.9f : 0.0f));
  }
  EXPECT_FALSE(d.in_speech());
}

TEST(SessionConfigTest, RejectedUpdateChangesNothing) {
  SessionConfig c;
  c.instructions = "keep";
  nlohmann::json bad = {{"instructions", "new"}, {"turn_detection", {{"type", "server_vad"}, {"threshold", 3}}}};
  ProtocolError e = ApplySessionUpdate(bad, nullptr, &c);
  EXPECT_EQ(e.code, "invalid_value");
  EXPECT_EQ(e.param, "session.turn_detection.threshold");
  EXPECT_EQ(c.instructions, "keep");
}

TEST(SessionConfigTest, SemanticVadMapsEagerness) {
  SessionConfig c;
  ASSERT_TRUE(ApplySessionUpdate({{"turn_detection", {{"type", "semantic_vad"}, {"eagerness", "low"}}}}, nullptr, &c).ok());
  EXPECT_EQ(c.turn_detection.type, TurnDetectionType::kSemanticVad);
  EXPECT_EQ(c.turn_detection.silence_duration_ms, 1200);
}

TEST(SessionConfigTest, PcmRateMustBe24k) {
  SessionConfig c;
  ProtocolError e = ApplySessionUpdate(
      {{"audio", {{"input", {{"format", {{"type", "audio/pcm"}, {"rate", 16000}}}}}}}}, nullptr, &c);
  EXPECT_EQ(e.param, "session.audio.input.format.rate");
}

}  // namespace
}  // namespace cadence::realtime
