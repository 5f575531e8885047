// A session whose brain hears and speaks (Step-Audio 2's shape: Brain::hears_audio, speaks,
// ReplySpoken), its speech tokens rendered by real TokenVoices on the tiny token2wav folder
// (tests/engine/data/token2wav/tiny): the committed audio reaches the brain without a recognizer,
// the reply's audio is what token2wav renders for its tokens, barge-in and response.cancel fire
// the brain's cancel token, a brain failing mid-reply fails the response and the next turn works,
// and the session's voices are the token voices.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/thread_pool.h"
#include "fakes.h"
#include "realtime/http_api.h"
#include "speech/tts/token_voices.h"
#include "strand_io.h"

namespace cadence::realtime::testing {
namespace {

using Clock = std::chrono::steady_clock;

const speech::TokenVoices& Voices() {
  static const speech::TokenVoices* voices = [] {
    speech::TokenVoicesConfig config;
    config.token2wav_dir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/tiny";
    config.threads = 1;
    config.chunk_tokens = 25;
    auto v = speech::TokenVoices::Create(config);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value().release() : nullptr;
  }();
  return *voices;
}

// Hears and speaks: ReplySpoken records the request, then says kText in small pieces while it
// streams kTokens speech tokens in pieces of 15. Optionally fails after `fail_after` tokens, or
// (call number `block_call`) stops after `block_after` tokens until its cancel token fires.
class FakeSpeakingBrain : public brain::Brain {
 public:
  static constexpr const char* kText = "Hello from the model. It speaks for itself.";
  static constexpr const char* kLongText = "Hello from the model. It speaks for itself. It is done.";
  static constexpr int kTokens = 60;

  std::string_view kind() const override { return "fake-speaking"; }
  bool hears_audio() const override { return true; }
  bool speaks() const override { return true; }
  Status Reply(const brain::ReplyRequest& request, const CancelToken& cancel,
               const brain::TextSink& on_text) const override {
    ++text_calls;
    return on_text(kText) ? Status::Ok() : Status::Cancelled("stopped");
  }
  using brain::Brain::ReplySpoken;
  Status ReplySpoken(const brain::ReplyRequest& request, const CancelToken& cancel, const brain::TextSink& on_text,
                     const brain::SpeechTokenSink& on_speech, const brain::TextSink& on_thinking) const override {
    const int call = calls++;
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(request);
    }
    if (!thinking.empty() && on_thinking) {
      for (size_t at = 0; at < thinking.size(); at += 5)
        if (!on_thinking(std::string_view(thinking).substr(at, 5))) return Status::Cancelled("stopped");
    }
    const std::string text = text_first ? kLongText : kText;
    size_t said = 0;
    if (text_first) {
      if (!on_text(text)) return Status::Cancelled("stopped");
      said = text.size();
    }
    for (int sent = 0; sent < kTokens;) {
      if (cancel.cancelled()) return Status::Cancelled("cancelled");
      if (fail_after > 0 && sent >= fail_after) return Status::Unavailable("step-audio backend: the stream was cut");
      if (call == block_call && sent >= block_after) {
        // A model still generating: wait for the cancel.
        const auto until = Clock::now() + std::chrono::seconds(10);
        while (!cancel.cancelled() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (cancel.cancelled()) {
          saw_cancel_at = Clock::now().time_since_epoch().count();
          return Status::Cancelled("cancelled");
        }
      }
      if (said < text.size()) {
        const size_t n = std::min<size_t>(7, text.size() - said);
        if (!on_text(std::string_view(text).substr(said, n))) return Status::Cancelled("stopped");
        said += n;
      }
      std::vector<int> piece;
      for (int i = 0; i < 15 && sent < kTokens; ++i, ++sent) piece.push_back((sent * 37 + 11) % 6561);
      if (!on_speech(piece)) return Status::Cancelled("stopped");
    }
    if (said < text.size() && !on_text(std::string_view(text).substr(said))) return Status::Cancelled("stopped");
    return Status::Ok();
  }
  brain::ReplyRequest Request(size_t i) const {
    std::lock_guard<std::mutex> lock(mu);
    return i < requests.size() ? requests[i] : brain::ReplyRequest{};
  }
  size_t Requests() const {
    std::lock_guard<std::mutex> lock(mu);
    return requests.size();
  }

