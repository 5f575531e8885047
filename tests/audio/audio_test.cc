#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "audio/pcm.h"
#include "audio/resampler.h"
#include "audio/wav.h"
#include "skip_or_fail.h"

namespace cadence::audio {
namespace {

TEST(PcmTest, G711RoundTripIsWithinQuantization) {
  for (int v = -32768; v <= 32767; v += 97) {
    const int16_t x = static_cast<int16_t>(v);
    const int u = UlawToLinear(LinearToUlaw(x));
    const int a = AlawToLinear(LinearToAlaw(x));
    // G.711 has ~13-bit (A-law) / 14-bit (mu-law) precision: error grows with magnitude.
    const int tolerance = std::max(16, std::abs(v) / 16);
    EXPECT_NEAR(u, v, tolerance) << v;
    EXPECT_NEAR(a, v, tolerance) << v;
  }
  // Known code points from ITU-T G.711: mu-law 0xFF is zero, A-law 0xD5 is +8.
  EXPECT_EQ(UlawToLinear(0xFF), 0);
  EXPECT_EQ(AlawToLinear(0xD5), 8);
}

TEST(PcmTest, Pcm16EncodeDecode) {
  std::vector<float> in = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f};
  std::vector<uint8_t> bytes;
  EncodeSamples(SampleFormat::kPcm16, in, &bytes);
  ASSERT_EQ(bytes.size(), 12u);
  std::vector<float> out;
  DecodeSamples(SampleFormat::kPcm16, bytes, &out);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_NEAR(out[1], 0.5f, 1e-4);
  EXPECT_NEAR(out[5], 1.0f, 1e-4);  // clamped
}

TEST(WavTest, RoundTripAndErrors) {
  Waveform w;
  w.sample_rate_hz = 16000;
  for (int i = 0; i < 1600; ++i) w.samples.push_back(0.3f * std::sin(2 * std::numbers::pi * 440 * i / 16000.0));
  auto bytes = EncodeWav(w);
  auto back = ParseWav(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->sample_rate_hz, 16000);
  ASSERT_EQ(back->samples.size(), w.samples.size());
  EXPECT_NEAR(back->samples[100], w.samples[100], 1e-4);

  std::vector<uint8_t> junk = {'R', 'I', 'F', 'F', 0, 0, 0, 0, 'W', 'A', 'V', 'E'};
  auto bad = ParseWav(junk, "junk.wav");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("junk.wav"), std::string::npos);
  EXPECT_FALSE(ReadWav("/nonexistent/x.wav").ok());
}

TEST(WavTest, ReadsSharedRecording) {
  auto w = ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  if (!w.ok()) CADENCE_SKIP_OR_FAIL_IN_CI() << "shared data not present: " << w.status().ToString();
  EXPECT_EQ(w->sample_rate_hz, 16000);
  EXPECT_GT(w->duration_s(), 1.0);
}

TEST(ResamplerTest, PreservesToneFrequencyAndLength) {
  std::vector<float> in;
  for (int i = 0; i < 24000; ++i) in.push_back(0.5f * std::sin(2 * std::numbers::pi * 300 * i / 24000.0));
  auto out = Resample(in, 24000, 16000);
  EXPECT_NEAR(static_cast<double>(out.size()), 16000.0, 40.0);
  // Count zero crossings: 300 Hz over 1 s gives ~600.
  int crossings = 0;
  for (size_t i = 1; i < out.size(); ++i) crossings += (out[i - 1] < 0) != (out[i] < 0);
  EXPECT_NEAR(crossings, 600, 6);
}

}  // namespace
}  // namespace cadence::audio
