#include "brain/step_audio_vllm.h"

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audio/wav.h"
#include "brain/fake_http_server.h"
#include "core/base64.h"

namespace cadence::brain {
namespace {

using testing_support::FakeServer;
using Clock = std::chrono::steady_clock;

std::string SseHeader() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
}
std::string Chunk(const nlohmann::json& delta, const char* finish = nullptr) {
  nlohmann::json choice = {{"index", 0}, {"delta", delta}};
  choice["finish_reason"] = finish ? nlohmann::json(finish) : nlohmann::json(nullptr);
  nlohmann::json j = {{"id", "chatcmpl-1"}, {"object", "chat.completion.chunk"}, {"choices", {choice}}};
  return "data: " + j.dump() + "\n\n";
}
std::string Tts(const std::string& text, const std::string& audio) {
  return Chunk({{"tts_content", {{"tts_text", text}, {"tts_audio", audio}}}});
}

StepAudioVllmConfig Config(std::string url) {
  StepAudioVllmConfig c;
  c.url = std::move(url);
  c.timeout_s = 10;
  return c;
}

// What one Stream call delivered.
struct Collected {
  std::string text;
  std::vector<int> tokens;
  std::function<bool(std::string_view)> on_text() {
    return [this](std::string_view t) { text += t; return true; };
  }
  std::function<bool(std::span<const int>)> on_speech() {
    return [this](std::span<const int> s) { tokens.insert(tokens.end(), s.begin(), s.end()); return true; };
  }
};

std::vector<StepAudioTurn> Conversation(size_t audio_samples) {
  auto audio = std::make_shared<std::vector<float>>(audio_samples);
  for (size_t i = 0; i < audio_samples; ++i) (*audio)[i] = 0.5f * std::sin(static_cast<float>(i) * 0.01f);
  std::vector<StepAudioTurn> turns;
  turns.push_back({StepAudioTurn::Role::kSystem, "You are a helpful assistant.", nullptr, {}});
  turns.push_back({StepAudioTurn::Role::kHuman, "Hello.", nullptr, {}});
  turns.push_back({StepAudioTurn::Role::kAssistant, "Hi! How can I help?", nullptr, {12, 873, 6560}});
  turns.push_back({StepAudioTurn::Role::kAssistant, "A plain text answer.", nullptr, {}});
  turns.push_back({StepAudioTurn::Role::kHuman, "What is this sound?", audio, {}});
  return turns;
}

audio::Waveform DecodePart(const nlohmann::json& part, std::vector<uint8_t>* bytes) {
  EXPECT_EQ(part["type"], "input_audio");
  EXPECT_EQ(part["input_audio"]["format"], "wav");
  Status s = Base64Decode(part["input_audio"]["data"].get<std::string>(), bytes);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto wave = audio::ParseWav(*bytes);
  EXPECT_TRUE(wave.ok()) << wave.status().ToString();
  return wave.ok() ? *wave : audio::Waveform{};
}

uint32_t U32(const std::vector<uint8_t>& b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}
uint16_t U16(const std::vector<uint8_t>& b, size_t at) { return static_cast<uint16_t>(b[at] | (b[at + 1] << 8)); }

TEST(StepAudioVllmTest, SpokenRequestBodyChunksAudioAndCarriesHistoryAndFlags) {
  StepAudioVllmClient client({"http://gpu:8000/v1/", "step-audio-2-mini", "", 60});
  EXPECT_EQ(client.endpoint(), "http://gpu:8000/v1/chat/completions");
  const size_t kSamples = 26 * 16000;  // 26 s: one 25-s part and one 1-s part
  StepAudioSampling sampling;
  sampling.max_tokens = 321;
  sampling.temperature = 0.5;
  const nlohmann::json body = client.RequestBody(Conversation(kSamples), /*spoken=*/true, sampling);

  EXPECT_EQ(body["model"], "step-audio-2-mini");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["max_tokens"], 321);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(body["top_p"].get<double>(), 0.9);
  EXPECT_DOUBLE_EQ(body["repetition_penalty"].get<double>(), 1.05);
  EXPECT_EQ(body["skip_special_tokens"], false);
  EXPECT_EQ(body["parallel_tool_calls"], false);
  EXPECT_EQ(body["continue_final_message"], true);
  EXPECT_EQ(body["add_generation_prompt"], false);

