// The analyzer's contract: streaming equals whole-file analysis, bad input is an error with a
// message, silence and nonverbal-only clips are valid, and the JSON shape carries its stable keys.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <numbers>
#include <random>

#include "audio/wav.h"
#include "paralinguistics/analyzer.h"
#include "paralinguistics/cues_json.h"
#include "paralinguistics/cues_text.h"
#include "test_util.h"

namespace cadence::paralinguistics {
namespace {

// A glottal-pulse-like source: a Rosenberg pulse train at f0(t), through one resonance.
std::vector<float> SyntheticVowel(double seconds, double f0_start_hz, double f0_end_hz, double jitter_fraction,
                                  uint32_t seed = 1) {
  const int fs = Analyzer::kSampleRateHz;
  std::vector<float> out(static_cast<size_t>(seconds * fs), 0.0f);
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 1.0);
  double t = 0.0;
  while (t < seconds) {
    const double f0 = f0_start_hz + (f0_end_hz - f0_start_hz) * t / seconds;
    double period = 1.0 / f0;
    period *= 1.0 + jitter_fraction * noise(rng);
    const int n = static_cast<int>(period * fs);
    const int open = static_cast<int>(0.6 * n);
    for (int i = 0; i < n && static_cast<size_t>(t * fs) + i < out.size(); ++i) {
      double g = 0.0;
      if (i < open) g = 0.5 * (1.0 - std::cos(std::numbers::pi * i / open));
      else if (i < open + n / 5) g = std::cos(std::numbers::pi * (i - open) / (2.0 * (n / 5)));
      out[static_cast<size_t>(t * fs) + i] += static_cast<float>(0.3 * g);
    }
    t += period;
  }
  // Differentiate (lip radiation) and resonate at 700 Hz, so the signal looks like a vowel.
  std::vector<float> y(out.size(), 0.0f);
  const double r = 0.97, w = 2.0 * std::numbers::pi * 700.0 / fs;
  const double a1 = 2.0 * r * std::cos(w), a2 = -r * r;
  double y1 = 0.0, y2 = 0.0, prev = 0.0;
  for (size_t i = 0; i < out.size(); ++i) {
    const double x = out[i] - prev;
    prev = out[i];
    const double v = x + a1 * y1 + a2 * y2;
    y2 = y1;
    y1 = v;
    y[i] = static_cast<float>(v * 0.2);
  }
  return y;
}

TEST(AnalyzerTest, SyntheticVowelPitchAndVoicing) {
  Analyzer analyzer;
  audio::Waveform w{Analyzer::kSampleRateHz, SyntheticVowel(1.0, 200.0, 200.0, 0.0)};
  auto a = analyzer.AnalyzeWaveform(w);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_NEAR(a->cues.pitch.median_hz, 200.0, 2.0);
  EXPECT_GT(a->cues.pitch.voiced_fraction, 0.9);
  EXPECT_LT(a->cues.voice_quality.jitter, 0.01);
  EXPECT_GT(a->cues.voice_quality.hnr_db, 15.0);
  // A glide from 120 to 240 Hz is one octave (12 st) up: the slope is about +12 st/s.
  audio::Waveform glide{Analyzer::kSampleRateHz, SyntheticVowel(1.0, 120.0, 240.0, 0.0)};
  auto g = analyzer.AnalyzeWaveform(glide);
  ASSERT_TRUE(g.ok());
  EXPECT_NEAR(g->cues.pitch.slope_st_per_s, 12.0, 1.5);
  EXPECT_NEAR(g->cues.pitch.range_st, 0.9 * 12.0, 1.5);  // 5th to 95th percentile of a linear glide
}

TEST(AnalyzerTest, JitterGrowsWithPeriodPerturbation) {
  Analyzer analyzer;
  double previous = -1.0;
  for (double perturbation : {0.0, 0.01, 0.03}) {
    audio::Waveform w{Analyzer::kSampleRateHz, SyntheticVowel(1.5, 150.0, 150.0, perturbation, 7)};
    auto a = analyzer.AnalyzeWaveform(w);
    ASSERT_TRUE(a.ok());
    EXPECT_GT(a->cues.voice_quality.jitter, previous) << "perturbation " << perturbation;
    previous = a->cues.voice_quality.jitter;
  }
  // Gaussian period perturbation with sd s gives mean |dT| / T = s * 2 / sqrt(pi) ~ 1.13 s.
  EXPECT_NEAR(previous, 0.03 * 2.0 / std::sqrt(std::numbers::pi), 0.012);
}

TEST(AnalyzerTest, StreamingInChunksEqualsWholeFile) {
  auto wave = audio::ReadWav(testing::SpeechDir() + "/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok()) << wave.status().ToString();
  Analyzer analyzer;
  auto whole = analyzer.AnalyzeWaveform(*wave);
  ASSERT_TRUE(whole.ok());
  auto stream = analyzer.NewStream();
  std::mt19937 rng(3);
  size_t pos = 0;
  while (pos < wave->samples.size()) {
    const size_t n = std::min<size_t>(1 + rng() % 900, wave->samples.size() - pos);
    stream->Accept(std::span<const float>(wave->samples).subspan(pos, n));
    pos += n;
  }
  const UtteranceCues cues = stream->Finish();
  EXPECT_EQ(CuesToJson(cues, false), CuesToJson(whole->cues, false));
  ASSERT_EQ(stream->frames().size(), whole->frames.size());
  // Reset makes the stream reusable for the next utterance.
  stream->Reset();
  EXPECT_TRUE(stream->frames().empty());
  stream->Accept(wave->samples);
  EXPECT_EQ(CuesToJson(stream->Finish(), false), CuesToJson(whole->cues, false));
}

TEST(AnalyzerTest, EmptyAndInvalidInputAreErrors) {
  Analyzer analyzer;
  auto empty = analyzer.AnalyzeWaveform(audio::Waveform{16000, {}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos) << empty.status().message();
  auto no_rate = analyzer.AnalyzeWaveform(audio::Waveform{0, {0.1f}});
  EXPECT_FALSE(no_rate.ok());
  AnalyzerConfig config;
  config.pitch_ceiling_hz = 9000.0;
  auto bad = Analyzer::Create(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("pitch_ceiling_hz"), std::string::npos) << bad.status().message();
}

TEST(AnalyzerTest, SilenceAndNoiseAreValidInput) {
  Analyzer analyzer;
  auto silent = analyzer.AnalyzeWaveform(audio::Waveform{16000, std::vector<float>(16000, 0.0f)});
  ASSERT_TRUE(silent.ok());
  EXPECT_EQ(silent->cues.pitch.mean_hz, 0.0);
  EXPECT_EQ(silent->cues.speaking_rate.syllables, 0);
  EXPECT_TRUE(silent->cues.events.empty());
  EXPECT_EQ(CuesToPromptText(silent->cues), "No speech was heard in the user's audio.");
  // NaNs and a single sample must not crash.
  std::vector<float> odd = {NAN, INFINITY, 0.5f};
  EXPECT_TRUE(analyzer.AnalyzeWaveform(audio::Waveform{16000, odd}).ok());
  // Other sample rates are resampled.
  auto wave = audio::ReadWav(testing::SpeechDir() + "/en_m_jfk.wav");
  ASSERT_TRUE(wave.ok());
  audio::Waveform at8k{8000, {}};
  for (size_t i = 0; i < wave->samples.size(); i += 2) at8k.samples.push_back(wave->samples[i]);
  auto a = analyzer.AnalyzeWaveform(at8k);
  ASSERT_TRUE(a.ok());
  EXPECT_GT(a->cues.pitch.mean_hz, 100.0);
}

TEST(AnalyzerTest, CoughAloneIsValidAndYieldsEvents) {
  Analyzer analyzer;
  auto wave = audio::ReadWav(testing::SpeechDir() + "/nv_f_coughing_UYJP_4_8_0_18_0_0_0.wav");
  ASSERT_TRUE(wave.ok());
  auto a = analyzer.AnalyzeWaveform(*wave);
  ASSERT_TRUE(a.ok());
  ASSERT_FALSE(a->cues.events.empty());
  for (const NonverbalEvent& e : a->cues.events) {
    EXPECT_LT(e.start_s, e.end_s);
    EXPECT_GE(e.start_s, 0.0);
    EXPECT_LE(e.end_s, a->cues.duration_s + 0.01);
    EXPECT_GT(e.confidence, 0.0);
    EXPECT_LE(e.confidence, 1.0);
  }
}

TEST(AnalyzerTest, JsonShapeHasTheDocumentedKeys) {
  auto wave = audio::ReadWav(testing::SpeechDir() + "/en_m_ravdess_01-01-05-02-01-01-01.wav");
  ASSERT_TRUE(wave.ok());
  Analyzer analyzer;
  auto a = analyzer.AnalyzeWaveform(*wave);
  ASSERT_TRUE(a.ok());
  const auto j = nlohmann::json::parse(CuesToJson(a->cues, true));
  for (const char* pointer : {"/pitch/mean_hz", "/pitch/range_st", "/pitch/slope_st_per_s", "/loudness/mean_db",
                              "/speaking_rate/syllables_per_s", "/speaking_rate/articulation_rate", "/pauses/count",
                              "/pauses/mean_s", "/pauses/longest_s", "/voice_quality/jitter", "/voice_quality/shimmer",
                              "/voice_quality/hnr_db", "/traits/gender/label", "/traits/gender/confidence",
                              "/traits/age_group/label", "/traits/age_group/confidence", "/state/arousal/label",
                              "/state/fatigue", "/state/frustration", "/state/excitement", "/state/calm",
                              "/state/summary", "/state/valence/label", "/events", "/leading_events", "/relative/pitch_z"})
    EXPECT_TRUE(j.contains(nlohmann::json::json_pointer(pointer))) << pointer;
  EXPECT_TRUE(j["events"].is_array());
  EXPECT_TRUE(j["leading_events"].is_array());
  const std::string arousal = j["state"]["arousal"]["label"];
  EXPECT_TRUE(arousal == "low" || arousal == "normal" || arousal == "high") << arousal;
  EXPECT_DOUBLE_EQ(j["pitch"]["mean_hz"].get<double>(), std::round(a->cues.pitch.mean_hz * 10.0) / 10.0);
}

// A spoken utterance's cues: 2 s of speech, 80 % voiced, 8 syllables.
UtteranceCues Spoken(double hz, double db = 70.0, double syllables_per_s = 4.0) {
  UtteranceCues c;
  c.duration_s = c.speech_s = 2.0;
  c.pitch.mean_hz = c.pitch.median_hz = hz;
  c.pitch.voiced_fraction = 0.8;
  c.loudness.mean_db = db;
  c.speaking_rate.syllables = 8;
  c.speaking_rate.syllables_per_s = c.speaking_rate.articulation_rate = syllables_per_s;
  return c;
}

TEST(SpeakerBaselineTest, RelatesToTheSpeakersOwnHabits) {
  SpeakerBaseline baseline;
  const UtteranceCues cues = Spoken(120.0);
  for (double hz : {118.0, 122.0, 120.0, 121.0}) {
    UtteranceCues c = Spoken(hz);
    baseline.Apply(&c);
  }
  EXPECT_EQ(baseline.utterances(), 4);
  UtteranceCues high = cues;
  high.pitch.mean_hz = 180.0;  // 7 semitones above this speaker's habit
  baseline.Apply(&high);
  EXPECT_GT(high.relative.pitch_z, 3.0);
  EXPECT_EQ(high.relative.utterances, 4);
  UtteranceCues nothing;  // no voice: ignored, baseline unchanged
  baseline.Apply(&nothing);
  EXPECT_EQ(baseline.utterances(), 5);
}

// A voiced cough or a laugh between two spoken turns must not shift the speaker's habits: the next
// spoken turn reads as it would have without it.
TEST(SpeakerBaselineTest, NonverbalTurnsDoNotMoveTheBaseline) {
  UtteranceCues cough = Spoken(540.0, 82.0, 1.2);  // a voiced cough: high, loud, one "nucleus"
  cough.speaking_rate.syllables = 1;
  cough.events.push_back({"cough", 0.2, 0.6, 1.0});
  UtteranceCues laugh = Spoken(380.0, 78.0, 5.0);  // "ha-ha-ha": syllable-like pulses, all laughter
  laugh.events.push_back({"laughter", 0.0, 1.8, 0.9});
  for (const UtteranceCues& nonverbal : {cough, laugh}) {
    SpeakerBaseline with, without;
    for (double hz : {118.0, 126.0, 121.0}) {
      UtteranceCues a = Spoken(hz), b = Spoken(hz);
      with.Apply(&a);
      without.Apply(&b);
    }
    UtteranceCues n = nonverbal;
    with.Apply(&n);
    EXPECT_EQ(with.utterances(), 3) << n.events[0].type;
    EXPECT_EQ(n.relative.utterances, 3);
    EXPECT_EQ(n.relative.pitch_z, 0.0) << "a nonverbal turn is not compared with speech";
    UtteranceCues a = Spoken(130.0, 72.0, 4.5), b = Spoken(130.0, 72.0, 4.5);
    with.Apply(&a);
    without.Apply(&b);
    EXPECT_EQ(a.relative.pitch_z, b.relative.pitch_z) << n.events[0].type;
    EXPECT_EQ(a.relative.loudness_z, b.relative.loudness_z) << n.events[0].type;
    EXPECT_EQ(a.relative.rate_z, b.relative.rate_z) << n.events[0].type;
    EXPECT_GT(a.relative.pitch_z, 0.5);
  }
}

TEST(CuesTextTest, NamesTheStateAndEvents) {
  UtteranceCues c;
  c.pitch.mean_hz = 110.0;
  c.speaking_rate.syllables = 10;
  c.speaking_rate.syllables_per_s = 2.5;
  c.state.summary = "tired";
  c.state.fatigue = 0.72;
  c.state.arousal = {"low", 0.7};
  c.events.push_back({"sigh", 1.2, 1.9, 0.8});
  c.traits.gender = {"male", 0.9};
  c.traits.age_group = {"adult", 0.7};
  const std::string text = CuesToPromptText(c);
  EXPECT_NE(text.find("tired (confidence 0.72)"), std::string::npos) << text;
  EXPECT_NE(text.find("slow speech"), std::string::npos) << text;
  EXPECT_NE(text.find("a sigh at 1.2 s"), std::string::npos) << text;
  EXPECT_EQ(text.find("Just before speaking"), std::string::npos) << text;
  c.leading_events.push_back({"laughter", -2.1, -1.4, 0.85});
  const std::string with_laugh = CuesToPromptText(c);
  EXPECT_NE(with_laugh.find("Just before speaking: laughter (confidence 0.85)."), std::string::npos) << with_laugh;
  UtteranceCues cough_then_nothing;  // a cough before a turn that held no voice
  cough_then_nothing.leading_events.push_back({"cough", -1.0, -0.7, 1.0});
  EXPECT_EQ(CuesToPromptText(cough_then_nothing),
            "No speech was heard in the user's audio. Just before speaking: a cough (confidence 1.00).");
}

}  // namespace
}  // namespace cadence::paralinguistics
