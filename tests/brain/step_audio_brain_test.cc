// Step-Audio 2 as a session brain (brain/step_audio_brain.h), end to end on the fixtures: the
// user's audio as the encoder's log-mel pieces against the float64 reference
// (tests/engine/data/step_audio2/golden.json), the engine backend on the tiny checkpoint (spoken
// replies, determinism at temperature 0, cancellation, prompt reuse across turns), the request's
// turns, and the vLLM backend through a fake server (a spoken answer, a cut stream).
#include "brain/step_audio_brain.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio/wav.h"
#include "brain/fake_http_server.h"
#include "engine/models/step_audio2.h"

namespace cadence::brain {
namespace {

using testing_support::FakeServer;

const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/step_audio2/";

const nlohmann::json& Golden() {
  static const nlohmann::json j = [] {
    std::ifstream in(kDir + "golden.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

std::shared_ptr<const std::vector<float>> Clip() {
  static const std::shared_ptr<const std::vector<float>> clip = [] {
    auto wav = audio::ReadWav(kDir + "clip.wav");
    EXPECT_TRUE(wav.ok()) << wav.status().ToString();
    EXPECT_EQ(wav->sample_rate_hz, 16000);
    return std::make_shared<const std::vector<float>>(wav.ok() ? wav->samples : std::vector<float>());
  }();
  return clip;
}

// ---- StepAudioPieces -------------------------------------------------------------------------

TEST(StepAudioPiecesTest, TheClipIsTheReferencesLogMel) {
  const auto& mel = Golden()["mel"];
  ASSERT_EQ(Clip()->size(), Golden()["clip"]["n_samples"].get<size_t>());
  auto pieces = StepAudioPieces(*Clip(), mel["n_mels"].get<int>());
  ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
  ASSERT_EQ(pieces->size(), 1u);
  const engine::StepAudio2AudioPiece& p = *(*pieces)[0];
  const int n_frames = mel["n_frames"].get<int>();
  ASSERT_EQ(p.n_frames, n_frames);  // 36800 samples + 479 zeros: 232 frames
  ASSERT_EQ(p.mel.size(), static_cast<size_t>(128 * n_frames));
  double max_err = 0;
  int worst = -1;
  const auto& data = mel["data"];  // [128][T] row-major, flat
  ASSERT_EQ(data.size(), p.mel.size());
  for (size_t i = 0; i < p.mel.size(); ++i) {
    const double err = std::abs(static_cast<double>(p.mel[i]) - data[i].get<double>());
    if (err > max_err) max_err = err, worst = static_cast<int>(i);
  }
  EXPECT_LT(max_err, 1e-4) << "worst at bin " << worst / n_frames << " frame " << worst % n_frames;
  EXPECT_NE(p.key, 0u);

  // Keyed by the samples: the same audio the same key, other audio another.
  auto again = StepAudioPieces(*Clip(), 128);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[0]->key, p.key);
  std::vector<float> louder = *Clip();
  louder[1000] += 0.01f;
  auto other = StepAudioPieces(louder, 128);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)[0]->key, p.key);
}

TEST(StepAudioPiecesTest, TwentySixSecondsAreTwoPiecesAsTheReferenceSplitsThem) {
  const auto& split = Golden()["split_26s"];
  std::vector<float> samples(split["n_samples"].get<size_t>());
  for (size_t i = 0; i < samples.size(); ++i) samples[i] = 0.3f * std::sin(0.05f * static_cast<float>(i % 20000));
  auto pieces = StepAudioPieces(samples, 128);
  ASSERT_TRUE(pieces.ok()) << pieces.status().ToString();
  ASSERT_EQ(pieces->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ((*pieces)[i]->n_frames, split["mel_frames"][i].get<int>()) << "piece " << i;  // 2502, 102
    EXPECT_EQ(engine::StepAudio2::AudioRows((*pieces)[i]->n_frames), split["audio_patches"][i].get<int>());
    EXPECT_EQ((*pieces)[i]->mel.size(), static_cast<size_t>(128) * (*pieces)[i]->n_frames);
  }
  EXPECT_NE((*pieces)[0]->key, (*pieces)[1]->key);
  // No audio, no pieces.
  auto none = StepAudioPieces({}, 128);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

// ---- StepAudioTurns --------------------------------------------------------------------------

TEST(StepAudioTurnsTest, SystemFirstUserAudioAndAssistantTextKeptEmptyMessagesDropped) {
  auto audio1 = std::make_shared<const std::vector<float>>(16000, 0.1f);
  auto audio2 = std::make_shared<const std::vector<float>>(8000, 0.2f);
  ReplyRequest request;
  request.instructions = "Answer in one sentence.";
  request.history.push_back({Message::Role::kUser, "", audio1});
  request.history.push_back({Message::Role::kAssistant, "Hello there!", nullptr});
  request.history.push_back({Message::Role::kUser, "", nullptr});                              // nothing: dropped
  request.history.push_back({Message::Role::kUser, "", std::make_shared<std::vector<float>>()});  // no samples: dropped
  request.history.push_back({Message::Role::kAssistant, "", nullptr});                         // dropped
  request.history.push_back({Message::Role::kUser, "what was that", audio2});
  const std::vector<StepAudioTurn> turns = StepAudioTurns(request);
  ASSERT_GE(turns.size(), 4u);
  // The persona's system message first, with the client's instructions.
  EXPECT_EQ(turns[0].role, StepAudioTurn::Role::kSystem);
  EXPECT_NE(turns[0].text.find("Cadence"), std::string::npos) << turns[0].text;
  EXPECT_NE(turns[0].text.find("Answer in one sentence."), std::string::npos) << turns[0].text;
  // Then the history in order: the heard turn as its audio, the assistant's text, the last turn
  // with both its audio and its transcript.
  EXPECT_EQ(turns[1].role, StepAudioTurn::Role::kHuman);
  EXPECT_EQ(turns[1].audio_16k, audio1);
  EXPECT_EQ(turns[1].text, "");
  EXPECT_EQ(turns[2].role, StepAudioTurn::Role::kAssistant);
  EXPECT_EQ(turns[2].text, "Hello there!");
  EXPECT_EQ(turns[2].audio_16k, nullptr);
  EXPECT_EQ(turns[3].role, StepAudioTurn::Role::kHuman);
  EXPECT_EQ(turns[3].audio_16k, audio2);
  EXPECT_EQ(turns[3].text, "what was that");
  // Whatever follows is the persona's system reminders; nothing empty anywhere.
  for (size_t i = 4; i < turns.size(); ++i) EXPECT_EQ(turns[i].role, StepAudioTurn::Role::kSystem) << i;
  for (size_t i = 0; i < turns.size(); ++i) {
    EXPECT_TRUE(!turns[i].text.empty() || (turns[i].audio_16k && !turns[i].audio_16k->empty())) << "turn " << i;
  }
  int humans = 0;
  for (const auto& t : turns) humans += t.role == StepAudioTurn::Role::kHuman;
  EXPECT_EQ(humans, 2);
}

// ---- The engine backend on the tiny checkpoint -------------------------------------------------

const Brain& TinyBrain() {
  static const std::unique_ptr<Brain> brain = [] {
    StepAudioBrainOptions options;
    options.model_dir = kDir + "tiny";
    options.threads = 2;
    options.slots = 2;
    options.kv_tokens = 2048;
    auto b = CreateStepAudioBrain(options);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(b).value() : nullptr;
  }();
  return *brain;
}

struct Spoken {
  Status status;
  std::string text;
  std::vector<int> tokens;
  int text_calls = 0, speech_calls = 0;
};

Spoken Speak(const ReplyRequest& request, const CancelToken& cancel = CancelToken(),
             const std::function<void(Spoken&)>& after_each = {}) {
  Spoken out;
  out.status = TinyBrain().ReplySpoken(
      request, cancel,
      [&](std::string_view t) {
        out.text += t;
        ++out.text_calls;
        if (after_each) after_each(out);
        return true;
      },
      [&](std::span<const int> s) {
        out.tokens.insert(out.tokens.end(), s.begin(), s.end());
        ++out.speech_calls;
        if (after_each) after_each(out);
        return true;
      });
  return out;
}

ReplyRequest OneHeardTurn(double temperature) {
  ReplyRequest request;
  request.history.push_back({Message::Role::kUser, "", Clip()});
  request.temperature = temperature;
  request.max_output_tokens = 40;
  return request;
}

TEST(StepAudioBrainTest, EngineBackendHearsAndSpeaks) {
  EXPECT_EQ(TinyBrain().kind(), "step-audio-2");
  EXPECT_TRUE(TinyBrain().hears_audio());
  EXPECT_TRUE(TinyBrain().speaks());
  const Spoken a = Speak(OneHeardTurn(0));
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  EXPECT_FALSE(a.text.empty());
  ASSERT_FALSE(a.tokens.empty());
  for (int t : a.tokens) {
    ASSERT_GE(t, 0);
    ASSERT_LE(t, kStepAudioMaxSpeechCode);
  }
  EXPECT_GT(a.text_calls, 1) << "text is streamed, not delivered at the end";
  EXPECT_GT(a.speech_calls, 1) << "speech tokens are streamed, not delivered at the end";
  // The spoken answer interleaves text and speech: most of its 40 tokens are speech.
  EXPECT_GT(a.tokens.size(), 10u);
  EXPECT_LE(a.tokens.size(), 40u);

  // Temperature 0 is greedy: the same request gives the same answer, whatever the call's seed.
  const Spoken b = Speak(OneHeardTurn(0));
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b.tokens, a.tokens);
  EXPECT_EQ(b.text, a.text);

  // The audio is heard: silence instead of the clip gives another answer.
  ReplyRequest silent = OneHeardTurn(0);
  silent.history[0].audio_16k = std::make_shared<const std::vector<float>>(Clip()->size(), 0.0f);
  const Spoken c = Speak(silent);
  ASSERT_TRUE(c.status.ok());
  EXPECT_NE(c.tokens, a.tokens);

  // A text reply (Reply) of the same request streams text only.
  std::string text;
  Status st = TinyBrain().Reply(OneHeardTurn(0), CancelToken(), [&](std::string_view t) {
    text += t;
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(text.empty());
}

TEST(StepAudioBrainTest, SampledRepliesFollowTheRequestsTemperature) {
  // At a high temperature the calls' seeds differ, so some of a few replies differ from greedy.
  const Spoken greedy = Speak(OneHeardTurn(0));
  ASSERT_TRUE(greedy.status.ok());
  int differ = 0;
  for (int i = 0; i < 3; ++i) {
    const Spoken hot = Speak(OneHeardTurn(1.5));
    ASSERT_TRUE(hot.status.ok()) << hot.status.ToString();
    for (int t : hot.tokens) ASSERT_LE(t, kStepAudioMaxSpeechCode);
    differ += hot.tokens != greedy.tokens;
  }
  EXPECT_GT(differ, 0);
}

TEST(StepAudioBrainTest, CancelMidReplyReturnsCancelledPromptly) {
  ReplyRequest request = OneHeardTurn(0);
  request.max_output_tokens = 400;
  const Spoken full = Speak(request);
  ASSERT_TRUE(full.status.ok());
  ASSERT_GT(full.tokens.size(), 12u);

  CancelToken cancel;
  int calls_at_cancel = -1;
  const Spoken cut = Speak(request, cancel, [&](Spoken& s) {
    if (s.tokens.size() >= 8 && calls_at_cancel < 0) {
      cancel.Cancel();
      calls_at_cancel = s.text_calls + s.speech_calls;
    }
  });
  EXPECT_EQ(cut.status.code(), StatusCode::kCancelled) << cut.status.ToString();
  ASSERT_GE(calls_at_cancel, 0);
  // Within a token: at most one more callback after the cancel.
  EXPECT_LE(cut.text_calls + cut.speech_calls, calls_at_cancel + 1);
  EXPECT_LT(cut.tokens.size(), full.tokens.size());
  // What was delivered is the greedy answer's beginning.
  ASSERT_LE(cut.tokens.size(), full.tokens.size());
  EXPECT_TRUE(std::equal(cut.tokens.begin(), cut.tokens.end(), full.tokens.begin()));

  // Cancelled before it starts: nothing is delivered.
  CancelToken already;
  already.Cancel();
  const Spoken none = Speak(request, already);
  EXPECT_EQ(none.status.code(), StatusCode::kCancelled) << none.status.ToString();
  EXPECT_TRUE(none.tokens.empty());
}

TEST(StepAudioBrainTest, ASecondTurnReusesTheFirstTurnsPromptAudioIncluded) {
  // A brain of its own: its stats start at zero.
  StepAudioBrainOptions options;
  options.model_dir = kDir + "tiny";
  options.threads = 2;
  options.slots = 2;
  options.kv_tokens = 2048;
  auto made = CreateStepAudioBrain(options);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  const Brain& brain = **made;
  auto drop = [](std::string_view) { return true; };
  auto drop_speech = [](std::span<const int>) { return true; };

  ReplyRequest first = OneHeardTurn(0);
  ASSERT_TRUE(brain.ReplySpoken(first, CancelToken(), drop, drop_speech).ok());
  const BrainStats after_first = brain.Stats();
  EXPECT_GT(after_first.prompt_tokens, 29);  // the clip alone is 29 audio rows
  EXPECT_GT(after_first.generated_tokens, 0);

  auto second_audio = std::make_shared<const std::vector<float>>(Clip()->begin(), Clip()->begin() + 16000);
  ReplyRequest second = first;
  second.history.push_back({Message::Role::kAssistant, "I heard you.", nullptr});
  second.history.push_back({Message::Role::kUser, "", second_audio});
  ASSERT_TRUE(brain.ReplySpoken(second, CancelToken(), drop, drop_speech).ok());
  const BrainStats after_second = brain.Stats();
  // The system message and the first turn's audio (29 rows) come from the slot, not the model.
  const int64_t reused = after_second.reused_tokens - after_first.reused_tokens;
  EXPECT_GT(reused, 29 + 10) << "reused " << reused;
  // Only what is new is evaluated: less than the whole second prompt.
  const int64_t evaluated = after_second.prompt_tokens - after_first.prompt_tokens;
  EXPECT_LT(evaluated, reused + evaluated);
  EXPECT_LT(evaluated, after_first.prompt_tokens) << "the second prompt was evaluated from scratch";
}

// ---- The vLLM backend through a fake server ----------------------------------------------------

std::string SseHeader() { return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"; }
std::string Chunk(const nlohmann::json& delta, const char* finish = nullptr) {
  nlohmann::json choice = {{"index", 0}, {"delta", delta}};
  choice["finish_reason"] = finish ? nlohmann::json(finish) : nlohmann::json(nullptr);
  return "data: " + nlohmann::json({{"id", "c"}, {"object", "chat.completion.chunk"}, {"choices", {choice}}}).dump() +
         "\n\n";
}
std::string Tts(const std::string& text, const std::string& audio) {
  return Chunk({{"tts_content", {{"tts_text", text}, {"tts_audio", audio}}}});
}

std::unique_ptr<Brain> VllmBrain(const std::string& url) {
  StepAudioBrainOptions options;
  options.vllm.url = url;
  options.vllm.timeout_s = 10;
  auto b = CreateStepAudioBrain(options);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? std::move(b).value() : nullptr;
}

TEST(StepAudioBrainVllmTest, ASpokenAnswersTextAndTokensReachTheSinks) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Chunk({{"role", "assistant"}, {"content", ""}}));
    send(Tts("Hello", "<audio_10><audio_20><aud"));
    send(Tts(" there.", "io_6560><audio_6561><audio_0>"));
    send(Chunk(nlohmann::json::object(), "stop"));
    send("data: [DONE]\n\n");
  });
  auto brain = VllmBrain(server.url());
  ASSERT_NE(brain, nullptr);
  EXPECT_TRUE(brain->hears_audio());
  EXPECT_TRUE(brain->speaks());
  ReplyRequest request = OneHeardTurn(0.3);
  std::string text;
  std::vector<int> tokens;
  Status st = brain->ReplySpoken(
      request, CancelToken(),
      [&](std::string_view t) {
        text += t;
        return true;
      },
      [&](std::span<const int> s) {
        tokens.insert(tokens.end(), s.begin(), s.end());
        return true;
      });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(text, "Hello there.");
  EXPECT_EQ(tokens, (std::vector<int>{10, 20, 6560, 0}));  // 6561 is padding
  // The request: the persona's system message, the user's audio as a WAV part, the spoken prefix,
  // the request's temperature and budget.
  const std::string req = server.last_request();
  const auto body = nlohmann::json::parse(req.substr(req.find("\r\n\r\n") + 4));
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.3);
  EXPECT_EQ(body["max_tokens"], 40);
  const auto& m = body["messages"];
  ASSERT_GE(m.size(), 3u);
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[1]["role"], "human");
  ASSERT_TRUE(m[1]["content"].is_array());
  EXPECT_EQ(m[1]["content"][0]["type"], "input_audio");
  EXPECT_EQ(m.back(), (nlohmann::json{{"role", "assistant"}, {"content", "<tts_start>"}, {"eot", false}}));
}

