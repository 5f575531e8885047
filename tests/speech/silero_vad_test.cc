// Silero VAD on Cadence's kernels: agreement with the ONNX graph run by the interpreter on real
// speech, streaming invariances, errors on bad files, and the segment rule. Agreement with the
// independent runtime (onnxruntime) is tests/vad/silero.test.mjs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "audio/resampler.h"
#include "audio/wav.h"
#include "speech/vad/silero_vad.h"
#include "skip_or_fail.h"

namespace cadence::speech {
namespace {

const std::string kModel = std::string(CADENCE_SOURCE_DIR) + "/" + kSileroNpmRelativePath;
const std::string kSpeech = std::string(CADENCE_SHARED_DATA) + "/speech/";

class SileroVadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto model = SileroVadModel::Load(kModel);
    if (model.ok()) model_ = std::move(model).value().release();
    else load_error_ = new Status(model.status());
  }
  void SetUp() override {
    if (!model_) CADENCE_SKIP_OR_FAIL_IN_CI() << "Silero model not available: " << load_error_->ToString();
  }
  static std::vector<float> Clip(const std::string& name) {
    auto wave = audio::ReadWav(kSpeech + name);
    EXPECT_TRUE(wave.ok()) << wave.status().ToString();
    EXPECT_EQ(wave->sample_rate_hz, kVadSampleRateHz);
    return wave->samples;
  }
  static std::vector<float> Probabilities(VadStream* stream, const std::vector<float>& samples) {
    std::vector<float> p;
    stream->Process(samples, &p);
    return p;
  }
  static inline SileroVadModel* model_ = nullptr;
  static inline Status* load_error_ = nullptr;
};

TEST_F(SileroVadTest, KernelsMatchTheOnnxGraphOnRealSpeech) {
  const std::vector<float> samples = Clip("en_m_jfk.wav");
  const size_t windows = std::min<size_t>(samples.size() / kVadWindowSamples, 120);
  auto stream = model_->CreateSileroStream();
  std::vector<float> state(kSileroStateSize, 0.0f), input(kSileroInputSamples, 0.0f);
  float worst = 0;
  for (size_t k = 0; k < windows; ++k) {
    const float* window = samples.data() + k * kVadWindowSamples;
    std::copy_n(window, kVadWindowSamples, input.begin() + kSileroContextSamples);
    auto reference = model_->RunGraph(input, &state);
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    const float fast = stream->ProcessWindow(window);
    worst = std::max(worst, std::fabs(fast - *reference));
    for (int j = 0; j < kSileroStateSize; ++j) worst = std::max(worst, std::fabs(stream->state()[j] - state[j]));
    std::copy_n(window + kVadWindowSamples - kSileroContextSamples, kSileroContextSamples, input.begin());
  }
  EXPECT_LE(worst, 1e-4f);
}

// The graph's 8 kHz branch (If on sr): its own weights, 256-sample windows with 32 of context.
// Kernels against the interpreter on the jfk clip resampled to 8 kHz; speech must score high and
// silence low, and the window count follows the 8 kHz framing.
TEST_F(SileroVadTest, EightKilohertzBranchMatchesTheGraph) {
  auto model = SileroVadModel::Load(kModel, /*self_check=*/true, 8000);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->window_samples(), 256);
  EXPECT_EQ((*model)->context_samples(), 32);
  const std::vector<float> samples = audio::Resample(Clip("en_m_jfk.wav"), kVadSampleRateHz, 8000);
  const size_t windows = std::min<size_t>(samples.size() / 256, 120);
  auto stream = (*model)->CreateSileroStream();
  std::vector<float> state(kSileroStateSize, 0.0f), input(32 + 256, 0.0f);
  float worst = 0, max_p = 0;
  for (size_t k = 0; k < windows; ++k) {
    const float* window = samples.data() + k * 256;
    std::copy_n(window, 256, input.begin() + 32);
    auto reference = (*model)->RunGraph(input, &state);
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    const float fast = stream->ProcessWindow(window);
    worst = std::max(worst, std::fabs(fast - *reference));
    max_p = std::max(max_p, fast);
    std::copy_n(window + 256 - 32, 32, input.begin());
  }
  EXPECT_LE(worst, 1e-4f);
  EXPECT_GT(max_p, 0.9f);
  auto quiet = (*model)->CreateStream();
  const auto silence = Probabilities(quiet.get(), std::vector<float>(8000, 0.0f));
  EXPECT_EQ(silence.size(), 8000u / 256u);
  EXPECT_LT(*std::max_element(silence.begin(), silence.end()), 0.1f);
  // The 16 kHz model differs from the 8 kHz one on the same samples: the branches are distinct.
  auto wide = model_->CreateStream();
  const auto p16 = Probabilities(wide.get(), std::vector<float>(samples.begin(), samples.begin() + 512 * 20));
  auto narrow = (*model)->CreateStream();
  const auto p8 = Probabilities(narrow.get(), std::vector<float>(samples.begin(), samples.begin() + 512 * 20));
  EXPECT_EQ(p8.size(), 2 * p16.size());
  auto bad = SileroVadModel::Load(kModel, true, 44100);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("44100"), std::string::npos);
}

