// Budgets and lifetime of one session (SessionLimits): what a hostile or careless client cannot
// make a session hold or queue, and how the session ends itself. Each test drives the session
// over the fakes and checks the error code a client sees and that the session keeps working.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "core/json_depth.h"
#include "core/thread_pool.h"
#include "realtime/fakes.h"

namespace cadence::realtime::testing {
namespace {

// `depth` nested arrays around a string.
std::string Nested(size_t depth) { return std::string(depth, '[') + "\"x\"" + std::string(depth, ']'); }

void ExpectStillWorks(Harness& h) {
  h.Clear();
  h.Client({{"type", "session.update"}, {"session", {{"instructions", "still here"}}}});
  ASSERT_EQ(h.Of("session.updated").size(), 1u);
  EXPECT_EQ(h.Last("session.updated")["session"]["instructions"], "still here");
}

TEST(SessionLimitsTest, DeeplyNestedValuesInCopiedFieldsAreRefusedWithTheirEventId) {
  Harness h;
  const std::string deep = Nested(20000);
  for (const std::string& frame : {
           R"({"type":"session.update","event_id":"evt_tools","session":{"tools":)" + deep + "}}",
           R"({"type":"response.create","event_id":"evt_meta","response":{"metadata":{"k":)" + deep + "}}}",
           R"({"type":"session.update","event_id":"evt_persona","session":{"persona":{"data":)" + deep + "}}}"}) {
    h.Clear();
    h.Raw(frame);
    ASSERT_EQ(h.Of("error").size(), 1u) << frame.substr(0, 60);
    EXPECT_EQ(h.Last("error")["error"]["code"], "json_too_deep");
    EXPECT_NE(h.Last("error")["error"]["event_id"], nullptr);
    EXPECT_TRUE(h.Of("session.updated").empty());
  }
  ExpectStillWorks(h);
}

TEST(SessionLimitsTest, NestingUpToTheLimitIsAccepted) {
  Harness h;
  // tools: [ {parameters: <60 levels>} ] is 1 (frame) + 1 (session) + 1 (array) + 1 (object) + 60.
  const std::string frame = R"({"type":"session.update","session":{"tools":[{"type":"function","name":"f","parameters":)" +
                            Nested(kMaxJsonDepth - 4) + "}]}}";
  h.Raw(frame);
  EXPECT_TRUE(h.Of("error").empty()) << h.Last("error").dump();
  EXPECT_EQ(h.Of("session.updated").size(), 1u);
}

TEST(SessionLimitsTest, OutOfRangeNumberIsInvalidJsonWithTheEventId) {
  Harness h;
  h.Raw(R"({"type":"session.update","event_id":"evt_big","session":{"turn_detection":{"type":"server_vad","threshold":1e999}}})");
  ASSERT_EQ(h.Of("error").size(), 1u);
  EXPECT_EQ(h.Last("error")["error"]["code"], "invalid_json");
  EXPECT_EQ(h.Last("error")["error"]["event_id"], "evt_big");
  ExpectStillWorks(h);
}

TEST(SessionLimitsTest, AnErrorNeverGrowsWithWhatItQuotes) {
  Harness h;
  const std::string huge(9u << 20, 'x');
  h.Client({{"type", huge}, {"event_id", huge}});
  ASSERT_EQ(h.io->frames.size(), 2u);  // session.created, error
  EXPECT_LT(h.io->frames.back().size(), 2048u);
  EXPECT_EQ(h.Last("error")["error"]["code"], "unknown_event_type");
}

TEST(SessionLimitsTest, InstructionsAndToolsOverTheirBudgetAreRefusedAndNothingChanges) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) {
    l->max_instructions_bytes = 1000;
    l->max_tools_bytes = 1000;
  });
  h.Client({{"type", "session.update"}, {"session", {{"instructions", std::string(1001, 'a')}}}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "instructions_too_large");
  EXPECT_EQ(h.Last("error")["error"]["param"], "session.instructions");
  Json tool = {{"type", "function"}, {"name", "f"}, {"description", std::string(1000, 'd')}};
  h.Client({{"type", "session.update"}, {"session", {{"tools", Json::array({tool})}}}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "tools_too_large");
  h.Client({{"type", "response.create"}, {"response", {{"instructions", std::string(1001, 'a')}}}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "instructions_too_large");
  EXPECT_TRUE(h.Of("session.updated").empty());
  EXPECT_TRUE(h.Of("response.created").empty());
  h.Client({{"type", "session.update"}, {"session", {{"instructions", std::string(1000, 'a')}}}});
  EXPECT_EQ(h.Of("session.updated").size(), 1u);
}

TEST(SessionLimitsTest, HistoryIsBoundedByBytesDroppingTheOldestItems) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->max_history_bytes = 10000; });
  auto create = [&](const std::string& id, size_t bytes) {
    h.Client({{"type", "conversation.item.create"},
              {"item",
               {{"id", id}, {"type", "message"}, {"role", "user"},
                {"content", Json::array({{{"type", "input_text"}, {"text", std::string(bytes, 'w')}}})}}}});
  };
  for (int i = 0; i < 5; ++i) create("item_" + std::to_string(i), 3000);
  EXPECT_TRUE(h.Of("error").empty());
  // 5 x 3000 bytes into 10000: items 0 and 1 went, 2..4 stay.
  for (int i = 0; i < 5; ++i) {
    h.Clear();
    h.Client({{"type", "conversation.item.retrieve"}, {"item_id", "item_" + std::to_string(i)}});
    EXPECT_EQ(h.Of("conversation.item.retrieved").size(), i >= 2 ? 1u : 0u) << i;
  }
  h.Clear();
  create("item_big", 10001);
  EXPECT_EQ(h.Last("error")["error"]["code"], "item_too_large");
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", "item_4"}});
  EXPECT_EQ(h.Of("conversation.item.retrieved").size(), 1u);
}