  const nlohmann::json& m = body["messages"];
  ASSERT_EQ(m.size(), 6u) << m.dump().substr(0, 500);
  EXPECT_EQ(m[0], (nlohmann::json{{"role", "system"}, {"content", "You are a helpful assistant."}}));
  EXPECT_EQ(m[1]["role"], "human");
  EXPECT_EQ(m[1]["content"], (nlohmann::json::array({{{"type", "text"}, {"text", "Hello."}}})));
  // The spoken history turn: its speech tokens as tts_audio, its text as tts_text, no text twice.
  EXPECT_EQ(m[2]["role"], "assistant");
  EXPECT_EQ(m[2]["content"], "");
  EXPECT_EQ(m[2]["tts_content"]["tts_text"], "Hi! How can I help?");
  EXPECT_EQ(m[2]["tts_content"]["tts_audio"], "<audio_12><audio_873><audio_6560>");
  EXPECT_EQ(m[3], (nlohmann::json{{"role", "assistant"}, {"content", "A plain text answer."}}));
  EXPECT_FALSE(m[3].contains("tts_content"));

  // The human turn with 26 s of audio: two WAV parts (400000 + 16000 samples), then the text.
  ASSERT_EQ(m[4]["role"], "human");
  const nlohmann::json& parts = m[4]["content"];
  ASSERT_EQ(parts.size(), 3u);
  std::vector<uint8_t> first_bytes, second_bytes;
  const audio::Waveform first = DecodePart(parts[0], &first_bytes);
  const audio::Waveform second = DecodePart(parts[1], &second_bytes);
  EXPECT_EQ(parts[2], (nlohmann::json{{"type", "text"}, {"text", "What is this sound?"}}));
  EXPECT_EQ(first.sample_rate_hz, 16000);
  EXPECT_EQ(first.samples.size(), 400000u);
  EXPECT_EQ(second.sample_rate_hz, 16000);
  EXPECT_EQ(second.samples.size(), 16000u);
  // RIFF header of a plain 44-byte PCM16 mono 16 kHz WAV.
  ASSERT_EQ(first_bytes.size(), 44u + 2 * 400000u);
  EXPECT_EQ(std::string(first_bytes.begin(), first_bytes.begin() + 4), "RIFF");
  EXPECT_EQ(U32(first_bytes, 4), first_bytes.size() - 8);
  EXPECT_EQ(std::string(first_bytes.begin() + 8, first_bytes.begin() + 16), "WAVEfmt ");
  EXPECT_EQ(U16(first_bytes, 20), 1);      // PCM
  EXPECT_EQ(U16(first_bytes, 22), 1);      // mono
  EXPECT_EQ(U32(first_bytes, 24), 16000u); // rate
  EXPECT_EQ(U16(first_bytes, 34), 16);     // bits
  EXPECT_EQ(std::string(first_bytes.begin() + 36, first_bytes.begin() + 40), "data");
  EXPECT_EQ(U32(first_bytes, 40), 800000u);
  EXPECT_EQ(U32(second_bytes, 40), 32000u);
  // The samples survive, in order across the split.
  EXPECT_NEAR(first.samples[1000], 0.5f * std::sin(10.0f), 1e-3);
  EXPECT_NEAR(second.samples[5], 0.5f * std::sin(static_cast<float>(400005) * 0.01f), 1e-3);

  EXPECT_EQ(m[5], (nlohmann::json{{"role", "assistant"}, {"content", "<tts_start>"}, {"eot", false}}));
}

TEST(StepAudioVllmTest, TextRequestEndsWithTheHumanTurnAndAsksForAGenerationPrompt) {
  StepAudioVllmClient client({"http://gpu:8000/v1/chat/completions", "m", "", 60});
  EXPECT_EQ(client.endpoint(), "http://gpu:8000/v1/chat/completions");
  const nlohmann::json body = client.RequestBody(Conversation(16000), /*spoken=*/false, {});
  ASSERT_EQ(body["messages"].size(), 5u);
  EXPECT_EQ(body["messages"].back()["role"], "human");
  EXPECT_EQ(body["messages"].back()["content"].size(), 2u);  // 1 s of audio: one part, then the text
  EXPECT_EQ(body["add_generation_prompt"], true);
  EXPECT_EQ(body["continue_final_message"], false);
  EXPECT_EQ(body["max_tokens"], 2048);
}

