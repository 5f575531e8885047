// The neural voice end to end on tiny random models (tests/engine/data/cosyvoice_lm for the
// speech-token LM, tests/engine/data/token2wav/tiny for flow + HiFT + the prompt encoders): the
// default voice prompted by Flite, streamed chunks that add up to whole tokens of audio, the same
// audio for the same request, a listener that stops the synthesis, vendor voice names, and errors
// that name the flag and the file. (Each model is held to its PyTorch reference in engine_test;
// random weights make noise, so nothing here listens to the words.)
#include "speech/tts/neural_synthesizer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace cadence::speech {
namespace {

const std::string kData = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/";

NeuralVoiceConfig TinyConfig() {
  NeuralVoiceConfig c;
  c.lm_dir = kData + "cosyvoice_lm";
  c.token2wav_dir = kData + "token2wav/tiny";
  c.threads = 1;
  c.chunk_tokens = 25;
  return c;
}

const Synthesizer& Tiny() {
  static auto* synth = [] {
    auto s = CreateNeuralSynthesizer(TinyConfig());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value().release() : nullptr;
  }();
  return *synth;
}

struct Synthesis {
  std::vector<std::vector<float>> chunks;
  std::vector<float> all;
  Status status;
};

Synthesis Speak(const std::string& text, const std::string& emotion = "neutral", size_t stop_after = 0) {
  SynthesisRequest request;
  request.text = text;
  request.voice = "default";
  request.tone.emotion = emotion;
  Synthesis run;
  run.status = Tiny().Synthesize(request, CancelToken(), [&](std::span<const float> pcm) {
    run.chunks.emplace_back(pcm.begin(), pcm.end());
    run.all.insert(run.all.end(), pcm.begin(), pcm.end());
    return stop_after == 0 || run.chunks.size() < stop_after;
  });
  return run;
}

TEST(NeuralSynthesizerTest, StreamsWholeTokensOfAudioInChunks) {
  ASSERT_EQ(Tiny().Voices().size(), 1u);
  EXPECT_EQ(Tiny().Voices()[0].id, "default");
  EXPECT_EQ(Tiny().Voices()[0].engine, "cosyvoice2");
  Synthesis run = Speak("Hello there [laughs] how are <emphasis>you</emphasis> today?");
  ASSERT_TRUE(run.status.ok()) << run.status.ToString();
  // 25 Hz tokens, 960 samples each at 24 kHz: the held-back tails all come out.
  ASSERT_GT(run.all.size(), 0u);
  EXPECT_EQ(run.all.size() % 960, 0u) << run.all.size();
  EXPECT_GE(run.chunks.size(), 2u) << "the first chunk should leave before the LM finishes";
  for (float x : run.all) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_LE(std::fabs(x), 0.99f + 1e-6f);
  }
}

TEST(NeuralSynthesizerTest, SameRequestSameAudioAndToneChangesIt) {
  Synthesis a = Speak("One more time, please.");
  Synthesis b = Speak("One more time, please.");
  ASSERT_TRUE(a.status.ok() && b.status.ok());
  EXPECT_EQ(a.all, b.all);
  // A happy tone becomes an instruct-mode prompt: the LM reads something else first.
  Synthesis happy = Speak("One more time, please.", "happy");
  ASSERT_TRUE(happy.status.ok());
  EXPECT_NE(happy.all, a.all);
}

TEST(NeuralSynthesizerTest, AListenerThatStopsEndsTheSynthesis) {
  Synthesis full = Speak("Hello there, how are you doing on this fine day?");
  ASSERT_GE(full.chunks.size(), 2u);
  Synthesis stopped = Speak("Hello there, how are you doing on this fine day?", "neutral", /*stop_after=*/1);
  ASSERT_TRUE(stopped.status.ok()) << stopped.status.ToString();
  EXPECT_EQ(stopped.chunks.size(), 1u);
}

TEST(NeuralSynthesizerTest, VendorNamesResolveAndUnknownOnesAreErrors) {
  EXPECT_EQ(*Tiny().ResolveVoice("alloy"), "default");
  EXPECT_EQ(*Tiny().ResolveVoice("qingchunshaonv"), "default");
  auto unknown = Tiny().ResolveVoice("nobody");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--voice-prompt"), std::string::npos);
}

TEST(NeuralSynthesizerTest, BadFlagsAndFilesAreNamed) {
  EXPECT_FALSE(ParseVoicePrompt("just-a-name").ok());
  EXPECT_FALSE(ParseVoicePrompt("name=file.wav").ok());
  auto ok = ParseVoicePrompt("anna=/tmp/anna.wav:Hello: it's me.");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->name, "anna");
  EXPECT_EQ(ok->wav_path, "/tmp/anna.wav");
  EXPECT_EQ(ok->transcript, "Hello: it's me.");
  NeuralVoiceConfig missing = TinyConfig();
  missing.lm_dir = kData + "no-such-model";
  auto s = CreateNeuralSynthesizer(missing);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--voice-model"), std::string::npos) << s.status().message();
  NeuralVoiceConfig no_clip = TinyConfig();
  no_clip.prompts.push_back({"anna", kData + "no-such.wav", "Hi."});
  auto c = CreateNeuralSynthesizer(no_clip);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--voice-prompt anna"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace cadence::speech