TEST(SessionLimitsTest, HistoryKeepsAtMostMaxItems) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->max_history_items = 3; });
  for (int i = 0; i < 5; ++i) {
    h.Client({{"type", "conversation.item.create"},
              {"item", {{"id", "it_" + std::to_string(i)}, {"type", "message"}, {"role", "user"},
                        {"content", Json::array({{{"type", "input_text"}, {"text", "hi"}}})}}}});
  }
  h.Clear();
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", "it_1"}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "item_not_found");
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", "it_2"}});
  EXPECT_EQ(h.Of("conversation.item.retrieved").size(), 1u);
}

TEST(SessionLimitsTest, MetadataFollowsOpenAisShape) {
  Harness h;
  Json many = Json::object();
  for (int i = 0; i < 17; ++i) many["k" + std::to_string(i)] = "v";
  h.Client({{"type", "response.create"}, {"response", {{"metadata", many}}}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "invalid_value");
  h.Client({{"type", "response.create"}, {"response", {{"metadata", {{"k", std::string(513, 'v')}}}}}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "invalid_value");
  h.Client({{"type", "response.create"}, {"response", {{"metadata", {{"k", 5}}}}}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "invalid_value");
  EXPECT_TRUE(h.Of("response.created").empty());
  h.Client({{"type", "response.create"}, {"response", {{"metadata", {{"topic", "weather"}}}}}});
  ASSERT_EQ(h.Of("response.created").size(), 1u);
  EXPECT_EQ(h.Last("response.created")["response"]["metadata"]["topic"], "weather");
}

TEST(SessionLimitsTest, PendingTranscriptionsAreBoundedAndTheBufferIsKept) {
  // Transcripts come back through Post(): until the test drains, every commit is pending.
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->max_pending_transcriptions = 2; });
  h.Client({{"type", "session.update"},
            {"session", {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}}}});
  for (int i = 0; i < 2; ++i) {
    h.AppendPcm16(200, 0.3);
    h.Client({{"type", "input_audio_buffer.commit"}});
  }
  EXPECT_EQ(h.Of("input_audio_buffer.committed").size(), 2u);
  h.AppendPcm16(200, 0.3);
  h.Client({{"type", "input_audio_buffer.commit"}, {"event_id", "evt_third"}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "too_many_pending_transcriptions");
  EXPECT_EQ(h.Last("error")["error"]["event_id"], "evt_third");
  EXPECT_EQ(h.Of("input_audio_buffer.committed").size(), 2u);
  h.io->Drain();  // the two transcripts arrive
  EXPECT_EQ(h.Of("conversation.item.input_audio_transcription.completed").size(), 2u);
  h.Clear();
  h.Client({{"type", "input_audio_buffer.commit"}});  // the kept 200 ms go now
  ASSERT_EQ(h.Of("input_audio_buffer.committed").size(), 1u);
  h.io->Drain();
  ASSERT_EQ(h.Of("conversation.item.input_audio_transcription.completed").size(), 1u);
  const std::string transcript = h.Last("conversation.item.input_audio_transcription.completed")["transcript"];
  EXPECT_EQ(transcript.rfind("heard 200 ms ", 0), 0u) << transcript;
}

TEST(SessionLimitsTest, QueuedRecognitionAudioIsBounded) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->max_pending_audio_s = 1.0; });
  h.Client({{"type", "session.update"},
            {"session", {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}}}});
  h.AppendPcm16(1500, 0.3);  // one commit over the budget is taken when nothing is pending
  h.Client({{"type", "input_audio_buffer.commit"}});
  EXPECT_EQ(h.Of("input_audio_buffer.committed").size(), 1u);
  h.AppendPcm16(200, 0.3);
  h.Client({{"type", "input_audio_buffer.commit"}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "recognition_backlog_full");
  h.io->Drain();
  h.Client({{"type", "input_audio_buffer.commit"}});
  EXPECT_EQ(h.Of("input_audio_buffer.committed").size(), 2u);
}