TEST(ThinkSplitterTest, SplitsThinkingFromTheReplyWhereverTheTagsAreCut) {
  const std::string whole = "<think>The user says hi.</think>Hello there. <think>x</think>Bye <thin";
  // Every way of cutting the stream in two gives the same thinking and reply.
  for (size_t cut = 0; cut <= whole.size(); ++cut) {
    ThinkSplitter split;
    std::string thinking, reply;
    auto sink = [&](std::string_view t, bool is_thinking) { (is_thinking ? thinking : reply) += t; };
    split.Feed(std::string_view(whole).substr(0, cut), sink);
    split.Feed(std::string_view(whole).substr(cut), sink);
    split.Finish(sink);
    EXPECT_EQ(thinking, "The user says hi.x") << "cut at " << cut;
    EXPECT_EQ(reply, "Hello there. Bye <thin") << "cut at " << cut;
  }
}

TEST(StepAudioBrainVllmTest, AThinkingModelsReasoningGoesToTheThinkingSinkNeverToTheSpeech) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Tts("<think>They want", ""));
    send(Tts(" a greeting.</th", ""));
    send(Tts("ink>Hi!", "<audio_5><audio_6>"));
    send(Chunk(nlohmann::json::object(), "stop"));
    send("data: [DONE]\n\n");
  });
  auto brain = VllmBrain(server.url());
  ASSERT_NE(brain, nullptr);
  std::string text, thinking;
  std::vector<int> tokens;
  Status st = brain->ReplySpoken(
      OneHeardTurn(0.3), CancelToken(),
      [&](std::string_view t) {
        text += t;
        return true;
      },
      [&](std::span<const int> s) {
        tokens.insert(tokens.end(), s.begin(), s.end());
        return true;
      },
      [&](std::string_view t) {
        thinking += t;
        return true;
      });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(thinking, "They want a greeting.");
  EXPECT_EQ(text, "Hi!");
  EXPECT_EQ(tokens, (std::vector<int>{5, 6}));
}