TEST(StepAudioVllmTest, ParsesAudioTokensDroppingPaddingAndNoise) {
  EXPECT_EQ(ParseAudioTokens("<audio_12><audio_6561>x<audio_0>< audio_3><audio_><audio_6560><audio_4"),
            (std::vector<int>{12, 0, 6560}));
  EXPECT_EQ(ParseAudioTokens("<tts_start>hello<audio_99999999999999><audio_7>"), (std::vector<int>{7}));
  EXPECT_TRUE(ParseAudioTokens("").empty());
  EXPECT_EQ(FormatAudioTokens(std::vector<int>{1, 6560}), "<audio_1><audio_6560>");
}

TEST(StepAudioVllmTest, AudioTokenParserJoinsTokensSplitAnywhere) {
  const std::string s = "<audio_12><audio_6561><audio_873>x<<audio_5><audio_4096>";
  const std::vector<int> want = {12, 873, 5, 4096};
  for (size_t cut1 = 0; cut1 <= s.size(); ++cut1) {
    for (size_t cut2 = cut1; cut2 <= s.size(); ++cut2) {
      AudioTokenParser parser;
      std::vector<int> got;
      parser.Feed(s.substr(0, cut1), &got);
      parser.Feed(s.substr(cut1, cut2 - cut1), &got);
      parser.Feed(s.substr(cut2), &got);
      ASSERT_EQ(got, want) << "cuts at " << cut1 << ", " << cut2;
      EXPECT_EQ(parser.pending(), "");
    }
  }
}

TEST(StepAudioVllmTest, StreamsASpokenAnswerSplitAtOddPlaces) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Chunk({{"role", "assistant"}, {"content", ""}}));
    send(Tts("Hel", "<audio_1"));
    send(Tts("lo, ", "2><audio_873><au"));
    // One SSE line delivered in two TCP writes.
    const std::string line = Tts("你好", "dio_6561><audio_5>");
    send(line.substr(0, 17));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    send(line.substr(17));
    send(Chunk({{"content", nullptr}, {"tts_content", {{"tts_text", ""}, {"tts_audio", "<audio_6"}}}}));
    send(Chunk({{"tts_content", {{"tts_text", "!"}, {"tts_audio", "0><audio_6560>"}}}}));
    send(Chunk(nlohmann::json::object(), "stop"));
    send("data: [DONE]\n\n");
  });
  StepAudioVllmClient client({server.url(), "step-audio-2-mini", "sk-step", 10});
  Collected got;
  Status s = client.Stream(Conversation(1600), true, {}, CancelToken(), got.on_text(), got.on_speech());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.text, "Hello, 你好!");
  EXPECT_EQ(got.tokens, (std::vector<int>{12, 873, 5, 60, 6560}));
  const std::string req = server.last_request();
  EXPECT_NE(req.find("POST /v1/chat/completions"), std::string::npos);
  EXPECT_NE(req.find("Authorization: Bearer sk-step"), std::string::npos);
  const auto body = nlohmann::json::parse(req.substr(req.find("\r\n\r\n") + 4));
  EXPECT_EQ(body, client.RequestBody(Conversation(1600), true, {}));
}

TEST(StepAudioVllmTest, StreamsATextAnswerAndAStopFromTheCallbackEndsIt) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Chunk({{"content", "The Great "}}));
    send(Chunk({{"content", "Wall "}}));
    send(Chunk({{"content", "is long."}}, "stop"));
    send("data: [DONE]\n\n");
  });
  StepAudioVllmClient client(Config(server.url()));
  Collected all;
  Status s = client.Stream(Conversation(0), false, {}, CancelToken(), all.on_text(), all.on_speech());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(all.text, "The Great Wall is long.");
  EXPECT_TRUE(all.tokens.empty());

  std::vector<std::string> pieces;
  s = client.Stream(Conversation(0), false, {}, CancelToken(),
                    [&](std::string_view t) { pieces.emplace_back(t); return false; }, all.on_speech());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pieces, (std::vector<std::string>{"The Great "}));
}

