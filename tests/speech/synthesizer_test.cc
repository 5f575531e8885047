#include "speech/tts/synthesizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_util.h"

namespace cadence::speech {
namespace {

using testing::Rms;
using testing::SharedSynthesizer;
using testing::Speak;
using testing::VoicedFraction;

TEST(Synthesizer, ListsEnglishAndMandarinVoices) {
  auto voices = SharedSynthesizer().Voices();
  bool en_f = false, en_m = false, zh_f = false, zh_m = false;
  for (const auto& v : voices) {
    en_f |= v.language == "en" && v.gender == "female";
    en_m |= v.language == "en" && v.gender == "male";
    zh_f |= v.language == "zh" && v.gender == "female";
    zh_m |= v.language == "zh" && v.gender == "male";
  }
  EXPECT_TRUE(en_f && en_m && zh_f && zh_m) << voices.size() << " voices";
}

TEST(Synthesizer, ResolvesVendorVoicesByGender) {
  const auto& synth = SharedSynthesizer();
  auto gender_of = [&](const std::string& name) {
    auto id = synth.ResolveVoice(name);
    EXPECT_TRUE(id.ok()) << name << ": " << id.status().ToString();
    for (const auto& v : synth.Voices())
      if (id.ok() && v.id == *id) return v.gender;
    return std::string("?");
  };
  for (const char* f : {"alloy", "coral", "sage", "shimmer", "marin", "qingchunshaonv", "slt", "CMN-F"})
    EXPECT_EQ(gender_of(f), "female") << f;
  for (const char* m : {"ash", "ballad", "echo", "verse", "cedar", "wenrounansheng", "rms", "kal16"})
    EXPECT_EQ(gender_of(m), "male") << m;
  EXPECT_EQ(*synth.ResolveVoice("qingchunshaonv"), "cmn-f");
  EXPECT_EQ(*synth.ResolveVoice(""), "slt");
}

TEST(Synthesizer, UnknownVoiceNamesTheChoices) {
  auto id = SharedSynthesizer().ResolveVoice("nova2000");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(id.status().message().find("nova2000"), std::string::npos);
  EXPECT_NE(id.status().message().find("alloy"), std::string::npos);
  EXPECT_NE(id.status().message().find("slt"), std::string::npos);
}

TEST(Synthesizer, RejectsBadRequests) {
  SynthesisRequest r;
  r.text = "hi";
  r.speed = 9.0;
  Status s;
  Speak(r, nullptr, &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("speed"), std::string::npos);
  r.speed = 1.0;
  r.language = "fr";
  Speak(r, nullptr, &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  r.language = "";
  r.voice = "nobody";
  Speak(r, nullptr, &s);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

TEST(Synthesizer, EnglishIsSpeechLikeAndStreamsPerSentence) {
  SynthesisRequest r;
  r.text = "The weather is lovely today. Shall we go for a walk? I would like that very much.";
  int chunks = 0;
  Status status;
  auto pcm = Speak(r, &chunks, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(chunks, 3);
  double seconds = pcm.size() / static_cast<double>(kTtsSampleRateHz);
  EXPECT_GT(seconds, 3.0);
  EXPECT_LT(seconds, 10.0);
  EXPECT_GT(Rms(pcm), 0.02);
  EXPECT_GT(VoicedFraction(pcm), 0.3);
  float peak = 0;
  for (float s : pcm) peak = std::max(peak, std::abs(s));
  EXPECT_LE(peak, 1.0f);
}

TEST(Synthesizer, EmptyTextIsNoAudio) {
  int chunks = -1;
  Status status;
  SynthesisRequest r;
  r.text = "   ";
  auto pcm = Speak(r, &chunks, &status);
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(chunks, 0);
  EXPECT_TRUE(pcm.empty());
}

TEST(Synthesizer, MandarinIsSpeechLike) {
  SynthesisRequest r;
  r.text = "今天天气很好。我们去公园散步吧！";
  r.voice = "qingchunshaonv";
  int chunks = 0;
  Status status;
  auto pcm = Speak(r, &chunks, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(chunks, 2);
  double seconds = pcm.size() / static_cast<double>(kTtsSampleRateHz);
  // 14 syllables at 3-7 syllables/s.
  EXPECT_GT(seconds, 1.8);
  EXPECT_LT(seconds, 6.0);
  EXPECT_GT(Rms(pcm), 0.02);
  EXPECT_GT(VoicedFraction(pcm), 0.3);
}

TEST(Synthesizer, ChineseTextWithEnglishVoiceSwitchesToMandarin) {
  // The English-only Flite voice cannot say Han characters (it would be near-silent); a
  // detected-Chinese sentence must reach the Mandarin voice and come out as real speech.
  SynthesisRequest r;
  r.text = "你好，欢迎光临。";
  r.voice = "alloy";
  auto pcm = Speak(r);
  EXPECT_GT(pcm.size(), static_cast<size_t>(kTtsSampleRateHz));
  EXPECT_GT(VoicedFraction(pcm), 0.3);
}

TEST(Synthesizer, CancellationStopsEarly) {
  SynthesisRequest r;
  for (int i = 0; i < 20; ++i) r.text += "This is one of many sentences in a long reply. ";
  CancelToken cancel;
  int chunks = 0;
  Status s = SharedSynthesizer().Synthesize(r, cancel, [&](std::span<const float>) {
    if (++chunks == 2) cancel.Cancel();
    return true;
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(chunks, 2);
}

TEST(Synthesizer, MandarinCancelsInsideASentence) {
  SynthesisRequest r;
  r.voice = "cmn-m";
  for (int i = 0; i < 10; ++i) r.text += "我们今天一起去公园散步然后吃饭";
  CancelToken cancel;
  cancel.Cancel();
  int chunks = 0;
  Status s = SharedSynthesizer().Synthesize(r, cancel, [&](std::span<const float>) { return ++chunks, true; });
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(chunks, 0);
}

TEST(Synthesizer, SinkReturningFalseStops) {
  SynthesisRequest r;
  r.text = "One. Two. Three. Four.";
  int chunks = 0;
  Status s = SharedSynthesizer().Synthesize(r, CancelToken(), [&](std::span<const float>) { return ++chunks < 2; });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(chunks, 2);
}

TEST(Synthesizer, SafeFromSeveralThreads) {
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::vector<size_t> sizes(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      SynthesisRequest r;
      r.text = t % 2 ? "你好，很高兴认识你。" : "Nice to meet you, my friend.";
      r.voice = t < 2 ? "slt" : "rms";
      Status status;
      sizes[t] = Speak(r, nullptr, &status).size();
      if (!status.ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (size_t n : sizes) EXPECT_GT(n, static_cast<size_t>(kTtsSampleRateHz / 2));
  // Same text and voice twice in a row renders alike (eSpeak's global state does not drift).
  SynthesisRequest r;
  r.text = "你好，很高兴认识你。";
  double a = Speak(r).size(), b = Speak(r).size();
  EXPECT_NEAR(a / b, 1.0, 0.02);
}

}  // namespace
}  // namespace cadence::speech