TEST(StepAudioBrainVllmTest, ACutStreamIsUnavailableAfterTheDeliveredTokens) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Tts("Half an ", "<audio_1><audio_2>"));
    send(Tts("answer", "<audio_3><aud"));  // the server goes away: no finish_reason, no [DONE]
  });
  auto brain = VllmBrain(server.url());
  ASSERT_NE(brain, nullptr);
  std::string text;
  std::vector<int> tokens;
  Status st = brain->ReplySpoken(
      OneHeardTurn(0), CancelToken(),
      [&](std::string_view t) {
        text += t;
        return true;
      },
      [&](std::span<const int> s) {
        tokens.insert(tokens.end(), s.begin(), s.end());
        return true;
      });
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
  EXPECT_EQ(text, "Half an answer");
  EXPECT_EQ(tokens, (std::vector<int>{1, 2, 3}));
}

// A barge-in while the model server is silent (busy, stalled) stops the stream at once, whenever
// it comes: libcurl alone looks at the cancel token only about once a second while nothing
// arrives.
TEST(StepAudioBrainVllmTest, ACancelWhileTheServerIsSilentIsPromptWheneverItComes) {
  for (int delay_ms : {120, 370, 620}) {
    FakeServer server([](const std::string&, int, const auto& send) {
      send(SseHeader());
      send(Tts("Thinking", "<audio_1>"));
      std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // then nothing for a while
    });
    auto brain = VllmBrain(server.url());
    ASSERT_NE(brain, nullptr);
    CancelToken cancel;
    std::chrono::steady_clock::time_point cancelled_at;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      cancelled_at = std::chrono::steady_clock::now();
      cancel.Cancel();
    });
    std::string text;
    Status st = brain->ReplySpoken(
        OneHeardTurn(0), cancel,
        [&](std::string_view t) {
          text += t;
          return true;
        },
        [](std::span<const int>) { return true; });
    const auto returned_at = std::chrono::steady_clock::now();
    canceller.join();
    EXPECT_EQ(st.code(), StatusCode::kCancelled) << st.ToString();
    EXPECT_EQ(text, "Thinking");
    EXPECT_LT(returned_at - cancelled_at, std::chrono::milliseconds(150)) << "cancelled " << delay_ms << " ms in";
  }
}

TEST(StepAudioBrainVllmTest, NeitherAModelNorAUrlIsAnErrorNamingBoth) {
  auto none = CreateStepAudioBrain({});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("--model"), std::string::npos) << none.status().message();
  EXPECT_NE(none.status().message().find("--llm-url"), std::string::npos) << none.status().message();
  StepAudioBrainOptions bad;
  bad.vllm.url = "gpu:8000";
  auto no_scheme = CreateStepAudioBrain(bad);
  ASSERT_FALSE(no_scheme.ok());
  EXPECT_NE(no_scheme.status().message().find("gpu:8000"), std::string::npos);
}

}  // namespace
}  // namespace cadence::brain