// A recognizer whose finals are counted, to see which committed turns were decoded.
class CountingRecognizer : public FakeRecognizer {
 public:
  class Stream : public FakeRecognizerStream {
   public:
    explicit Stream(std::atomic<int>* finals) : finals_(finals) {}
    Result<speech::Transcript> Finish() override {
      ++*finals_;
      return FakeRecognizerStream::Finish();
    }
    std::atomic<int>* finals_;
  };
  std::unique_ptr<speech::RecognizerStream> CreateStream() const override {
    return std::make_unique<Stream>(&finals);
  }
  mutable std::atomic<int> finals{0};
};

TEST(SessionLimitsTest, ClosingTheSessionCancelsItsCommittedTurns) {
  ThreadPool pool(1);
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  CountingRecognizer asr;
  {
    Harness h(false, 15u << 20, [&](Engines* e) {
      e->workers = &pool;
      e->asr = &asr;
    });
    h.Client({{"type", "session.update"},
              {"session", {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}}}});
    pool.Submit([opened] { opened.wait(); });  // the worker is busy with someone else's audio
    for (int i = 0; i < 3; ++i) {
      h.AppendPcm16(200, 0.3);
      h.Client({{"type", "input_audio_buffer.commit"}});
    }
    EXPECT_EQ(h.Of("input_audio_buffer.committed").size(), 3u);
    h.session->OnClose();  // the client went away right after its turns
  }
  gate.set_value();
  for (int i = 0; i < 100 && pool.pending() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(asr.finals.load(), 0);
}

