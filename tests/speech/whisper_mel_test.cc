// Whisper log-mel front end against the independent NumPy reference (tools/whisper/reference.py),
// on real clips from the shared data. Fixtures: tests/speech/data/whisper/*.bin (CMEL/CMFB format,
// see reference.py). Tolerance: 1e-5 absolute on features whose range is about 2.0 (float32
// filters and storage against a float64 reference; measured 1.2e-7).
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audio/wav.h"
#include "speech/asr/whisper/fft.h"
#include "speech/asr/whisper/log_mel.h"

namespace cadence::speech::whisper {
namespace {

constexpr double kMelTolerance = 1e-5;

LogMelOptions Options(int n_mels, bool pad_to_30s = false, std::span<const float> filters = {}) {
  LogMelOptions options;
  options.n_mels = n_mels;
  options.pad_to_30s = pad_to_30s;
  options.filters = filters;
  return options;
}

std::string FixturePath(const std::string& name) {
  return std::string(CADENCE_SOURCE_DIR) + "/tests/speech/data/whisper/" + name;
}

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct Fixture {
  int rows = 0, total_cols = 0, cols = 0;
  std::vector<float> data;  // [rows][cols]
};

// CMEL: magic, int32 n_mels, total_frames, stored_frames; CMFB: magic, int32 rows, cols.
Fixture ReadFixture(const std::string& name) {
  const std::vector<uint8_t> bytes = ReadAll(FixturePath(name));
  Fixture fx;
  if (bytes.size() < 12) return fx;
  int32_t header[3] = {0, 0, 0};
  const bool mel = std::memcmp(bytes.data(), "CMEL", 4) == 0;
  const size_t header_ints = mel ? 3 : 2;
  std::memcpy(header, bytes.data() + 4, 4 * header_ints);
  fx.rows = header[0];
  fx.total_cols = header[1];
  fx.cols = mel ? header[2] : header[1];
  const size_t offset = 4 + 4 * header_ints;
  const size_t count = static_cast<size_t>(fx.rows) * fx.cols;
  if (bytes.size() != offset + 4 * count) return Fixture{};
  fx.data.resize(count);
  std::memcpy(fx.data.data(), bytes.data() + offset, 4 * count);
  return fx;
}

audio::Waveform Clip(const std::string& file) {
  auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/" + file);
  EXPECT_TRUE(wave.ok()) << wave.status().ToString();
  return wave.ok() ? std::move(wave).value() : audio::Waveform{};
}

TEST(WhisperFftTest, MatchesDirectDftOnNonPowerOfTwoLengths) {
  for (int n : {400, 30, 7, 1}) {
    Fft fft(n);
    std::vector<double> x(n);
    for (int t = 0; t < n; ++t) x[t] = std::sin(0.37 * t * t + 1.0) + 0.25 * (t % 3);
    std::vector<double> power(n / 2 + 1);
    fft.PowerSpectrum(x.data(), power.data());
    for (int k = 0; k <= n / 2; ++k) {
      std::complex<double> acc = 0.0;
      for (int t = 0; t < n; ++t) acc += x[t] * std::polar(1.0, -2.0 * M_PI * k * t / n);
      EXPECT_NEAR(power[k], std::norm(acc), 1e-9 * (1.0 + std::norm(acc))) << "n=" << n << " k=" << k;
    }
  }
}

TEST(WhisperMelTest, FilterbankMatchesReference) {
  for (int n_mels : {80, 128}) {
    const Fixture ref = ReadFixture("mel_filters_" + std::to_string(n_mels) + ".bin");
    ASSERT_EQ(ref.rows, n_mels);
    ASSERT_EQ(ref.cols, kFftBins);
    const std::vector<float> ours = MelFilterbank(n_mels);
    ASSERT_EQ(ours.size(), ref.data.size());
    double max_diff = 0.0;
    for (size_t i = 0; i < ours.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(ours[i] - ref.data[i])));
    EXPECT_LT(max_diff, 1e-8) << n_mels << " mels";
  }
  // Whisper's own mel_filters.npz (mel_80) has 0.02486259 at [0][1]: the Slaney normalisation.
  EXPECT_NEAR(MelFilterbank(80)[1], 0.02486259f, 1e-7);
}

void ExpectMelMatches(const std::string& clip, const std::string& fixture, const LogMelOptions& options) {
  const audio::Waveform wave = Clip(clip);
  ASSERT_EQ(wave.sample_rate_hz, kSampleRateHz);
  const Fixture ref = ReadFixture(fixture);
  ASSERT_GT(ref.rows, 0) << fixture;
  auto mel = ComputeLogMel(wave.samples, options);
  ASSERT_TRUE(mel.ok()) << mel.status().ToString();
  ASSERT_EQ(mel->n_mels, ref.rows);
  ASSERT_EQ(mel->n_frames, ref.total_cols);
  double max_diff = 0.0;
  float ref_max = -1e30f;
  for (int m = 0; m < ref.rows; ++m) {
    for (int f = 0; f < ref.cols; ++f) {
      const float r = ref.data[static_cast<size_t>(m) * ref.cols + f];
      ref_max = std::max(ref_max, r);
      max_diff = std::max(max_diff, double(std::fabs(mel->at(m, f) - r)));
    }
  }
  EXPECT_LT(max_diff, kMelTolerance) << fixture;
  std::printf("%s: %d x %d frames, max |ours - reference| = %.3g\n", fixture.c_str(), mel->n_mels,
              mel->n_frames, max_diff);
  // Columns the fixture does not store are pure padding: the clamp floor, (max - 8 + 4) / 4.
  for (int m = 0; m < ref.rows; ++m) {
    for (int f = ref.cols; f < mel->n_frames; ++f) {
      ASSERT_NEAR(mel->at(m, f), ref_max - 2.0f, kMelTolerance) << "mel " << m << " frame " << f;
    }
  }
}

TEST(WhisperMelTest, EnglishClip80BinsMatchesReference) {
  ExpectMelMatches("en_f_ljspeech_LJ002-0020.wav", "mel80_en_ljspeech.bin", Options(80));
}

TEST(WhisperMelTest, MandarinClip128BinsMatchesReference) {
  ExpectMelMatches("zh_aishell_BAC009S0724W0121.wav", "mel128_zh_aishell.bin", Options(128));
}

TEST(WhisperMelTest, PaddedTo30SecondsGives3000FramesMatchingReference) {
  ExpectMelMatches("en_f_ljspeech_LJ002-0020.wav", "mel80_en_ljspeech_pad30.bin",
                   Options(80, true));
}

TEST(WhisperMelTest, ExternalFiltersAreUsed) {
  const audio::Waveform wave = Clip("en_f_ljspeech_LJ002-0020.wav");
  std::vector<float> filters = MelFilterbank(80);
  for (int k = 0; k < kFftBins; ++k) filters[k] *= 10.0f;  // bin 0 becomes 10x louder: +0.25 after scaling
  auto base = ComputeLogMel(wave.samples, Options(80));
  auto scaled = ComputeLogMel(wave.samples, Options(80, false, filters));
  ASSERT_TRUE(base.ok() && scaled.ok());
  int changed = 0;
  for (int f = 0; f < base->n_frames; ++f) changed += std::fabs(scaled->at(0, f) - base->at(0, f)) > 0.1f;
  EXPECT_GT(changed, base->n_frames / 2);
}

TEST(WhisperMelTest, BadInputIsAClearError) {
  std::vector<float> short_audio(100, 0.1f);
  auto too_short = ComputeLogMel(short_audio, {});
  ASSERT_FALSE(too_short.ok());
  EXPECT_NE(too_short.status().message().find("too short"), std::string::npos);
  std::vector<float> audio(16000, 0.0f);
  EXPECT_FALSE(ComputeLogMel(audio, Options(0)).ok());
  std::vector<float> wrong_filters(80 * 200, 0.0f);
  auto bad = ComputeLogMel(audio, Options(80, false, wrong_filters));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("mel filters"), std::string::npos);
  // Silence is legal: every value sits at the floor, no NaN.
  auto silent = ComputeLogMel(audio, Options(80, true));
  ASSERT_TRUE(silent.ok());
  EXPECT_EQ(silent->n_frames, kChunkFrames);
  for (float v : silent->data) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace cadence::speech::whisper
