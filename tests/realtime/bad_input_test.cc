// Every bad client input gets an `error` event naming code, param and the client's event_id;
// none closes the session or loses what was accepted before.
#include <gtest/gtest.h>

#include "fakes.h"

namespace cadence::realtime::testing {
namespace {

struct Case {
  const char* name;
  std::string frame;
  const char* code;
  const char* param;  // "" means null
};

TEST(BadInputTest, EachGetsAnErrorAndTheSessionKeepsWorking) {
  Harness h;
  h.AppendPcm16(200, 0.0);  // accepted audio that must survive the errors below
  const std::vector<Case> cases = {
      {"malformed json", R"({"type":"session.update","event_id":"e1",)", "invalid_json", ""},
      {"not an object", R"([1,2,3])", "invalid_event", ""},
      {"missing type", R"({"event_id":"e1"})", "missing_required_parameter", "type"},
      {"type not string", R"({"type":5,"event_id":"e1"})", "invalid_type", "type"},
      {"unknown type", R"({"type":"input_audio_buffer.explode","event_id":"e1"})", "unknown_event_type", "type"},
      {"missing audio", R"({"type":"input_audio_buffer.append","event_id":"e1"})", "missing_required_parameter",
       "audio"},
      {"audio not string", R"({"type":"input_audio_buffer.append","event_id":"e1","audio":7})", "invalid_type",
       "audio"},
      {"invalid base64", R"({"type":"input_audio_buffer.append","event_id":"e1","audio":"AAA*"})", "invalid_base64",
       "audio"},
      {"odd pcm16", R"({"type":"input_audio_buffer.append","event_id":"e1","audio":"AAAA"})", "invalid_audio_length",
       "audio"},
      {"unknown voice", R"({"type":"session.update","event_id":"e1","session":{"voice":"nobody"}})", "invalid_value",
       "session.voice"},
      {"unknown GA voice", R"({"type":"session.update","event_id":"e1","session":{"audio":{"output":{"voice":"zz"}}}})",
       "invalid_value", "session.audio.output.voice"},
      {"bad format", R"({"type":"session.update","event_id":"e1","session":{"input_audio_format":"mp3"}})",
       "invalid_value", "session.input_audio_format"},
      {"bad modalities", R"({"type":"session.update","event_id":"e1","session":{"modalities":["video"]}})",
       "invalid_value", "session.modalities"},
      {"session not object", R"({"type":"session.update","event_id":"e1","session":3})", "invalid_type", "session"},
      {"missing session", R"({"type":"session.update","event_id":"e1"})", "missing_required_parameter", "session"},
      {"bad item role", R"({"type":"conversation.item.create","event_id":"e1","item":{"type":"message","role":"robot","content":[]}})",
       "invalid_value", "item.role"},
      {"bad content type", R"({"type":"conversation.item.create","event_id":"e1","item":{"type":"message","role":"user","content":[{"type":"input_video"}]}})",
       "invalid_value", "item.content[0].type"},
      {"missing item", R"({"type":"conversation.item.create","event_id":"e1"})", "missing_required_parameter", "item"},
      {"unknown previous", R"({"type":"conversation.item.create","event_id":"e1","previous_item_id":"nope","item":{"type":"message","role":"user","content":[]}})",
       "item_not_found", "previous_item_id"},
      {"truncate unknown", R"({"type":"conversation.item.truncate","event_id":"e1","item_id":"x","content_index":0,"audio_end_ms":5})",
       "item_not_found", "item_id"},
      {"truncate missing ms", R"({"type":"conversation.item.truncate","event_id":"e1","item_id":"x","content_index":0})",
       "missing_required_parameter", "audio_end_ms"},
      {"delete unknown", R"({"type":"conversation.item.delete","event_id":"e1","item_id":"x"})", "item_not_found",
       "item_id"},
      {"cancel nothing", R"({"type":"response.cancel","event_id":"e1"})", "response_cancel_not_active", ""},
      {"bad response modality", R"({"type":"response.create","event_id":"e1","response":{"modalities":["smell"]}})",
       "invalid_value", "response.modalities"},
      {"bad response voice", R"({"type":"response.create","event_id":"e1","response":{"voice":"nobody"}})",
       "invalid_value", "response.voice"},
  };
  for (const auto& c : cases) {
    h.Clear();
    h.Raw(c.frame);
    const auto errors = h.Of("error");
    ASSERT_EQ(errors.size(), 1u) << c.name;
    const Json& e = errors[0]["error"];
    EXPECT_EQ(e["code"], c.code) << c.name << ": " << e.dump();
    if (std::string(c.param).empty()) {
      EXPECT_TRUE(e["param"].is_null()) << c.name << ": " << e.dump();
    } else {
      EXPECT_EQ(e["param"], c.param) << c.name;
    }
    EXPECT_EQ(e["type"], "invalid_request_error") << c.name;
    EXPECT_FALSE(e["message"].get<std::string>().empty()) << c.name;
    if (std::string(c.name) != "not an object") {
      EXPECT_EQ(e["event_id"], "e1") << c.name;  // even from the malformed frame
    }
    EXPECT_TRUE(errors[0]["event_id"].is_string());
  }
  // The session still works: the 200 ms accepted earlier plus a full turn.
  h.Clear();
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(700, 0.0);
  h.io->Drain();
  EXPECT_TRUE(h.Of("error").empty());
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
  const Json start = h.Last("input_audio_buffer.speech_started");
  EXPECT_NEAR(start["audio_start_ms"].get<int>(), 200 - 200, 64);  // padding reaches into the early audio
}

TEST(BadInputTest, SecondResponseWhileActiveIsAnError) {
  Harness h;
  h.Client({{"type", "response.create"}});
  h.Client({{"type", "response.create"}, {"event_id", "r2"}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "conversation_already_has_active_response");
  EXPECT_EQ(h.Last("error")["error"]["event_id"], "r2");
  h.io->Drain();
  EXPECT_EQ(h.Of("response.done").size(), 1u);
}

TEST(BadInputTest, AppendBeyondBufferLimitKeepsEarlierAudio) {
  // 24 kHz pcm16 = 48 000 bytes per second; the limit allows one second.
  Harness h(/*beta=*/false, /*max_buffer=*/48000);
  h.Client({{"type", "session.update"}, {"session", {{"turn_detection", nullptr}}}});
  h.AppendPcm16(1000, 0.3);
  EXPECT_TRUE(h.Of("error").empty());
  h.Clear();
  h.AppendPcm16(200, 0.3);
  const auto errors = h.Of("error");
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0]["error"]["code"], "input_audio_buffer_full");
  h.Client({{"type", "input_audio_buffer.commit"}});
  h.io->Drain();
  const std::string text = h.Last("conversation.item.input_audio_transcription.completed")["transcript"];
  int heard = 0, loud = 0;
  ASSERT_EQ(std::sscanf(text.c_str(), "heard %d ms loud %d ms", &heard, &loud), 2) << text;
  EXPECT_NEAR(heard, 1000, 30);  // what was accepted, not what was refused
}

TEST(BadInputTest, HugeGarbageFrameDoesNotCrash) {
  Harness h;
  std::string frame(1 << 20, '{');
  h.Raw(frame);
  EXPECT_EQ(h.Last("error")["error"]["code"], "json_too_deep");
  std::string bad_utf8 = "{\"type\":\"session.update\",\"session\":{\"instructions\":\"\xff\xfe\"}}";
  h.Raw(bad_utf8);
  EXPECT_FALSE(h.Of("error").empty());
}

}  // namespace
}  // namespace cadence::realtime::testing