  std::atomic<int> fail_after{0};
  std::string thinking;  // said first, to on_thinking, 5 bytes at a time (a reasoning model)
  bool text_first = false;  // all of kLongText, then the tokens (Step-Audio 2's text leads its speech)
  std::atomic<int> block_call{-1}, block_after{30};
  mutable std::atomic<int> calls{0}, text_calls{0};
  mutable std::atomic<int64_t> saw_cancel_at{0};  // steady_clock ticks; 0: never

 private:
  mutable std::mutex mu;
  mutable std::vector<brain::ReplyRequest> requests;
};

// 60 tokens at 25 Hz: 2.4 s, 57600 samples at 24 kHz, pcm16 on the wire.
constexpr size_t kReplyBytes = FakeSpeakingBrain::kTokens * 960 * 2;

size_t DecodedBytes(const std::vector<Json>& events, const std::string& type) {
  size_t n = 0;
  for (const auto& e : events) {
    if (e["type"] != type) continue;
    std::vector<uint8_t> bytes;
    EXPECT_TRUE(Base64Decode(e["delta"].get<std::string>(), &bytes).ok());
    n += bytes.size();
  }
  return n;
}

std::string Joined(const std::vector<Json>& events, const std::string& type) {
  std::string s;
  for (const auto& e : events)
    if (e["type"] == type) s += e["delta"].get<std::string>();
  return s;
}

// A Harness whose brain is `brain`, rendered by the tiny token voices; `asr` null unless asked.
std::function<void(Engines*)> Speaking(const FakeSpeakingBrain* brain, bool with_asr) {
  return [brain, with_asr](Engines* e) {
    e->brain = brain;
    e->token_voices = &Voices();
    if (!with_asr) e->asr = nullptr;
  };
}

TEST(StepAudioSessionTest, AVadTurnIsHeardByTheBrainAndSpokenInItsTokens) {
  FakeSpeakingBrain brain;
  Harness h(false, 15u << 20, Speaking(&brain, /*with_asr=*/false));
  h.Client({{"type", "session.update"},
            {"session", {{"type", "realtime"}, {"audio", {{"input", {{"transcription", nullptr}}}}}}}});
  ASSERT_TRUE(h.Last("error").is_null()) << h.Last("error").dump();
  h.Clear();
  h.AppendPcm16(400, 0.0);
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(800, 0.0);
  h.io->Drain();
  for (const auto& e : h.Events()) {
    EXPECT_NE(e["type"], "error") << e.dump();
    EXPECT_EQ(e["type"].get<std::string>().find("input_audio_transcription"), std::string::npos) << e.dump();
  }
  const Json start = h.Last("input_audio_buffer.speech_started");
  const Json stop = h.Last("input_audio_buffer.speech_stopped");
  ASSERT_FALSE(h.Last("input_audio_buffer.committed").is_null());
  // The brain got the committed span as the user's turn: audio, no transcript.
  ASSERT_EQ(brain.Requests(), 1u);
  const brain::ReplyRequest request = brain.Request(0);
  ASSERT_FALSE(request.history.empty());
  const brain::Message& user = request.history.back();
  EXPECT_EQ(user.role, brain::Message::Role::kUser);
  EXPECT_EQ(user.text, "");
  ASSERT_NE(user.audio_16k, nullptr);
  const int committed_ms = stop["audio_end_ms"].get<int>() - start["audio_start_ms"].get<int>();
  EXPECT_NEAR(static_cast<double>(user.audio_16k->size()), committed_ms * 16.0, 16.0 * 2) << committed_ms;
  // The tone's 1000 ms are in it, loud.
  size_t loud = 0;
  for (float x : *user.audio_16k) loud += std::fabs(x) > 0.05f;
  EXPECT_NEAR(static_cast<double>(loud), 16000 * 0.893, 16 * 40);

  // The reply: the brain's text as the transcript, its 60 tokens as 2.4 s of 24 kHz audio.
  const Json done = h.Last("response.done");
  ASSERT_FALSE(done.is_null());
  EXPECT_EQ(done["response"]["status"], "completed") << done.dump();
  EXPECT_EQ(DecodedBytes(h.Events(), "response.output_audio.delta"), kReplyBytes);
  EXPECT_GE(h.Of("response.output_audio.delta").size(), 3u) << "streamed, not one delta at the end";
  EXPECT_EQ(Joined(h.Events(), "response.output_audio_transcript.delta"), FakeSpeakingBrain::kText);
  EXPECT_EQ(h.Last("response.output_audio_transcript.done")["transcript"], FakeSpeakingBrain::kText);
  EXPECT_EQ(done["response"]["output"][0]["content"][0]["transcript"], FakeSpeakingBrain::kText);
  EXPECT_EQ(brain.text_calls, 0) << "a speaking brain answers with ReplySpoken";

  // The next turn's request holds both heard turns and the assistant's words between them.
  h.AppendPcm16(600, 0.3);
  h.AppendPcm16(800, 0.0);
  h.io->Drain();
  ASSERT_EQ(brain.Requests(), 2u);
  const brain::ReplyRequest next = brain.Request(1);
  std::vector<brain::Message> said;
  for (const auto& m : next.history) said.push_back(m);
  ASSERT_EQ(said.size(), 3u);
  EXPECT_EQ(said[0].audio_16k, user.audio_16k);
  EXPECT_EQ(said[1].role, brain::Message::Role::kAssistant);
  EXPECT_EQ(said[1].text, FakeSpeakingBrain::kText);
  EXPECT_EQ(said[2].role, brain::Message::Role::kUser);
  ASSERT_NE(said[2].audio_16k, nullptr);
  EXPECT_LT(said[2].audio_16k->size(), user.audio_16k->size());
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
}

TEST(StepAudioSessionTest, AManualCommitThenResponseCreateBetaWithARecognizer) {
  FakeSpeakingBrain brain;
  Harness h(/*beta=*/true, 15u << 20, Speaking(&brain, /*with_asr=*/true));
  h.Client({{"type", "session.update"}, {"session", {{"turn_detection", nullptr}}}});
  h.AppendPcm16(1000, 0.3);
  h.Client({{"type", "input_audio_buffer.commit"}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  for (const auto& e : h.Events()) EXPECT_NE(e["type"], "error") << e.dump();
  ASSERT_EQ(brain.Requests(), 1u);
  const brain::Message user = brain.Request(0).history.back();
  // 1 s of 24 kHz input: 16000 samples at 16 kHz, the resampler's tail included at the commit.
  ASSERT_NE(user.audio_16k, nullptr);
  EXPECT_NEAR(static_cast<double>(user.audio_16k->size()), 16000.0, 16.0);
  // Transcription is on (the default) and a recognizer is there: the brain gets both.
  const std::string transcript = h.Last("conversation.item.input_audio_transcription.completed")["transcript"];
  EXPECT_EQ(transcript.rfind("heard ", 0), 0u) << transcript;
  EXPECT_EQ(user.text, transcript);
  // Beta names for the reply's audio and transcript.
  EXPECT_TRUE(h.Of("response.output_audio.delta").empty());
  EXPECT_EQ(DecodedBytes(h.Events(), "response.audio.delta"), kReplyBytes);
  EXPECT_EQ(Joined(h.Events(), "response.audio_transcript.delta"), FakeSpeakingBrain::kText);
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
}

TEST(StepAudioSessionTest, ABrainFailingMidReplyFailsTheResponseAndTheNextTurnWorks) {
  FakeSpeakingBrain brain;
  brain.fail_after = 45;
  Harness h(false, 15u << 20, Speaking(&brain, false));
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "hi"}}}}}}});
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  const Json failed = h.Last("response.done")["response"];
  ASSERT_FALSE(failed.is_null());
  EXPECT_EQ(failed["status"], "failed") << failed.dump();
  EXPECT_EQ(failed["status_details"]["error"]["code"], "unavailable") << failed.dump();
  EXPECT_NE(failed["status_details"]["error"]["message"].get<std::string>().find("the stream was cut"),
            std::string::npos)
      << failed.dump();
  EXPECT_EQ(failed["output"][0]["status"], "incomplete");
  // What the brain said before it failed was delivered: 45 tokens of audio.
  EXPECT_EQ(DecodedBytes(h.Events(), "response.output_audio.delta"), 45u * 960 * 2);

  brain.fail_after = 0;
  h.Clear();
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  const Json ok = h.Last("response.done")["response"];
  EXPECT_EQ(ok["status"], "completed") << ok.dump();
  EXPECT_EQ(DecodedBytes(h.Events(), "response.output_audio.delta"), kReplyBytes);
  EXPECT_EQ(h.Last("response.output_audio_transcript.done")["transcript"], FakeSpeakingBrain::kText);
  for (const auto& e : h.Events()) EXPECT_NE(e["type"], "error") << e.dump();
}

