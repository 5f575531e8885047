// Unit tests of the protocol pieces: tag stripping, turn detection,
// session config parsing.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

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
  // The silence is first reported as a pause after min(200, 500 / 2) ms, then as the stop.
  std::vector<std::pair<int, TurnEvent>> events;
  for (int windows = 1; windows <= 100 && (events.empty() || events.back().second.kind != TurnEvent::Kind::kSpeechStopped);
       ++windows) {
    if (auto ev = d.Push(0.0f)) events.emplace_back(windows, *ev);
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].second.kind, TurnEvent::Kind::kSpeechPaused);
  EXPECT_EQ(events[0].first, 7);  // ceil(200 / 32)
  EXPECT_EQ(events[0].second.audio_ms, (20 + 2 + 30 + 7) * 32);
  EXPECT_EQ(events[1].second.kind, TurnEvent::Kind::kSpeechStopped);
  EXPECT_EQ(events[1].first, 16);  // ceil(500 / 32)
  EXPECT_EQ(events[1].second.audio_ms, (20 + 2 + 30 + 16) * 32);
}

TEST(TurnDetectorTest, SpeechAfterAPauseResumesTheTurn) {
  TurnDetector d;
  d.Configure(0.5, 0, 300);
  d.Reset(0);
  EXPECT_EQ(d.pause_ms(), 150);
  EXPECT_FALSE(d.Push(0.9f));
  ASSERT_TRUE(d.Push(0.9f));
  // A short silence: no pause, nothing to report when speech goes on.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.Push(0.0f));
  EXPECT_FALSE(d.Push(0.9f));
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(d.Push(0.0f));
  auto pause = d.Push(0.0f);  // 5 x 32 >= 150
  ASSERT_TRUE(pause);
  EXPECT_EQ(pause->kind, TurnEvent::Kind::kSpeechPaused);
  EXPECT_FALSE(d.Push(0.0f));  // reported once
  auto resumed = d.Push(0.6f);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->kind, TurnEvent::Kind::kSpeechResumed);
  EXPECT_EQ(resumed->audio_ms, 14 * 32);
  EXPECT_TRUE(d.in_speech());
  // The silence count starts again: a new pause, then the stop after a full 300 ms.
  std::vector<TurnEvent::Kind> kinds;
  for (int i = 0; i < 10; ++i) {
    if (auto ev = d.Push(0.0f)) kinds.push_back(ev->kind);
  }
  EXPECT_EQ(kinds, (std::vector<TurnEvent::Kind>{TurnEvent::Kind::kSpeechPaused, TurnEvent::Kind::kSpeechStopped}));
  EXPECT_FALSE(d.in_speech());
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
