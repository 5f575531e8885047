// WhisperRecognizer on the tiny random ggml model (tools/whisper/tiny_model.py): streaming the
// first 2 s of en_m_jfk.wav must give the text of the NumPy reference's greedy ids, spelled with the
// tiny vocabulary (id i < 96 is the character 32 + i), up to the recognizer's n_text_ctx / 2 cap,
// from both the ggml file and the Hugging Face directory.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audio/wav.h"
#include "speech/asr/whisper/whisper_recognizer.h"
#include "whisper_test_data.h"

namespace cadence::speech::whisper {
namespace {

using testing::ReferenceTokens;
using testing::TinyPath;

// The reference decodes greedily, without openai-whisper's temperature fallback: this random
// model's text is far too unlikely (avg_logprob < -1) and would be resampled.
WhisperOptions GreedyOnly(const std::string& language) {
  WhisperOptions options;
  options.language = language;
  options.temperature_increment = 0.0;
  return options;
}

void ExpectStreamMatchesReference(const std::string& model_path) {
  auto recognizer = WhisperRecognizer::Create(model_path, GreedyOnly("en"));
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  EXPECT_EQ((*recognizer)->name(), "whisper");
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  ASSERT_GE(wave->samples.size(), 32000u);

  auto stream = (*recognizer)->CreateStream();
  for (size_t at = 0; at < 32000; at += 1600) {
    stream->AcceptWaveform(std::span<const float>(wave->samples).subspan(at, 1600));
    stream->Partial();  // decodes once per second of new audio; must not disturb the final
  }
  auto transcript = stream->Finish();
  ASSERT_TRUE(transcript.ok()) << transcript.status().ToString();

  const std::vector<int> ids = ReferenceTokens();
  const int cap = (*recognizer)->model().hparams.n_text_ctx / 2;
  std::string expected;
  for (size_t i = 4; i < ids.size() && static_cast<int>(i - 4) < cap; ++i) {
    if (ids[i] < 96) expected += static_cast<char>(32 + ids[i]);
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(transcript->text, expected);
  EXPECT_EQ(transcript->language, "en");
}

TEST(WhisperRecognizerTest, GgmlStreamTranscribesAsTheReferenceDecodes) {
  ExpectStreamMatchesReference(TinyPath("ggml-tiny-random.bin"));
}

// vocab.json spells the space token as U+0120 (GPT-2's byte alphabet); the text must match the
// ggml file's raw bytes.
TEST(WhisperRecognizerTest, HuggingFaceStreamTranscribesAsTheReferenceDecodes) {
  ExpectStreamMatchesReference(TinyPath(""));
}

// Language "" detects (the reference's argmax over <|en|>, <|zh|> after <|startoftranscript|> is
// "zh" for this random model on this clip) and decodes after <|zh|>: the text of the reference's
// greedy_zh ids. The partial taken once the whole 2-s window is buffered covers the same audio and
// must equal the final.
TEST(WhisperRecognizerTest, DetectsTheLanguageAndPartialCoversTheSameAudio) {
  std::ifstream in(TinyPath("reference_decoding.txt"));
  std::string line, language;
  std::vector<int> ids;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string kind, clip;
    s >> kind >> clip;
    if (kind == "language" && clip == "en") s >> language;
    if (kind == "greedy_zh" && clip == "en") {
      for (int id; s >> id;) ids.push_back(id);
    }
  }
  ASSERT_EQ(language, "zh");
  ASSERT_GT(ids.size(), 4u);
  WhisperOptions options = GreedyOnly("");
  options.partial_interval_ms = 500;
  auto recognizer = WhisperRecognizer::Create(TinyPath("ggml-tiny-random.bin"), options);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok());
  auto stream = (*recognizer)->CreateStream();
  std::string partial;
  for (size_t at = 0; at < 32000; at += 1600) {
    stream->AcceptWaveform(std::span<const float>(wave->samples).subspan(at, 1600));
    partial = stream->Partial();
  }
  auto transcript = stream->Finish();
  ASSERT_TRUE(transcript.ok()) << transcript.status().ToString();
  const int cap = (*recognizer)->model().hparams.n_text_ctx / 2;
  std::string expected;
  for (size_t i = 4; i < ids.size() && static_cast<int>(i - 4) < cap; ++i) {
    if (ids[i] < 96) expected += static_cast<char>(32 + ids[i]);
  }
  EXPECT_EQ(transcript->language, "zh");
  EXPECT_EQ(transcript->text, expected);
  EXPECT_EQ(partial, transcript->text);
}

// encode_padding = false (--asr-window speech): the final encodes the utterance rounded up to whole
// seconds, the window a partial takes, instead of the padded model window; so on 1 s of audio (the
// tiny model's window is 2 s) the final is the partial's decode of the same audio, and differs
// from the padded final.
TEST(WhisperRecognizerTest, SpeechWindowFinalEncodesOnlyTheUtterance) {
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok());
  const std::vector<float> one_second(wave->samples.begin(), wave->samples.begin() + 16000);
  WhisperOptions options = GreedyOnly("en");
  auto padded = WhisperRecognizer::Create(TinyPath("ggml-tiny-random.bin"), options);
  options.encode_padding = false;
  auto speech = WhisperRecognizer::Create(TinyPath("ggml-tiny-random.bin"), options);
  ASSERT_TRUE(padded.ok() && speech.ok());
  ASSERT_EQ((*speech)->window_samples(), 32000u);
  EXPECT_EQ((*speech)->SpeechWindow(one_second.size()), 16000u);
  auto fast = (*speech)->Transcribe(one_second);
  auto partial = (*speech)->TranscribePartial(one_second, "en");
  auto full = (*padded)->Transcribe(one_second);
  ASSERT_TRUE(fast.ok() && partial.ok() && full.ok());
  EXPECT_EQ(fast->text, partial->text);
  EXPECT_NE(fast->text, full->text) << "the window should change what the tiny model decodes";
}