TEST(StepAudioSessionTest, TheSessionsVoicesAreTheTokenVoices) {
  FakeSpeakingBrain brain;
  // A synthesizer is configured too (FakeSynthesizer knows "slt", not "default"): the speaking
  // brain's token voices win.
  Harness h(false, 15u << 20, Speaking(&brain, false));
  EXPECT_EQ(h.Last("session.created")["session"]["audio"]["output"]["voice"], "alloy");
  h.Client({{"type", "session.update"}, {"session", {{"type", "realtime"}, {"audio", {{"output", {{"voice", "default"}}}}}}}});
  ASSERT_TRUE(h.Last("error").is_null()) << h.Last("error").dump();
  EXPECT_EQ(h.Last("session.updated")["session"]["audio"]["output"]["voice"], "default");
  h.Client({{"type", "session.update"}, {"session", {{"type", "realtime"}, {"audio", {{"output", {{"voice", "marin"}}}}}}}});
  ASSERT_TRUE(h.Last("error").is_null()) << h.Last("error").dump();
  h.Client({{"type", "session.update"}, {"session", {{"type", "realtime"}, {"audio", {{"output", {{"voice", "slt"}}}}}}}});
  Json error = h.Last("error");
  ASSERT_FALSE(error.is_null());
  EXPECT_EQ(error["error"]["code"], "invalid_value");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("slt"), std::string::npos) << error.dump();
  EXPECT_NE(error["error"]["message"].get<std::string>().find("default"), std::string::npos)
      << "names the voices there are: " << error.dump();
  EXPECT_EQ(h.Last("session.updated")["session"]["audio"]["output"]["voice"], "marin");
  h.Clear();
  h.Client({{"type", "response.create"}, {"response", {{"voice", "no-such-voice"}}}});
  error = h.Last("error");
  ASSERT_FALSE(error.is_null());
  EXPECT_NE(error["error"]["message"].get<std::string>().find("no-such-voice"), std::string::npos) << error.dump();
  EXPECT_TRUE(h.Last("response.created").is_null());
  // alloy plays in the default voice.
  h.Client({{"type", "response.create"}, {"response", {{"voice", "alloy"}}}});
  h.io->Drain();
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
  EXPECT_EQ(DecodedBytes(h.Events(), "response.output_audio.delta"), kReplyBytes);

  // GET /v1/voices lists them.
  const Json list = Json::parse(VoicesJson(Voices().Voices(), Voices().Voices().front().id));
  EXPECT_EQ(list["default"], "default");
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], "default");
  EXPECT_EQ(list["data"][0]["engine"], "token2wav");

  // Without token voices the same brain falls back to the synthesizer's voices.
  Harness plain(false, 15u << 20, [&](Engines* e) { e->brain = &brain; });
  plain.Client({{"type", "session.update"}, {"session", {{"type", "realtime"}, {"audio", {{"output", {{"voice", "default"}}}}}}}});
  EXPECT_FALSE(plain.Last("error").is_null());
}

