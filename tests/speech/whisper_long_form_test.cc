// Long-form Whisper: utterances longer than the model's window are cut at quiet points and every
// part is transcribed; nothing past the first window is dropped, and a stream that finishes
// segments as audio arrives gives the batch transcript.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audio/wav.h"
#include "speech/asr/whisper/log_mel.h"
#include "speech/asr/whisper/long_form.h"
#include "speech/asr/whisper/whisper_recognizer.h"
#include "whisper_test_data.h"

namespace cadence::speech::whisper {
namespace {

TEST(WhisperLongFormTest, SegmentsCoverTheAudioAndCutInTheQuietGaps) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  std::vector<float> audio(70 * kSampleRateHz);
  for (auto& v : audio) v = noise(rng);
  // Quiet 300-ms gaps at 27.2 s and 55.0 s; a quieter but earlier one at 20 s lies outside the
  // first cut's search span (the window's last 5 s) and must not be chosen.
  auto quiet = [&](double at_s, float level) {
    for (size_t i = static_cast<size_t>(at_s * kSampleRateHz); i < static_cast<size_t>((at_s + 0.3) * kSampleRateHz); ++i)
      audio[i] *= level;
  };
  quiet(27.2, 0.01f);
  quiet(55.0, 0.01f);
  quiet(20.0, 0.0f);
  const size_t window = kChunkSamples;
  const std::vector<Segment> segments = LongFormSegments(audio, window);
  ASSERT_EQ(segments.size(), 3u);
  EXPECT_EQ(segments.front().begin, 0u);
  EXPECT_EQ(segments.back().end, audio.size());
  for (size_t i = 0; i < segments.size(); ++i) {
    EXPECT_LE(segments[i].end - segments[i].begin, window) << i;
    if (i > 0) {
      EXPECT_EQ(segments[i].begin, segments[i - 1].end) << i;
    }
  }
  const double cut1 = segments[0].end / static_cast<double>(kSampleRateHz);
  const double cut2 = segments[1].end / static_cast<double>(kSampleRateHz);
  // Inside the gaps, far enough in that the 100 ms around the cut is all quiet.
  EXPECT_GE(cut1, 27.249);
  EXPECT_LE(cut1, 27.451);
  EXPECT_GE(cut2, 55.049);
  EXPECT_LE(cut2, 55.251);

  EXPECT_EQ(LongFormSegments(std::vector<float>(window), window).size(), 1u);
  EXPECT_TRUE(LongFormSegments({}, window).empty());
}

// `samples` through a stream in 100-ms chunks, as a session feeds it, asking for a partial after
// each chunk when `partials`; the last partial goes to *last_partial when given.
Result<Transcript> Streamed(const WhisperRecognizer& recognizer, const std::vector<float>& samples, bool partials,
                            std::string* last_partial = nullptr) {
  auto stream = recognizer.CreateStream();
  for (size_t at = 0; at < samples.size(); at += 1600) {
    stream->AcceptWaveform(std::span<const float>(samples).subspan(at, std::min<size_t>(1600, samples.size() - at)));
    if (!partials) continue;
    const std::string partial = stream->Partial();
    if (last_partial) *last_partial = partial;
  }
  return stream->Finish();
}

// The tiny model's recognizer with `language` and partials every `partial_interval_ms`.
Result<std::unique_ptr<WhisperRecognizer>> TinyRecognizer(const std::string& language, int partial_interval_ms) {
  WhisperOptions options;
  options.language = language;
  options.partial_interval_ms = partial_interval_ms;
  return WhisperRecognizer::Create(testing::TinyPath("ggml-tiny-random.bin"), options);
}

TEST(WhisperLongFormTest, LongUtteranceIsTranscribedWholeAndStreamEqualsBatch) {
  auto recognizer = TinyRecognizer("en", 700);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  const std::vector<float>& samples = wave->samples;
  const size_t window = (*recognizer)->window_samples();
  ASSERT_GT(samples.size(), 3 * window) << "the tiny model's window should be far shorter than the clip";

  // Batch: every segment's text, in order.
  const std::vector<Segment> segments = LongFormSegments(samples, window);
  ASSERT_GE(segments.size(), 4u);
  std::string joined;
  for (const Segment& s : segments) {
    auto t = (*recognizer)->TranscribeWindow(
        std::vector<float>(samples.begin() + static_cast<long>(s.begin), samples.begin() + static_cast<long>(s.end)), "en");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    joined += t->text;
  }
  auto batch = (*recognizer)->Transcribe(samples);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->text, joined);
  auto first_window = (*recognizer)->TranscribeWindow(samples, "en");  // what was kept before: the first window
  ASSERT_TRUE(first_window.ok());
  EXPECT_GT(batch->text.size(), first_window->text.size());

  // Streamed in 100-ms chunks with partials: the same text, and partials grow with the finished
  // segments.
  std::string partial;
  auto streamed = Streamed(**recognizer, samples, true, &partial);
  ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
  EXPECT_EQ(streamed->text, batch->text);
  EXPECT_EQ(streamed->language, "en");
  EXPECT_EQ(streamed->confidence, batch->confidence);
  EXPECT_GT(batch->confidence, 0.0);
  EXPECT_LE(batch->confidence, 1.0);
  // Without partials the segments are finished as the audio arrives, to the same text.
  auto no_partials = Streamed(**recognizer, samples, false);
  ASSERT_TRUE(no_partials.ok()) << no_partials.status().ToString();
  EXPECT_EQ(no_partials->text, batch->text);
  // The last partial holds every finished segment's final text.
  std::string finished;
  for (size_t i = 0; i + 1 < segments.size(); ++i) {
    auto t = (*recognizer)->TranscribeWindow(std::vector<float>(samples.begin() + static_cast<long>(segments[i].begin),
                                                                samples.begin() + static_cast<long>(segments[i].end)),
                                             "en");
    ASSERT_TRUE(t.ok());
    finished += t->text;
  }
  EXPECT_EQ(partial.substr(0, finished.size()), finished);
}

// With the language left to detection, the stream detects on the first segment as the batch pass
// does (not on a partial's shorter window), so both give the same language and text.
TEST(WhisperLongFormTest, DetectedLanguageStreamEqualsBatch) {
  auto recognizer = TinyRecognizer("", 300);
  ASSERT_TRUE(recognizer.ok()) << recognizer.status().ToString();
  for (const char* clip : {"en_m_jfk.wav", "zh_aishell_BAC009S0724W0121.wav"}) {
    auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/" + clip);
    ASSERT_TRUE(wave.ok()) << wave.status().ToString();
    auto batch = (*recognizer)->Transcribe(wave->samples);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    auto streamed = Streamed(**recognizer, wave->samples, true);
    ASSERT_TRUE(streamed.ok()) << streamed.status().ToString();
    EXPECT_EQ(streamed->language, batch->language) << clip;
    EXPECT_EQ(streamed->text, batch->text) << clip;
  }
}

}  // namespace
}  // namespace cadence::speech::whisper