TEST(StepAudioVllmTest, ACutStreamIsUnavailableAndKeepsWhatWasDelivered) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Tts("Half an ", "<audio_1><audio_2>"));
    send(Tts("answer", "<audio_3><aud"));  // then the server goes away: no finish_reason, no [DONE]
  });
  StepAudioVllmClient client(Config(server.url()));
  Collected got;
  Status s = client.Stream(Conversation(0), true, {}, CancelToken(), got.on_text(), got.on_speech());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(client.endpoint()), std::string::npos) << s.message();
  EXPECT_EQ(got.text, "Half an answer");
  EXPECT_EQ(got.tokens, (std::vector<int>{1, 2, 3}));
}

TEST(StepAudioVllmTest, AFinishReasonWithoutDoneIsAComplete) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Tts("Done.", "<audio_1>"));
    send(Chunk(nlohmann::json::object(), "stop"));
  });
  StepAudioVllmClient client(Config(server.url()));
  Collected got;
  Status s = client.Stream(Conversation(0), true, {}, CancelToken(), got.on_text(), got.on_speech());
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got.text, "Done.");
}

TEST(StepAudioVllmTest, AnHttpErrorNamesTheStatusAndTheServersMessage) {
  FakeServer server([](const std::string&, int, const auto& send) {
    const std::string body = "{\"error\":{\"message\":\"CUDA out of memory\",\"code\":500}}";
    send("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  });
  StepAudioVllmClient client(Config(server.url()));
  Collected got;
  Status s = client.Stream(Conversation(0), true, {}, CancelToken(), got.on_text(), got.on_speech());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("HTTP 500"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("CUDA out of memory"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(client.endpoint()), std::string::npos) << s.message();
  EXPECT_EQ(server.connections(), 1);  // no retries here
}

TEST(StepAudioVllmTest, AMalformedChunkIsInvalidArgumentNamingTheField) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Tts("ok", "<audio_1>"));
    send(Chunk({{"tts_content", {{"tts_text", "x"}, {"tts_audio", 42}}}}));
    send(Tts("never", "<audio_2>"));
    send("data: [DONE]\n\n");
  });
  StepAudioVllmClient client(Config(server.url()));
  Collected got;
  Status s = client.Stream(Conversation(0), true, {}, CancelToken(), got.on_text(), got.on_speech());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("tts_audio"), std::string::npos) << s.message();
  EXPECT_EQ(got.text, "ok");
  EXPECT_EQ(got.tokens, (std::vector<int>{1}));
}

TEST(StepAudioVllmTest, CancelStopsAStalledStreamPromptly) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Tts("first", "<audio_1>"));
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // a stalled model
    send(Tts(" late", "<audio_2>"));
    send("data: [DONE]\n\n");
  });
  StepAudioVllmClient client(Config(server.url()));
  CancelToken cancel;
  Collected got;
  Clock::time_point cancelled_at;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    cancelled_at = Clock::now();
    cancel.Cancel();
  });
  Status s = client.Stream(Conversation(0), true, {}, cancel, got.on_text(), got.on_speech());
  const auto returned_at = Clock::now();
  canceller.join();
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
  EXPECT_LT(returned_at - cancelled_at, std::chrono::milliseconds(500));
  EXPECT_EQ(got.text, "first");
}

TEST(StepAudioVllmTest, ADownServerIsUnavailableNamingTheUrl) {
  int port;
  {
    FakeServer probe([](const std::string&, int, const auto&) {});
    port = std::stoi(probe.url().substr(17));
  }  // closed: nothing listens there now
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  StepAudioVllmClient client(Config(url));
  Collected got;
  const auto t0 = Clock::now();
  Status s = client.Stream(Conversation(0), true, {}, CancelToken(), got.on_text(), got.on_speech());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(url + "/chat/completions"), std::string::npos) << s.message();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace cadence::brain