// Barge-in after part of the reply was sent: the item keeps the transcript of what was heard, not
// the whole text the model had already written.
TEST(StepAudioSessionTest, BargeInCutsTheTranscriptToTheAudioSentEvenWhenTheTextCameFirst) {
  FakeSpeakingBrain brain;
  brain.text_first = true;
  Harness h(false, 15u << 20, Speaking(&brain, false));
  h.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "hi"}}}}}}});
  h.Client({{"type", "response.create"}});
  // Deliver the first few results only: the transcript and the first ~second of audio.
  while (h.Of("response.output_audio.delta").size() < 3 && h.io->Drain(1) == 1) {
  }
  ASSERT_GE(h.Of("response.output_audio.delta").size(), 3u);
  const size_t sent_bytes = DecodedBytes(h.Events(), "response.output_audio.delta");
  ASSERT_LT(sent_bytes, kReplyBytes / 2);
  h.AppendPcm16(300, 0.3);  // the user speaks over it
  const Json resp = h.Last("response.done")["response"];
  ASSERT_EQ(resp["status"], "cancelled") << resp.dump();
  h.io->Drain();
  const std::string item_id = resp["output"][0]["id"];
  h.Client({{"type", "conversation.item.retrieve"}, {"item_id", item_id}});
  const std::string transcript = h.Last("conversation.item.retrieved")["item"]["content"][0]["transcript"];
  // Two sentences had gone out as transcript deltas before any audio; ~1 s of 2.4 s was heard.
  const std::string two = "Hello from the model. It speaks for itself.";
  EXPECT_EQ(Joined(h.Events(), "response.output_audio_transcript.delta"), two);
  EXPECT_EQ(two.rfind(transcript, 0), 0u) << transcript;
  EXPECT_GE(transcript.size(), std::string("Hello from the model.").size()) << transcript;
  EXPECT_LT(transcript.size(), two.size())
      << "the item claims both sentences after " << sent_bytes / 48 << " ms of " << kReplyBytes / 48 << " ms";
}

