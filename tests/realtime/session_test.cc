// Event sequences of whole turns through the Session, over fake engines.
#include <gtest/gtest.h>

#include <algorithm>

#include "audio/pcm.h"
#include "fakes.h"

namespace cadence::realtime::testing {
namespace {

// Indexes of the first occurrence of each type, for order checks.
int IndexOf(const std::vector<std::string>& types, const std::string& type, int from = 0) {
  for (int i = from; i < static_cast<int>(types.size()); ++i) {
    if (types[i] == type) return i;
  }
  return -1;
}

size_t DecodedAudioBytes(const Harness& h, const std::string& delta_type) {
  size_t n = 0;
  for (const auto& e : h.Of(delta_type)) {
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(Base64Decode(e["delta"].get<std::string>(), &bytes).ok());
    n += bytes.size();
  }
  return n;
}

TEST(SessionTest, SessionCreatedHasGaShapeByDefault) {
  Harness h;
  auto created = h.Last("session.created");
  ASSERT_FALSE(created.is_null());
  EXPECT_TRUE(created["event_id"].is_string());
  const Json& s = created["session"];
  EXPECT_EQ(s["type"], "realtime");
  EXPECT_EQ(s["id"], "sess_test");
  EXPECT_EQ(s["audio"]["input"]["format"]["type"], "audio/pcm");
  EXPECT_EQ(s["audio"]["input"]["format"]["rate"], 24000);
  EXPECT_EQ(s["audio"]["input"]["turn_detection"]["type"], "server_vad");
  EXPECT_EQ(s["audio"]["output"]["voice"], "alloy");
  EXPECT_EQ(s["output_modalities"], Json::array({"audio"}));
  EXPECT_FALSE(s.contains("input_audio_format"));
}

TEST(SessionTest, SessionCreatedHasBetaShapeOnBetaConnection) {
  Harness h(/*beta=*/true);
  const Json s = h.Last("session.created")["session"];
  EXPECT_EQ(s["object"], "realtime.session");
  EXPECT_EQ(s["input_audio_format"], "pcm16");
  EXPECT_EQ(s["output_audio_format"], "pcm16");
  EXPECT_EQ(s["modalities"], Json::array({"text", "audio"}));
  EXPECT_EQ(s["turn_detection"]["silence_duration_ms"], 500);
  EXPECT_FALSE(s.contains("audio"));
}

TEST(SessionTest, VoiceTurnWithServerVad) {
  Harness h;
  h.AppendPcm16(400, 0.0);
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(800, 0.0);
  h.io->Drain();
  const auto types = h.Types();
  const int started = IndexOf(types, "input_audio_buffer.speech_started");
  const int stopped = IndexOf(types, "input_audio_buffer.speech_stopped");
  const int committed = IndexOf(types, "input_audio_buffer.committed");
  const int added = IndexOf(types, "conversation.item.added");
  const int transcript = IndexOf(types, "conversation.item.input_audio_transcription.completed");
  const int created = IndexOf(types, "response.created");
  const int first_audio = IndexOf(types, "response.output_audio.delta");
  const int done = IndexOf(types, "response.done");
  ASSERT_GE(started, 0);
  EXPECT_LT(started, stopped);
  EXPECT_LT(stopped, committed);
  EXPECT_LT(committed, added);
  EXPECT_LT(added, transcript);
  EXPECT_LT(transcript, first_audio);
  EXPECT_LT(created, first_audio);
  EXPECT_LT(first_audio, done);

  const Json start = h.Last("input_audio_buffer.speech_started");
  const Json stop = h.Last("input_audio_buffer.speech_stopped");
  // Speech began at 400 ms; 300 ms of prefix padding puts the item start near 100 ms.
  EXPECT_NEAR(start["audio_start_ms"].get<int>(), 100, 64);
  // It ends after the 500 ms of silence that closes the turn.
  EXPECT_NEAR(stop["audio_end_ms"].get<int>(), 1900, 96);
  EXPECT_EQ(start["item_id"], stop["item_id"]);
  EXPECT_EQ(h.Last("input_audio_buffer.committed")["item_id"], start["item_id"]);

  // The recognizer was fed exactly the committed span, and the loud part of it.
  const Json tr = h.Last("conversation.item.input_audio_transcription.completed");
  EXPECT_EQ(tr["item_id"], start["item_id"]);
  EXPECT_EQ(tr["content_index"], 0);
  const std::string text = tr["transcript"];
  int heard = 0, loud = 0;
  ASSERT_EQ(std::sscanf(text.c_str(), "heard %d ms loud %d ms", &heard, &loud), 2) << text;
  EXPECT_NEAR(heard, stop["audio_end_ms"].get<int>() - start["audio_start_ms"].get<int>(), 40);
  EXPECT_NEAR(loud, 893, 40);  // |sin| > 0.05/0.3 for 89.3% of a cycle

  // One assistant item across the response, indexes 0/0, and its audio is the synthesized speech.
  const Json resp_done = h.Last("response.done");
  EXPECT_EQ(resp_done["response"]["status"], "completed");
  const std::string resp_id = resp_done["response"]["id"];
  const std::string item_id = resp_done["response"]["output"][0]["id"];
  for (const auto& e : h.Events()) {
    const std::string t = e["type"];
    if (t.rfind("response.output_audio", 0) == 0 || t == "response.content_part.added") {
      EXPECT_EQ(e["response_id"], resp_id) << t;
      EXPECT_EQ(e["item_id"], item_id) << t;
      EXPECT_EQ(e["output_index"], 0) << t;
      EXPECT_EQ(e["content_index"], 0) << t;
    }
  }
  // "You said: heard N ms loud M ms." + "That is nice." = 8 + 3 words, 100 ms each.
  const size_t bytes = DecodedAudioBytes(h, "response.output_audio.delta");
  EXPECT_EQ(bytes, 11u * FakeSynthesizer::kSamplesPerWord * 2);
  const std::string spoken = h.Last("response.output_audio_transcript.done")["transcript"];
  EXPECT_EQ(spoken, "You said: " + text + ". That is nice.");
  EXPECT_EQ(resp_done["response"]["output"][0]["content"][0]["type"], "output_audio");
  EXPECT_EQ(resp_done["response"]["output"][0]["content"][0]["transcript"], spoken);
  EXPECT_GT(resp_done["response"]["usage"]["output_token_details"]["audio_tokens"].get<int>(), 0);
  // The brain saw the transcript as the user's turn.
  ASSERT_FALSE(h.brain.last_request.history.empty());
  EXPECT_EQ(h.brain.last_request.history.back().text, text);
  // Every server event has its own id.
  std::vector<std::string> ids;
  for (const auto& e : h.Events()) ids.push_back(e["event_id"]);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

// The turn detector's pause (224 ms into the 500 ms of silence that ends the turn) starts the
// recognizer's early final; the stop then takes it, and the transcript covers the audio up to the
// pause, not the whole committed span.
TEST(SessionTest, EarlyFinalAtThePauseBecomesTheTranscript) {
  Harness h;
  h.asr.early_finals = true;
  h.AppendPcm16(400, 0.0);
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(800, 0.0);
  h.io->Drain();
  const Json start = h.Last("input_audio_buffer.speech_started");
  const Json tr = h.Last("conversation.item.input_audio_transcription.completed");
  ASSERT_FALSE(tr.is_null());
  const std::string text = tr["transcript"];
  int heard = 0, loud = 0;
  ASSERT_EQ(std::sscanf(text.c_str(), "heard %d ms loud %d ms at pause", &heard, &loud), 2) << text;
  EXPECT_NE(text.find(" at pause"), std::string::npos) << text;
  // From the padded start (~100 ms) to the pause: speech ends at 1400 ms, plus 7 windows of
  // silence (ceil(200 / 32) x 32 = 224 ms), plus at most one feed batch (160 ms) of lookahead.
  const int pause_ms = 1400 + 224;
  EXPECT_GE(heard, pause_ms - start["audio_start_ms"].get<int>() - 40);
  EXPECT_LE(heard, pause_ms + 160 - start["audio_start_ms"].get<int>() + 40);
  EXPECT_NEAR(loud, 893, 40);
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
}

// Speech after a pause makes its early final stale. The turn's own pause, in the silence that
// stops it, is the one the transcript comes from; a commit while speech goes on finishes it all.
TEST(SessionTest, SpeechAfterAPauseMakesItsEarlyFinalStale) {
  Harness h;
  h.asr.early_finals = true;
  h.AppendPcm16(400, 0.0);
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(320, 0.0);  // a pause (224 ms), not a stop (500 ms)
  h.AppendPcm16(600, 0.3);
  h.AppendPcm16(800, 0.0);
  h.io->Drain();
  EXPECT_EQ(h.Of("input_audio_buffer.speech_started").size(), 1u);
  std::string text = h.Last("conversation.item.input_audio_transcription.completed")["transcript"];
  int heard = 0, loud = 0;
  ASSERT_EQ(std::sscanf(text.c_str(), "heard %d ms loud %d ms", &heard, &loud), 2) << text;
  EXPECT_NE(text.find(" at pause"), std::string::npos) << text;
  EXPECT_NEAR(loud, 1600 * 0.893, 40);  // both stretches of speech, not the first pause's

  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(320, 0.0);
  h.AppendPcm16(600, 0.3);
  h.Client({{"type", "input_audio_buffer.commit"}});
  h.io->Drain();
  text = h.Last("conversation.item.input_audio_transcription.completed")["transcript"];
  EXPECT_EQ(text.find("at pause"), std::string::npos) << text;
  ASSERT_EQ(std::sscanf(text.c_str(), "heard %d ms loud %d ms", &heard, &loud), 2) << text;
  EXPECT_NEAR(loud, 1600 * 0.893, 40);
}

TEST(SessionTest, ManualCommitThenResponseCreateBeta) {
  Harness h(/*beta=*/true);
  h.Client({{"type", "session.update"}, {"session", {{"turn_detection", nullptr}}}});
  EXPECT_TRUE(h.Last("session.updated")["session"]["turn_detection"].is_null());
  h.AppendPcm16(600, 0.3);
  h.AppendPcm16(400, 0.0);
  EXPECT_TRUE(h.Of("input_audio_buffer.speech_started").empty());  // no VAD in manual mode
  h.Client({{"type", "input_audio_buffer.commit"}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  const auto types = h.Types();
  EXPECT_LT(IndexOf(types, "input_audio_buffer.committed"), IndexOf(types, "conversation.item.created"));
  const Json tr = h.Last("conversation.item.input_audio_transcription.completed");
  int heard = 0, loud = 0;
  ASSERT_EQ(std::sscanf(tr["transcript"].get<std::string>().c_str(), "heard %d ms loud %d ms", &heard, &loud), 2);
  EXPECT_NEAR(heard, 1000, 3);  // all of it, including what the resampler held back
  EXPECT_NEAR(loud, 600 * 0.893, 30);
  EXPECT_GE(IndexOf(types, "response.audio.delta"), 0);
  EXPECT_GE(IndexOf(types, "response.audio_transcript.delta"), 0);
  EXPECT_EQ(IndexOf(types, "response.output_audio.delta"), -1);
  const Json done = h.Last("response.done")["response"];
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["modalities"], Json::array({"text", "audio"}));
  EXPECT_EQ(done["output"][0]["content"][0]["type"], "audio");
  // Commit of an empty buffer is an error, not a new item.
  h.Clear();
  h.Client({{"type", "input_audio_buffer.commit"}, {"event_id", "c2"}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "input_audio_buffer_commit_empty");
  EXPECT_EQ(h.Last("error")["error"]["event_id"], "c2");
}

TEST(SessionTest, TextTurnTextOnly) {
  for (bool beta : {false, true}) {
    Harness h(beta);
    h.Client({{"type", "conversation.item.create"},
              {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "hi there"}}}}}}});
    h.Client({{"type", "response.create"}, {"response", {{beta ? "modalities" : "output_modalities", {"text"}}}}});
    h.io->Drain();
    const std::string delta = beta ? "response.text.delta" : "response.output_text.delta";
    const std::string done = beta ? "response.text.done" : "response.output_text.done";
    EXPECT_FALSE(h.Of(delta).empty());
    EXPECT_EQ(h.Last(done)["text"], "You said: hi there. That is nice.");
    EXPECT_TRUE(h.Of(beta ? "response.audio.delta" : "response.output_audio.delta").empty());
    const Json resp = h.Last("response.done")["response"];
    EXPECT_EQ(resp["status"], "completed");
    EXPECT_EQ(resp["output"][0]["content"][0]["type"], beta ? "text" : "output_text");
    EXPECT_EQ(resp["output"][0]["content"][0]["text"], "You said: hi there. That is nice.");
    if (!beta) {
      EXPECT_FALSE(h.Of("conversation.item.done").empty());
    }
  }
}

