// ParseWav on hostile headers and payloads (regressions found by fuzz/wav_fuzz.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "audio/wav.h"

namespace cadence::audio {
namespace {

void Put32(std::vector<uint8_t>* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void Put16(std::vector<uint8_t>* out, uint16_t v) {
  out->push_back(static_cast<uint8_t>(v));
  out->push_back(static_cast<uint8_t>(v >> 8));
}

// A mono WAV of `format_tag` (1 PCM, 3 float) at `rate_hz` with `payload` as its data chunk.
std::vector<uint8_t> Wav(uint16_t format_tag, uint32_t rate_hz, uint16_t bits, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b = {'R', 'I', 'F', 'F'};
  Put32(&b, static_cast<uint32_t>(36 + payload.size()));
  for (char c : std::string("WAVEfmt ")) b.push_back(static_cast<uint8_t>(c));
  Put32(&b, 16);
  Put16(&b, format_tag);
  Put16(&b, 1);
  Put32(&b, rate_hz);
  Put32(&b, rate_hz * (bits / 8));
  Put16(&b, bits / 8);
  Put16(&b, bits);
  for (char c : std::string("data")) b.push_back(static_cast<uint8_t>(c));
  Put32(&b, static_cast<uint32_t>(payload.size()));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

TEST(WavParseTest, SampleRateBeyondAnyAudioRateIsAnError) {
  // 0xFFFFFFF0 used to become a negative sample_rate_hz (and EncodeWav then overflowed on it).
  for (uint32_t rate : {0xFFFFFFF0u, 0x80000000u, 10'000'000u}) {
    auto w = ParseWav(Wav(1, rate, 16, {0, 0, 1, 0}), "huge.wav");
    ASSERT_FALSE(w.ok()) << rate;
    EXPECT_NE(w.status().message().find("sample rate"), std::string::npos) << w.status().message();
  }
  auto ok = ParseWav(Wav(1, 384000, 16, {0, 0, 1, 0}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->sample_rate_hz, 384000);
}

TEST(WavParseTest, FloatSamplesAreFiniteAndWithinFullScale) {
  const float values[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(), 3.0f, -1e30f, 0.25f};
  std::vector<uint8_t> payload(sizeof(values));
  std::memcpy(payload.data(), values, sizeof(values));
  auto w = ParseWav(Wav(3, 16000, 32, payload));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->samples.size(), 6u);
  for (float s : w->samples) {
    EXPECT_TRUE(std::isfinite(s));
    EXPECT_LE(std::fabs(s), 1.0f);
  }
  EXPECT_EQ(w->samples[0], 0.0f);  // NaN carries no signal
  EXPECT_EQ(w->samples[3], 1.0f);
  EXPECT_EQ(w->samples[4], -1.0f);
  EXPECT_FLOAT_EQ(w->samples[5], 0.25f);
}

TEST(WavParseTest, TwentyFourBitExtremesDecode) {
  auto w = ParseWav(Wav(1, 8000, 24, {0x00, 0x00, 0x80, 0xff, 0xff, 0x7f}));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->samples.size(), 2u);
  EXPECT_EQ(w->samples[0], -1.0f);
  EXPECT_NEAR(w->samples[1], 1.0f, 1e-6);
}

}  // namespace
}  // namespace cadence::audio