TEST(StepAudioSessionTest, TheNewestEightUserTurnsKeepTheirAudioOlderOnesTheirTranscript) {
  FakeSpeakingBrain brain;
  Harness h(false, 15u << 20, Speaking(&brain, /*with_asr=*/true));
  h.Client({{"type", "session.update"}, {"session", {{"type", "realtime"}, {"audio", {{"input", {{"turn_detection", nullptr}}}}}}}});
  ASSERT_TRUE(h.Last("error").is_null()) << h.Last("error").dump();
  for (int turn = 0; turn < 9; ++turn) {
    h.AppendPcm16(200 + 20 * turn, 0.3);
    h.Client({{"type", "input_audio_buffer.commit"}});
    h.io->Drain();
  }
  h.Client({{"type", "response.create"}});
  h.io->Drain();
  ASSERT_EQ(brain.Requests(), 1u);
  const std::vector<brain::Message> history = brain.Request(0).history;
  ASSERT_EQ(history.size(), 9u);
  // The oldest turn goes as its transcript only.
  EXPECT_EQ(history[0].audio_16k, nullptr);
  EXPECT_EQ(history[0].text.rfind("heard 200 ms", 0), 0u) << history[0].text;
  for (size_t i = 1; i < 9; ++i) {
    ASSERT_NE(history[i].audio_16k, nullptr) << "turn " << i;
    EXPECT_NEAR(static_cast<double>(history[i].audio_16k->size()), 16.0 * (200 + 20 * i), 16.0) << "turn " << i;
    EXPECT_FALSE(history[i].text.empty()) << "turn " << i;
  }
  EXPECT_EQ(h.Last("response.done")["response"]["status"], "completed");
}