TEST(SessionTest, TextTurnWithAudioAndText) {
  Harness h;
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "hello"}}}}}}});
  h.Client({{"type", "response.create"}, {"response", {{"output_modalities", {"audio", "text"}}}}});
  h.io->Drain();
  EXPECT_EQ(DecodedAudioBytes(h, "response.output_audio.delta"), 6u * FakeSynthesizer::kSamplesPerWord * 2);
  EXPECT_EQ(h.Last("response.output_audio_transcript.done")["transcript"], "You said: hello. That is nice.");
}

TEST(SessionTest, BargeInCancelsResponseAndTruncatesToWhatWasSent) {
  Harness h;
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "tell me"}}}}}}});
  h.Client({{"type", "response.create"}});
  // Deliver only part of the reply: the first sentence's transcript and a few audio chunks.
  h.io->Drain(4);
  const size_t sent_before = h.Of("response.output_audio.delta").size();
  ASSERT_GT(sent_before, 0u);
  h.AppendPcm16(300, 0.3);  // user speaks over the reply
  const auto types = h.Types();
  const int started = IndexOf(types, "input_audio_buffer.speech_started");
  const int done = IndexOf(types, "response.done");
  ASSERT_GE(started, 0);
  ASSERT_GT(done, started);
  const Json resp = h.Last("response.done")["response"];
  EXPECT_EQ(resp["status"], "cancelled");
  EXPECT_EQ(resp["status_details"]["reason"], "turn_detected");
  EXPECT_EQ(resp["output"][0]["status"], "incomplete");
  // Late results of the cancelled response are dropped.
  h.io->Drain();
  auto after = h.Types();
  for (size_t i = static_cast<size_t>(done); i < after.size(); ++i) {
    EXPECT_NE(after[i], "response.output_audio.delta");
  }
  // The item holds only what was sent: audio ms and the transcript of the first sentence.
  const std::string item_id = resp["output"][0]["id"];
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", item_id}});
  const Json item = h.Last("conversation.item.retrieved")["item"];
  const std::string transcript = item["content"][0]["transcript"];
  EXPECT_LT(transcript.size(), std::string("You said: tell me. That is nice.").size());
  EXPECT_EQ(std::string("You said: tell me. That is nice.").rfind(transcript, 0), 0u) << transcript;
}

