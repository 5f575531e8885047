// Streaming transcript deltas: the pure TranscriptDeltas rules, and the Session sending them while
// the user is still speaking.
#include <gtest/gtest.h>

#include "fakes.h"
#include "realtime/transcript_deltas.h"

namespace cadence::realtime::testing {
namespace {

TEST(TranscriptDeltasTest, SendsWordsOnceTwoPartialsAgreeAndALaterWordBegan) {
  TranscriptDeltas d;
  EXPECT_EQ(d.Partial("hell"), "");
  EXPECT_EQ(d.Partial("hello"), "");            // the last word is still growing
  EXPECT_EQ(d.Partial("hello wh"), "");         // "hello" agreed, but not yet followed in both
  EXPECT_EQ(d.Partial("hello what"), "hello");  // both partials have "hello " now
  EXPECT_EQ(d.Partial("hello what music"), "");  // "what" was the last word of the previous one
  EXPECT_EQ(d.Partial("hello what music do you"), " what");
  EXPECT_EQ(d.Final("hello what music do you like"), " music do you like");
  EXPECT_EQ(d.sent(), "hello what music do you like");
}

TEST(TranscriptDeltasTest, RevisedWordsAreHeldBackUntilPartialsAgreeAgain) {
  TranscriptDeltas d;
  d.Partial("the cat sat");
  EXPECT_EQ(d.Partial("the cat sat on"), "the cat");
  // The recognizer revises "cat": nothing that disagrees with what was sent goes out.
  EXPECT_EQ(d.Partial("the cap sat on the"), "");
  EXPECT_EQ(d.Partial("the cat sat on the mat"), "");   // agrees with the sent text, not with the last partial
  EXPECT_EQ(d.Partial("the cat sat on the mat now"), " sat on the");
  EXPECT_EQ(d.sent(), "the cat sat on the");
}

TEST(TranscriptDeltasTest, FinalThatRevisesSentTextAddsNothing) {
  TranscriptDeltas d;
  d.Partial("the cat sat");
  ASSERT_EQ(d.Partial("the cat sat down"), "the cat");
  EXPECT_EQ(d.Final("a cat sat down"), "");  // `completed` carries the truth
  EXPECT_EQ(d.Final("the cat"), "");         // nothing beyond what was sent
  EXPECT_EQ(d.sent(), "the cat");
}

TEST(TranscriptDeltasTest, HanTextSettlesCharacterByCharacter) {
  TranscriptDeltas d;
  EXPECT_EQ(d.Partial("你好"), "");
  EXPECT_EQ(d.Partial("你好吗"), "你");  // a character followed by another in both partials
  EXPECT_EQ(d.Partial("你好吗我很"), "好");
  EXPECT_EQ(d.Final("你好吗我很好"), "吗我很好");
  EXPECT_EQ(d.sent(), "你好吗我很好");
}

TEST(TranscriptDeltasTest, NoPartialsMeansTheWholeFinalIsOneDelta) {
  TranscriptDeltas d;
  EXPECT_EQ(d.Final("hello there"), "hello there");
  TranscriptDeltas empty;
  EXPECT_EQ(empty.Final(""), "");
}

// Runs the session's posted work after every 20 ms append, as a live strand would.
void AppendLive(Harness& h, int ms, double amplitude) {
  for (int done = 0; done < ms; done += 20) {
    h.AppendPcm16(20, amplitude);
    h.io->Drain();
  }
}

TEST(TranscriptDeltasSessionTest, DeltasStreamDuringSpeechAndConcatenateToTheCompletedTranscript) {
  Harness h;
  AppendLive(h, 400, 0.0);
  AppendLive(h, 1200, 0.3);
  // Still speaking: the first settled word has already arrived for the item being spoken.
  const auto during = h.Of("conversation.item.input_audio_transcription.delta");
  ASSERT_FALSE(during.empty());
  EXPECT_TRUE(h.Of("input_audio_buffer.speech_stopped").empty());
  const std::string item_id = h.Last("input_audio_buffer.speech_started")["item_id"];
  EXPECT_EQ(during.front()["item_id"], item_id);
  EXPECT_EQ(during.front()["content_index"], 0);
  EXPECT_TRUE(during.front()["event_id"].is_string());
  EXPECT_EQ(during.front()["delta"], "heard");

  AppendLive(h, 800, 0.0);
  const Json completed = h.Last("conversation.item.input_audio_transcription.completed");
  ASSERT_FALSE(completed.is_null());
  std::string joined;
  for (const auto& e : h.Of("conversation.item.input_audio_transcription.delta")) {
    EXPECT_EQ(e["item_id"], item_id);
    joined += e["delta"].get<std::string>();
  }
  EXPECT_EQ(joined, completed["transcript"].get<std::string>());
  // Rate-limited: at most one partial per 320 ms of fed audio (about 2.1 s were fed).
  EXPECT_GE(h.asr.partial_calls, 2);
  EXPECT_LE(h.asr.partial_calls, 7);
}

TEST(TranscriptDeltasSessionTest, NoDeltasWhenTranscriptionIsOff) {
  Harness h(/*beta=*/true);
  h.Client({{"type", "session.update"}, {"session", {{"input_audio_transcription", nullptr}}}});
  AppendLive(h, 400, 0.0);
  AppendLive(h, 1200, 0.3);
  AppendLive(h, 800, 0.0);
  EXPECT_FALSE(h.Of("input_audio_buffer.committed").empty());
  EXPECT_TRUE(h.Of("conversation.item.input_audio_transcription.delta").empty());
  EXPECT_TRUE(h.Of("conversation.item.input_audio_transcription.completed").empty());
}

}  // namespace
}  // namespace cadence::realtime::testing