// ---- Threaded: the brain runs on a pool while the session goes on ------------------------------

class ThreadedSession {
 public:
  explicit ThreadedSession(const FakeSpeakingBrain* brain) : pool_(2), reply_pool_(1), brain_pool_(1) {
    engines_.vad = &vad_;
    engines_.brain = brain;
    engines_.token_voices = &Voices();
    engines_.workers = &pool_;
    engines_.reply_workers = &reply_pool_;
    engines_.brain_workers = &brain_pool_;  // as `cadence serve` runs it: a blocked brain holds up no rendering
    io = std::make_shared<StrandIo>();
    SessionOptions options;
    options.session_id = "sess_step_audio";
    options.limits.audio_lead_s = 1e9;
    session_ = Session::Create(engines_, options, io);
    io->Post([s = session_] { s->Start(); });
  }
  ~ThreadedSession() {
    io->Post([s = session_] { s->OnClose(); });
    io->Stop();
  }
  void Client(const Json& event) {
    io->Post([s = session_, frame = event.dump()] { s->OnClientFrame(frame); });
  }
  void Pcm16(int ms, double amplitude) {
    for (int done = 0; done < ms; done += 20) {
      std::vector<uint8_t> bytes;
      for (int i = 0; i < 480; ++i) {
        const auto v = static_cast<int16_t>(std::lround(amplitude * std::sin(2 * M_PI * 300.0 * (phase_++) / 24000.0) * 32767));
        bytes.push_back(static_cast<uint8_t>(v & 0xff));
        bytes.push_back(static_cast<uint8_t>((v >> 8) & 0xff));
      }
      Client({{"type", "input_audio_buffer.append"}, {"audio", Base64Encode(bytes)}});
    }
  }
  Json LastOf(const std::string& type) {
    Json last;
    for (const auto& f : io->Frames())
      if (f["type"] == type) last = f;
    return last;
  }
  std::shared_ptr<StrandIo> io;

 private:
  FakeVad vad_;
  ThreadPool pool_, reply_pool_, brain_pool_;
  Engines engines_;
  std::shared_ptr<Session> session_;
  int64_t phase_ = 0;
};

