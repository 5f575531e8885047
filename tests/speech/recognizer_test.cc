#include "speech/asr/recognizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>

#include "audio/wav.h"
#include "speech/asr/pocketsphinx_recognizer.h"
#include "speech/asr/word_error_rate.h"
#include "test_util.h"

namespace cadence::speech {
namespace {

// The server's default (fast: single search pass) or the accurate mode (--asr-accurate).
const Recognizer& SharedRecognizer(bool fast = true) {
  static std::unique_ptr<Recognizer> recognizers[2];
  static std::once_flag once[2];
  std::call_once(once[fast], [&] {
    RecognizerConfig config;
    config.fast = fast;
    auto r = CreateRecognizer(config);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) recognizers[fast] = std::move(r).value();
  });
  return *recognizers[fast];
}

// Feeds audio in 100 ms chunks, as a session would, and returns the final transcript.
Transcript Recognize(std::span<const float> pcm_16k, std::string* last_partial = nullptr, bool fast = true) {
  auto stream = SharedRecognizer(fast).CreateStream();
  for (size_t i = 0; i < pcm_16k.size(); i += 1600) {
    stream->AcceptWaveform(pcm_16k.subspan(i, std::min<size_t>(1600, pcm_16k.size() - i)));
    if (last_partial) *last_partial = stream->Partial();
  }
  auto t = stream->Finish();
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : Transcript{};
}

TEST(WordErrorRate, CountsEditsOverReferenceWords) {
  EXPECT_DOUBLE_EQ(WordErrorRate("Ask not, what!", "ask not what"), 0.0);
  EXPECT_DOUBLE_EQ(WordErrorRate("a b c d", "a x c"), 0.5);  // 1 substitution + 1 deletion
  EXPECT_DOUBLE_EQ(WordErrorRate("a b", "a b c d"), 1.0);    // 2 insertions
  EXPECT_DOUBLE_EQ(WordErrorRate("", ""), 0.0);
  EXPECT_DOUBLE_EQ(WordErrorRate("", "x"), 1.0);
}

TEST(Recognizer, MissingWhisperModelIsAClearError) {
  auto r = CreateRecognizer({"/models/whisper-small", ""});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/models/whisper-small"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("--asr-model"), std::string::npos) << r.status().ToString();
}

TEST(Recognizer, WhisperModelPathSelectsWhisper) {
  auto r = CreateRecognizer({std::string(CADENCE_SOURCE_DIR) + "/tests/speech/data/whisper/tiny/ggml-tiny-random.bin", "en"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->name(), "whisper");
}

TEST(Recognizer, UnsupportedLanguageIsRejected) {
  auto r = CreateRecognizer({"", "fr"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(Recognizer, RecognizesFliteSpeech) {
  // Flite and PocketSphinx share no model, so this is a real round trip: any word found is heard.
  const char* kSentences[] = {
      "Please call me tomorrow morning.",
      "The weather is very nice today.",
      "I would like a cup of coffee.",
      "What time is it now?",
  };
  double total_errors = 0, total_words = 0;
  for (const char* sentence : kSentences) {
    auto pcm = testing::To16k(testing::Speak(sentence, "rms"));
    std::string partial;
    Transcript t = Recognize(pcm, &partial);
    double words = NormalizeWords(sentence).size();
    double wer = WordErrorRate(sentence, t.text);
    total_errors += wer * words;
    total_words += words;
    std::printf("[ref] %s\n[hyp] %s  (WER %.2f, partial \"%s\", confidence %.2f)\n", sentence, t.text.c_str(), wer,
                partial.c_str(), t.confidence);
  }
  double wer = total_errors / total_words;
  std::printf("Flite rms → PocketSphinx WER over %d words: %.3f\n", static_cast<int>(total_words), wer);
  EXPECT_LT(wer, 0.35);
}

TEST(Recognizer, PartialGrowsDuringTheUtterance) {
  auto pcm = testing::To16k(testing::Speak("Please call me tomorrow morning.", "rms"));
  auto stream = SharedRecognizer().CreateStream();
  stream->AcceptWaveform(std::span<const float>(pcm).first(pcm.size() / 2));
  std::string half = stream->Partial();
  stream->AcceptWaveform(std::span<const float>(pcm).subspan(pcm.size() / 2));
  std::string full = stream->Partial();
  EXPECT_FALSE(full.empty());
  EXPECT_GE(NormalizeWords(full).size(), NormalizeWords(half).size());
}

TEST(Recognizer, SilenceAndNothingAreEmptyTranscripts) {
  auto stream = SharedRecognizer().CreateStream();
  auto t = stream->Finish();
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->text, "");
  std::vector<float> silence(16000, 0.0f);
  EXPECT_EQ(Recognize(silence).text, "");
}

TEST(Recognizer, StreamIsReusableAfterFinish) {
  auto pcm = testing::To16k(testing::Speak("Good morning.", "rms"));
  auto stream = SharedRecognizer().CreateStream();
  stream->AcceptWaveform(pcm);
  auto first = stream->Finish();
  stream->AcceptWaveform(pcm);
  auto second = stream->Finish();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->text, second->text);
}

TEST(Recognizer, TranscriptDoesNotDependOnChunking) {
  // A server under load hands the recognizer bigger, irregular chunks; the transcript (and the
  // cepstral mean it is decoded with) must depend on the audio alone.
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  std::span<const float> pcm(wave->samples);
  pcm = pcm.first(std::min<size_t>(pcm.size(), 16000 * 6));
  std::string reference = Recognize(pcm).text;
  ASSERT_FALSE(reference.empty());
  const size_t kChunkPatterns[][3] = {{1600, 1600, 1600}, {320, 320, 320}, {7919, 123, 2048}, {16000 * 3, 1, 5000}};
  for (const auto& pattern : kChunkPatterns) {
    auto stream = SharedRecognizer().CreateStream();
    size_t k = 0;
    for (size_t i = 0; i < pcm.size(); k = (k + 1) % 3) {
      size_t n = std::min(pattern[k], pcm.size() - i);
      stream->AcceptWaveform(pcm.subspan(i, n));
      i += n;
    }
    auto t = stream->Finish();
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->text, reference) << "chunks " << pattern[0] << "/" << pattern[1] << "/" << pattern[2];
  }
}

TEST(Recognizer, ConcurrentStreamsShareThePool) {
  auto pcm = testing::To16k(testing::Speak("The weather is very nice today.", "rms"));
  std::string a, b;
  std::thread t1([&] { a = Recognize(pcm).text; });
  std::thread t2([&] { b = Recognize(pcm).text; });
  t1.join();
  t2.join();
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);  // each stream had its own decoder
}

TEST(Recognizer, RealSpeechClipsLooseBound) {
  // Real recordings: PocketSphinx's small model is weak on these; report honestly, bound loosely.
  struct Clip {
    const char* file;
    const char* transcript;
    double max_wer_accurate, max_wer_fast;
  };
  const Clip kClips[] = {
      // Trimmed to 8 s: the reference covers only what the clip holds.
      // Measured (RelWithDebInfo), accurate / fast (search capped): 0.21 / 0.50, 0.67 / 0.67,
      // 0.67 / 0.67. Each utterance starts a fresh front-end stream (noise estimate); before, the
      // RAVDESS clip read 0.33 / 0.50 partly because it inherited the JFK clip's noise estimate.
      {"en_m_jfk.wav", "And so my fellow Americans, ask not what your country can do for you", 0.5, 0.6},
      {"en_f_ljspeech_LJ002-0020.wav", "in eighteen thirteen", 1.0, 1.0},
      {"en_m_ravdess_01-01-01-01-01-01-01.wav", "Kids are talking by the door", 0.85, 0.75},
  };
  double total_accurate = 0, total_fast = 0;
  for (const Clip& clip : kClips) {
    auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/" + clip.file);
    ASSERT_TRUE(wave.ok()) << wave.status().ToString();
    ASSERT_EQ(wave->sample_rate_hz, 16000) << clip.file;
    for (bool fast : {false, true}) {
      Transcript t = Recognize(wave->samples, nullptr, fast);
      double wer = WordErrorRate(clip.transcript, t.text);
      std::printf("%s (%s): \"%s\" WER %.2f\n", clip.file, fast ? "fast" : "accurate", t.text.c_str(), wer);
      EXPECT_LE(wer, fast ? clip.max_wer_fast : clip.max_wer_accurate) << clip.file;
      (fast ? total_fast : total_accurate) += wer;
    }
  }
  // The extra passes are worth their time only if they help.
  EXPECT_LE(total_accurate, total_fast);
}

}  // namespace
}  // namespace cadence::speech