TEST(SessionLimitsTest, ExpiresAfterItsDurationWithAWarningFirst) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->max_duration_s = 600; });
  const int64_t expires_at = h.Last("session.created")["session"]["expires_at"];
  h.io->Advance(539'000);
  EXPECT_TRUE(h.Of("session.expiring").empty());
  h.io->Advance(2'000);
  ASSERT_EQ(h.Of("session.expiring").size(), 1u);
  EXPECT_EQ(h.Last("session.expiring")["expires_at"], expires_at);
  EXPECT_TRUE(h.io->closed_reason.empty());
  h.Client({{"type", "session.update"}, {"session", {{"instructions", "x"}}}});  // activity does not extend it
  h.io->Advance(60'000);
  EXPECT_EQ(h.Last("error")["error"]["code"], "session_expired");
  EXPECT_EQ(h.io->closed_reason, "session_expired");
  const size_t sent = h.io->frames.size();
  h.Client({{"type", "session.update"}, {"session", {{"instructions", "y"}}}});
  EXPECT_EQ(h.io->frames.size(), sent);  // nothing more once it ended
}

TEST(SessionLimitsTest, CreatedSessionSaysWhenItExpires) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->max_duration_s = 3600; });
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t expires_at = h.Last("session.created")["session"]["expires_at"];
  EXPECT_NEAR(static_cast<double>(expires_at - now_s), 3600.0, 5.0);
}

TEST(SessionLimitsTest, IdleSessionTimesOutButActivityKeepsItOpen) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->idle_timeout_s = 100; });
  h.io->Advance(90'000);
  h.Client({{"type", "session.update"}, {"session", {{"instructions", "x"}}}});
  h.io->Advance(90'000);  // 90 s since the last event
  EXPECT_TRUE(h.io->closed_reason.empty());
  h.io->Advance(20'000);
  EXPECT_EQ(h.Last("error")["error"]["code"], "session_idle_timeout");
  EXPECT_EQ(h.io->closed_reason, "session_idle_timeout");
}

std::string Words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += (i ? " w" : "w") + std::to_string(i);
  return text;
}

int64_t SentAudioMs(const Harness& h) {
  int64_t bytes = 0;
  for (const Json& e : h.Of("response.output_audio.delta")) {
    bytes += static_cast<int64_t>(Base64DecodedSize(e["delta"].get<std::string>()));
  }
  return bytes / 2 * 1000 / 24000;
}

TEST(SessionLimitsTest, ReplyAudioIsPacedAFewSecondsAheadOfRealTime) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->audio_lead_s = 1.0; });
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"},
                      {"content", Json::array({{{"type", "input_text"}, {"text", Words(40)}}})}}}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();  // the whole reply (4.5 s) is synthesized
  // Each 100 ms word is one delta: at most the lead plus one delta leaves at once.
  EXPECT_GE(SentAudioMs(h), 1000);
  EXPECT_LE(SentAudioMs(h), 1100);
  EXPECT_TRUE(h.Of("response.done").empty());
  h.io->Advance(1000);
  EXPECT_GE(SentAudioMs(h), 2000);
  EXPECT_LE(SentAudioMs(h), 2100);
  h.io->Advance(10'000);
  ASSERT_EQ(h.Of("response.done").size(), 1u);
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
  EXPECT_EQ(SentAudioMs(h), 4500);  // 45 spoken words of 100 ms
}

TEST(SessionLimitsTest, CancellingAPacedReplyKeepsOnlyWhatWasSent) {
  Harness h(false, 15u << 20, {}, [](SessionLimits* l) { l->audio_lead_s = 1.0; });
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"},
                      {"content", Json::array({{{"type", "input_text"}, {"text", Words(40)}}})}}}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  h.io->Advance(500);
  const int64_t sent_ms = SentAudioMs(h);
  h.Client({{"type", "response.cancel"}});
  ASSERT_EQ(h.Of("response.done").size(), 1u);
  const Json done = h.Last("response.done")["response"];
  EXPECT_EQ(done["status"], "cancelled");
  h.io->Advance(10'000);
  EXPECT_EQ(SentAudioMs(h), sent_ms);  // nothing held leaves after the cancel
  const std::string item_id = done["output"][0]["id"];
  h.Clear();
  h.Client({{"type", "conversation.item.truncate"}, {"item_id", item_id}, {"content_index", 0},
            {"audio_end_ms", sent_ms + 100}});
  EXPECT_EQ(h.Last("error")["error"]["param"], "audio_end_ms");  // the item holds only what was sent
}

}  // namespace
}  // namespace cadence::realtime::testing