TEST(SessionTest, ClientTruncateCutsTranscript) {
  Harness h;
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "x"}}}}}}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  const Json resp = h.Last("response.done")["response"];
  const std::string item_id = resp["output"][0]["id"];
  // "You said: x." (3 words, 300 ms) then "That is nice." (3 words): cut inside the second sentence.
  h.Client({{"type", "conversation.item.truncate"}, {"item_id", item_id}, {"content_index", 0}, {"audio_end_ms", 400}});
  const Json tr = h.Last("conversation.item.truncated");
  EXPECT_EQ(tr["item_id"], item_id);
  EXPECT_EQ(tr["audio_end_ms"], 400);
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", item_id}});
  const std::string transcript = h.Last("conversation.item.retrieved")["item"]["content"][0]["transcript"];
  EXPECT_EQ(transcript.rfind("You said: x.", 0), 0u) << transcript;
  EXPECT_LT(transcript.size(), std::string("You said: x. That is nice.").size()) << transcript;
  // Beyond the audio: error, nothing changes.
  h.Client({{"type", "conversation.item.truncate"}, {"item_id", item_id}, {"content_index", 0}, {"audio_end_ms", 99999}});
  EXPECT_EQ(h.Last("error")["error"]["param"], "audio_end_ms");
}

TEST(SessionTest, G711InAndOut) {
  Harness h(/*beta=*/true);
  h.Client({{"type", "session.update"},
            {"session", {{"input_audio_format", "g711_ulaw"}, {"output_audio_format", "g711_alaw"}}}});
  const Json s = h.Last("session.updated")["session"];
  EXPECT_EQ(s["input_audio_format"], "g711_ulaw");
  EXPECT_EQ(s["output_audio_format"], "g711_alaw");
  auto append_ulaw = [&](int ms, double amp) {
    static int64_t phase = 0;
    for (int d = 0; d < ms; d += 20) {
      std::vector<uint8_t> bytes;
      for (int i = 0; i < 160; ++i) {
        const double x = amp * std::sin(2 * M_PI * 300.0 * (phase++) / 8000.0);
        bytes.push_back(audio::LinearToUlaw(static_cast<int16_t>(std::lround(x * 32767))));
      }
      h.Client({{"type", "input_audio_buffer.append"}, {"audio", Base64Encode(bytes)}});
    }
  };
  append_ulaw(300, 0.0);
  append_ulaw(800, 0.3);
  append_ulaw(800, 0.0);
  h.io->Drain();
  ASSERT_FALSE(h.Of("input_audio_buffer.speech_started").empty());
  const std::string text = h.Last("conversation.item.input_audio_transcription.completed")["transcript"];
  int heard = 0, loud = 0;
  ASSERT_EQ(std::sscanf(text.c_str(), "heard %d ms loud %d ms", &heard, &loud), 2) << text;
  EXPECT_NEAR(loud, 800 * 0.893, 40);
  // Output: 8 kHz A-law, one byte per sample: 11 words x 100 ms x 8 samples/ms (resampler tail within 2%).
  const size_t bytes = DecodedAudioBytes(h, "response.audio.delta");
  EXPECT_NEAR(static_cast<double>(bytes), 11 * 800.0, 11 * 800.0 * 0.02);
  // And it decodes as A-law speech-level audio, not silence.
  std::vector<uint8_t> first;
  ASSERT_TRUE(Base64Decode(h.Of("response.audio.delta")[0]["delta"].get<std::string>(), &first).ok());
  std::vector<float> pcm;
  audio::DecodeSamples(audio::SampleFormat::kG711Alaw, first, &pcm);
  float peak = 0;
  for (float x : pcm) peak = std::max(peak, std::fabs(x));
  EXPECT_GT(peak, 0.2f);
}