TEST(StepAudioSessionTest, BargeInAndResponseCancelFireTheBrainsCancelToken) {
  FakeSpeakingBrain brain;
  brain.block_call = 0;
  brain.block_after = 30;  // one chunk of audio goes out, then the model "thinks"
  ThreadedSession t(&brain);
  t.Client({{"type", "session.update"},
            {"session", {{"type", "realtime"}, {"audio", {{"input", {{"transcription", nullptr}}}}}}}});
  t.Client({{"type", "conversation.item.create"},
            {"item", {{"type", "message"}, {"role", "user"}, {"content", {{{"type", "input_text"}, {"text", "hi"}}}}}}});
  t.Client({{"type", "response.create"}});
  ASSERT_TRUE(t.io->WaitFor("response.output_audio.delta"));
  EXPECT_EQ(brain.saw_cancel_at, 0);
  // The user speaks over the reply.
  const auto barge_at = Clock::now();
  t.Pcm16(300, 0.3);
  ASSERT_TRUE(t.io->WaitFor("input_audio_buffer.speech_started"));
  ASSERT_TRUE(t.io->WaitFor("response.done"));
  Json done = t.LastOf("response.done")["response"];
  EXPECT_EQ(done["status"], "cancelled") << done.dump();
  EXPECT_EQ(done["status_details"]["reason"], "turn_detected");
  // The brain saw its cancel token fire, promptly.
  for (int i = 0; i < 200 && brain.saw_cancel_at == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_NE(brain.saw_cancel_at, 0) << "the brain's cancel token never fired";
  const auto saw = Clock::time_point(Clock::duration(brain.saw_cancel_at.load()));
  EXPECT_LT(saw - barge_at, std::chrono::seconds(2));
  // The user's turn ends; it is heard and answered in full.
  t.Pcm16(800, 0.0);
  ASSERT_TRUE(t.io->WaitFor("response.done", 2));
  done = t.LastOf("response.done")["response"];
  EXPECT_EQ(done["status"], "completed") << done.dump();
  ASSERT_EQ(brain.Requests(), 2u);
  const brain::Message heard = brain.Request(1).history.back();
  EXPECT_EQ(heard.role, brain::Message::Role::kUser);
  ASSERT_NE(heard.audio_16k, nullptr);
  EXPECT_GT(heard.audio_16k->size(), 16u * 300);

  // response.cancel from the client, while the brain is mid-reply.
  brain.saw_cancel_at = 0;
  brain.block_call = 2;
  t.Client({{"type", "response.create"}});
  ASSERT_TRUE(t.io->WaitFor("response.created", 3));
  for (int i = 0; i < 500 && brain.Requests() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  t.Client({{"type", "response.cancel"}});
  ASSERT_TRUE(t.io->WaitFor("response.done", 3));
  done = t.LastOf("response.done")["response"];
  EXPECT_EQ(done["status"], "cancelled") << done.dump();
  EXPECT_EQ(done["status_details"]["reason"], "client_cancelled");
  for (int i = 0; i < 200 && brain.saw_cancel_at == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE(brain.saw_cancel_at, 0) << "response.cancel did not reach the brain";
  for (const auto& f : t.io->Frames()) EXPECT_NE(f["type"], "error") << f.dump();
}

}  // namespace
}  // namespace cadence::realtime::testing

namespace cadence::realtime::testing {
namespace {

TEST(StepAudioSessionTest, AReasoningBrainsThinkingGoesToThinkingEventsNotTheSpeech) {
  FakeSpeakingBrain brain;
  brain.thinking = "The user greets me; greet back briefly.";
  Harness h(false, 15u << 20, Speaking(&brain, /*with_asr=*/false));
  h.Client({{"type", "session.update"},
            {"session", {{"type", "realtime"}, {"audio", {{"input", {{"transcription", nullptr}}}}}}}});
  h.Clear();
  h.AppendPcm16(400, 0.0);
  h.AppendPcm16(1000, 0.3);
  h.AppendPcm16(800, 0.0);
  h.io->Drain();
  const Json done = h.Last("response.done");
  ASSERT_FALSE(done.is_null());
  EXPECT_EQ(done["response"]["status"], "completed") << done.dump();
  EXPECT_EQ(Joined(h.Events(), "response.thinking.delta"), brain.thinking);
  EXPECT_GE(h.Of("response.thinking.delta").size(), 2u) << "streamed";
  const Json thinking_done = h.Last("response.thinking.done");
  ASSERT_FALSE(thinking_done.is_null());
  EXPECT_EQ(thinking_done["text"], brain.thinking);
  EXPECT_EQ(thinking_done["response_id"], done["response"]["id"]);
  // Never spoken, never in the transcript or the item.
  EXPECT_EQ(h.Last("response.output_audio_transcript.done")["transcript"], FakeSpeakingBrain::kText);
  EXPECT_EQ(DecodedBytes(h.Events(), "response.output_audio.delta"), kReplyBytes);
  // thinking.done comes before the response's own done events.
  int thinking_at = -1, audio_done_at = -1, i = 0;
  for (const auto& e : h.Events()) {
    if (e["type"] == "response.thinking.done") thinking_at = i;
    if (e["type"] == "response.output_audio.done") audio_done_at = i;
    ++i;
  }
  EXPECT_LT(thinking_at, audio_done_at);
}

}  // namespace
}  // namespace cadence::realtime::testing
