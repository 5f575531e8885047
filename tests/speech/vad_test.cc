#include "speech/vad/vad.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "audio/wav.h"
#include "test_util.h"

namespace cadence::speech {
namespace {

std::vector<float> Scores(const std::vector<float>& pcm_16k, size_t chunk = 320) {
  auto stream = CreateEnergyVad()->CreateStream();
  std::vector<float> p;
  for (size_t i = 0; i < pcm_16k.size(); i += chunk)
    stream->Process(std::span<const float>(pcm_16k).subspan(i, std::min(chunk, pcm_16k.size() - i)), &p);
  return p;
}

double MeanOver(const std::vector<float>& p, size_t from, size_t to) {
  to = std::min(to, p.size());
  if (from >= to) return 0.0;
  return std::accumulate(p.begin() + from, p.begin() + to, 0.0) / (to - from);
}

double FractionAbove(const std::vector<float>& p, size_t from, size_t to, float threshold) {
  to = std::min(to, p.size());
  size_t n = 0;
  for (size_t i = from; i < to; ++i) n += p[i] > threshold;
  return to > from ? static_cast<double>(n) / (to - from) : 0.0;
}

TEST(EnergyVad, OneScorePerWindowWhateverTheChunking) {
  std::vector<float> pcm(kVadWindowSamples * 10 + 100, 0.0f);
  EXPECT_EQ(Scores(pcm, 1).size(), 10u);
  EXPECT_EQ(Scores(pcm, 4096).size(), 10u);
  EXPECT_EQ(CreateEnergyVad()->name(), "energy");
  EXPECT_EQ(CreateVad({})->name().empty(), false);
}

TEST(EnergyVad, FindsSpeechBetweenSilenceAndNoise) {
  // 2 s noise at -46 dBFS, then speech, then 2 s of the same noise, all with the noise underneath.
  auto speech = testing::To16k(testing::Speak("Could you tell me the way to the railway station, please?", "slt"));
  const size_t pad = 32000;
  std::vector<float> pcm(pad, 0.0f);
  pcm.insert(pcm.end(), speech.begin(), speech.end());
  pcm.insert(pcm.end(), pad, 0.0f);
  auto noise = testing::WhiteNoise(pcm.size(), 0.005f);
  for (size_t i = 0; i < pcm.size(); ++i) pcm[i] += noise[i];
  auto p = Scores(pcm);
  size_t speech_from = pad / kVadWindowSamples, speech_to = (pad + speech.size()) / kVadWindowSamples;
  double noise_mean = MeanOver(p, 8, speech_from - 2);  // after 0.25 s of adaptation
  double tail_mean = MeanOver(p, speech_to + 8, p.size());
  double speech_frac = FractionAbove(p, speech_from, speech_to, 0.5);
  std::printf("noise mean %.3f, speech windows > 0.5: %.2f, tail mean %.3f\n", noise_mean, speech_frac, tail_mean);
  EXPECT_LT(noise_mean, 0.1);
  EXPECT_LT(tail_mean, 0.15);
  EXPECT_GT(speech_frac, 0.6);
}

TEST(EnergyVad, LowOnDigitalSilenceAndSteadyNoise) {
  std::vector<float> silence(16000 * 2, 0.0f);
  auto p = Scores(silence);
  EXPECT_LT(*std::max_element(p.begin(), p.end()), 0.01f);
  // Louder steady noise (-26 dBFS): at most a brief onset, then low.
  auto noise = testing::WhiteNoise(16000 * 4, 0.05f, 3);
  p = Scores(noise);
  EXPECT_LT(MeanOver(p, 31, p.size()), 0.1);
}

TEST(EnergyVad, RealClipsScoreHigherThanTheirOwnPauses) {
  for (const char* file : {"en_m_jfk.wav", "en_libri_1995-1837-0001.wav"}) {
    auto wave = audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/" + file);
    ASSERT_TRUE(wave.ok()) << wave.status().ToString();
    auto p = Scores(wave->samples);
    double above = FractionAbove(p, 0, p.size(), 0.5);
    std::printf("%s: %.2f of windows > 0.5\n", file, above);
    // Continuous read/spoken speech: most windows are speech, but pauses exist.
    EXPECT_GT(above, 0.4) << file;
    EXPECT_LT(above, 0.98) << file;
  }
}

TEST(EnergyVad, ResetForgetsTheNoiseFloor) {
  auto stream = CreateEnergyVad()->CreateStream();
  std::vector<float> p;
  auto loud = testing::WhiteNoise(16000 * 3, 0.1f, 5);
  stream->Process(loud, &p);
  stream->Reset();
  p.clear();
  auto quiet = testing::WhiteNoise(16000, 0.001f, 6);
  stream->Process(quiet, &p);
  EXPECT_LT(MeanOver(p, 0, p.size()), 0.2);
}

}  // namespace
}  // namespace cadence::speech