TEST(SessionTest, GaShapeAcceptedOnBetaConnectionAndViceVersa) {
  Harness beta(/*beta=*/true);
  beta.Raw(R"({"type":"session.update","session":{"type":"realtime","audio":{
      "input":{"format":{"type":"audio/pcmu"}},
      "output":{"voice":"ash","format":{"type":"audio/pcma"}}}}})");
  Json s = beta.Last("session.updated")["session"];
  EXPECT_EQ(s["input_audio_format"], "g711_ulaw");
  EXPECT_EQ(s["output_audio_format"], "g711_alaw");
  EXPECT_EQ(s["voice"], "ash");
  Harness ga;
  ga.Client({{"type", "session.update"},
             {"session", {{"modalities", {"text"}}, {"voice", "qingchunshaonv"}, {"input_audio_format", "g711_alaw"}}}});
  s = ga.Last("session.updated")["session"];
  EXPECT_EQ(s["output_modalities"], Json::array({"text"}));
  EXPECT_EQ(s["audio"]["output"]["voice"], "qingchunshaonv");
  EXPECT_EQ(s["audio"]["input"]["format"]["type"], "audio/pcma");
  ga.Client({{"type", "conversation.item.create"},
             {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "a"}}}}}}});
  ga.Client({{"type", "response.create"}, {"response", {{"voice", "ash"}, {"modalities", {"audio", "text"}}}}});
  ga.io->Drain();
  EXPECT_EQ(ga.tts.last_voice, "slt");
  EXPECT_FALSE(ga.Of("response.output_audio.delta").empty());
}