// The early final (recognizer.h): Pause() transcribes the audio so far, and FinishAtPause()
// returns that transcript without the trailing silence; speech after the pause, or a segment
// finished after it, makes the stream decode again.
TEST(WhisperRecognizerTest, EarlyFinalAtAPauseIsTheTranscriptOfTheAudioBeforeIt) {
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok());
  auto recognizer = WhisperRecognizer::Create(TinyPath("ggml-tiny-random.bin"), "en");
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  ASSERT_EQ((*recognizer)->window_samples(), 32000u);
  auto clip = [&](size_t begin, size_t end) {
    return std::vector<float>(wave->samples.begin() + static_cast<long>(begin), wave->samples.begin() + static_cast<long>(end));
  };
  // Trailing "silence": room noise at about -50 dBFS (exact zeros would equal Whisper's padding).
  std::vector<float> hiss(8000);
  uint32_t seed = 12345;
  for (float& x : hiss) {
    seed = seed * 1664525u + 1013904223u;
    x = 0.003f * (static_cast<float>(seed >> 8) / 8388608.0f - 1.0f);
  }
  auto joined = [](std::vector<float> a, const std::vector<float>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  auto paused_stream = [&](const std::vector<float>& before, const std::vector<float>& after) {
    auto stream = (*recognizer)->CreateStream();
    stream->AcceptWaveform(before);
    stream->Pause();
    stream->AcceptWaveform(after);
    return stream;
  };

  const std::vector<float> speech = clip(0, 16000);
  auto before = (*recognizer)->Transcribe(speech);
  auto with_hiss = (*recognizer)->Transcribe(joined(speech, hiss));
  ASSERT_TRUE(before.ok() && with_hiss.ok());
  ASSERT_NE(before->text, with_hiss->text) << "the trailing noise should change the tiny model's decode";

  auto early = paused_stream(speech, hiss)->FinishAtPause();
  ASSERT_TRUE(early.ok()) << early.status().ToString();
  EXPECT_EQ(early->text, before->text);
  EXPECT_EQ(early->confidence, before->confidence);
  EXPECT_EQ(early->language, "en");
  // Finish() ignores the pause: the whole utterance.
  auto whole = paused_stream(speech, hiss)->Finish();
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->text, with_hiss->text);
  // Without a pause, FinishAtPause() is Finish().
  auto never_paused = (*recognizer)->CreateStream();
  never_paused->AcceptWaveform(joined(speech, hiss));
  auto unpaused = never_paused->FinishAtPause();
  ASSERT_TRUE(unpaused.ok());
  EXPECT_EQ(unpaused->text, with_hiss->text);

  // A pause near the end of the 2-s window: the trailing audio closes a segment, so the pause's
  // decode no longer covers the rest, and the stream transcribes it all again.
  const std::vector<float> long_speech = clip(0, 30000);
  auto stale = paused_stream(long_speech, hiss)->FinishAtPause();
  auto long_whole = (*recognizer)->Transcribe(joined(long_speech, hiss));
  ASSERT_TRUE(stale.ok() && long_whole.ok());
  EXPECT_EQ(stale->text, long_whole->text);
}

TEST(WhisperRecognizerTest, MissingModelAndUnknownLanguageAreClearErrors) {
  auto missing = WhisperRecognizer::Create("/nonexistent/ggml-base.bin", "en");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/ggml-base.bin"), std::string::npos);
  auto lang = WhisperRecognizer::Create(TinyPath("ggml-tiny-random.bin"), "fr");
  ASSERT_FALSE(lang.ok());
  EXPECT_NE(lang.status().message().find("fr"), std::string::npos);
}

}  // namespace
}  // namespace cadence::speech::whisper