TEST_F(SileroVadTest, SpeechScoresHighAndDigitalSilenceLow) {
  auto stream = model_->CreateStream();
  const auto speech = Probabilities(stream.get(), Clip("en_m_jfk.wav"));
  EXPECT_GT(*std::max_element(speech.begin(), speech.end()), 0.9f);
  stream->Reset();
  const auto silence = Probabilities(stream.get(), std::vector<float>(kVadSampleRateHz * 2, 0.0f));
  EXPECT_EQ(silence.size(), static_cast<size_t>(kVadSampleRateHz * 2 / kVadWindowSamples));
  EXPECT_LT(*std::max_element(silence.begin(), silence.end()), 0.1f);
}

TEST_F(SileroVadTest, ChunkingDoesNotChangeTheResult) {
  const std::vector<float> samples = Clip("zh_aishell_BAC009S0724W0121.wav");
  auto whole = model_->CreateStream();
  const auto expected = Probabilities(whole.get(), samples);
  auto chunked = model_->CreateStream();
  std::vector<float> got;
  for (size_t at = 0, step = 1; at < samples.size(); at += step, step = step * 7 % 997 + 1) {
    const size_t n = std::min(step, samples.size() - at);
    chunked->Process(std::span<const float>(samples.data() + at, n), &got);
  }
  EXPECT_EQ(got, expected);
}

TEST_F(SileroVadTest, StreamsAreIndependentAndResetRestartsThem) {
  const std::vector<float> a = Clip("en_m_jfk.wav"), b = Clip("nv_f_laughing_Q8PL_12_4_0_24_0_0_0.wav");
  auto sa = model_->CreateStream(), sb = model_->CreateStream();
  const auto alone_a = Probabilities(sa.get(), a);
  const auto alone_b = Probabilities(sb.get(), b);
  sa->Reset();
  sb->Reset();
  std::vector<float> pa, pb;
  for (size_t at = 0; at < std::max(a.size(), b.size()); at += 1000) {
    if (at < a.size()) sa->Process(std::span<const float>(a.data() + at, std::min<size_t>(1000, a.size() - at)), &pa);
    if (at < b.size()) sb->Process(std::span<const float>(b.data() + at, std::min<size_t>(1000, b.size() - at)), &pb);
  }
  EXPECT_EQ(pa, alone_a);
  EXPECT_EQ(pb, alone_b);
}

TEST(SileroVadLoadTest, BadFilesAreClearErrors) {
  auto missing = SileroVadModel::Load("/nonexistent/silero.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/silero.onnx"), std::string::npos);

  const std::string text_path = ::testing::TempDir() + "/not_a_model.onnx";
  std::ofstream(text_path) << "definitely not protobuf\n";
  auto text = SileroVadModel::Load(text_path);
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find(text_path), std::string::npos) << text.status().message();
}

TEST(CreateVadTest, PrefersSileroAndFallsBackToEnergy) {
  VadConfig unusable;
  unusable.model_path = "/nonexistent/silero_vad.onnx";
  EXPECT_EQ(CreateVad(unusable)->name(), "energy");
  if (FindDefaultSileroModel().empty()) CADENCE_SKIP_OR_FAIL_IN_CI() << "npm package not installed";
  EXPECT_EQ(CreateVad({})->name(), "silero");
  VadConfig explicit_path;
  explicit_path.model_path = kModel;
  EXPECT_EQ(CreateVad(explicit_path)->name(), "silero");
}

TEST(SpeechSegmentsTest, SileroRuleOnHandMadeProbabilities) {
  // 32 ms windows: 10 quiet, 20 speech (640 ms), 2 low (64 ms: a pause shorter than 100 ms),
  // 10 speech, 10 quiet. One segment from window 10 to window 42 (first quiet window after).
  std::vector<float> p;
  p.insert(p.end(), 10, 0.05f);
  p.insert(p.end(), 20, 0.9f);
  p.insert(p.end(), 2, 0.1f);
  p.insert(p.end(), 10, 0.8f);
  p.insert(p.end(), 10, 0.05f);
  const size_t total = p.size() * kVadWindowSamples;
  auto segments = FindSpeechSegments(p, total);
  ASSERT_EQ(segments.size(), 1u);
  EXPECT_NEAR(segments[0].start_s, 10 * 0.032, 1e-9);
  EXPECT_NEAR(segments[0].end_s, 42 * 0.032, 1e-9);
  // A 5-window (160 ms) blip is shorter than min_speech_ms and dropped; speech running to the
  // end closes at the end of the audio.
  std::vector<float> q(10, 0.0f);
  q.insert(q.end(), 5, 0.9f);
  q.insert(q.end(), 10, 0.0f);
  q.insert(q.end(), 20, 0.9f);
  auto s2 = FindSpeechSegments(q, q.size() * kVadWindowSamples);
  ASSERT_EQ(s2.size(), 1u);
  EXPECT_NEAR(s2[0].start_s, 25 * 0.032, 1e-9);
  EXPECT_NEAR(s2[0].end_s, 45 * 0.032, 1e-9);
}

}  // namespace
}  // namespace cadence::speech