TEST(SessionTest, ItemDeleteRetrieveAndPreviousItem) {
  Harness h(/*beta=*/true);
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"id", "item_a"}, {"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "a"}}}}}}});
  h.Client({{"type", "conversation.item.create"},
            {"previous_item_id", "root"},
            {"item", {{"id", "item_b"}, {"type", "message"}, {"role", "system"}, {"content", {{{"type", "input_text"}, {"text", "b"}}}}}}});
  EXPECT_TRUE(h.Last("conversation.item.created")["previous_item_id"].is_null());
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", "item_a"}});
  EXPECT_EQ(h.Last("conversation.item.retrieved")["item"]["content"][0]["text"], "a");
  h.Client({{"type", "conversation.item.delete"}, {"item_id", "item_a"}});
  EXPECT_EQ(h.Last("conversation.item.deleted")["item_id"], "item_a");
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", "item_a"}, {"event_id", "r1"}});
  EXPECT_EQ(h.Last("error")["error"]["code"], "item_not_found");
  EXPECT_EQ(h.Last("error")["error"]["event_id"], "r1");
}

TEST(SessionTest, ResponseCancelByClient) {
  Harness h;
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "go"}}}}}}});
  h.Client({{"type", "response.create"}});
  h.io->Drain(2);
  h.Client({{"type", "response.cancel"}});
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "cancelled");
  EXPECT_EQ(h.Last("response.done")["response"]["status_details"]["reason"], "client_cancelled");
  h.io->Drain();
  EXPECT_EQ(h.Of("response.done").size(), 1u);
}

TEST(SessionTest, BrainFailureEndsResponseFailed) {
  Harness h;
  h.brain.fail = true;
  h.Client({{"type", "response.create"}, {"response", {{"output_modalities", {"text"}}}}});
  h.io->Drain();
  const Json resp = h.Last("response.done")["response"];
  EXPECT_EQ(resp["status"], "failed");
  EXPECT_EQ(resp["status_details"]["error"]["code"], "unavailable");
}

TEST(SessionTest, LateResultsAfterCloseAreDropped) {
  Harness h;
  h.Client({{"type", "response.create"}});
  h.session->OnClose();
  const size_t n = h.io->frames.size();
  h.io->Drain();
  EXPECT_EQ(h.io->frames.size(), n);
  h.Client({{"type", "response.create"}});  // ignored after close, no crash
  EXPECT_EQ(h.io->frames.size(), n);
}

}  // namespace
}  // namespace cadence::realtime::testing