namespace cadence::speech {
namespace {

// The decoder pool is bounded, and decoders beyond the preloaded ones are freed once idle: a
// burst of abandoned turns must not leave the process ~85 MiB per turn bigger for good.
TEST(PocketSphinxPool, BoundedAndIdleDecodersAreFreed) {
  PocketSphinxConfig config;
  config.max_decoders = 2;
  config.idle_release_s = 0.05;
  auto recognizer = CreatePocketSphinxRecognizer(config);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  const std::vector<float> silence(3200, 0.0f);
  auto a = (*recognizer)->CreateStream();
  auto b = (*recognizer)->CreateStream();
  auto c = (*recognizer)->CreateStream();
  a->AcceptWaveform(silence);
  b->AcceptWaveform(silence);
  c->AcceptWaveform(silence);  // both decoders are taken
  Result<Transcript> refused = c->Finish();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("--asr-max-decoders"), std::string::npos);
  EXPECT_TRUE(a->Finish().ok());
  a.reset();
  b.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE((*recognizer)->ReleaseIdle());   // one beyond the one preloaded
  EXPECT_FALSE((*recognizer)->ReleaseIdle());  // the preloaded one stays
  auto d = (*recognizer)->CreateStream();
  d->AcceptWaveform(silence);
  EXPECT_TRUE(d->Finish().ok());
}

}  // namespace
}  // namespace cadence::speech
