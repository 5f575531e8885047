// openai-whisper's temperature fallback (speech/asr/whisper/fallback.h): the compression ratio
// against Python's zlib, the sampler against the tempered softmax it draws from, sampled decoding
// against teacher-forced re-scoring, and the retry rule on the tiny model's decoding fixtures
// (whisper_test_data.h). The tiny model is random, so its greedy text is far too unlikely
// (avg_logprob -3.4 in the NumPy reference): every window but the silent one needs a retry.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "speech/asr/whisper/fallback.h"
#include "whisper_test_data.h"
#include "skip_or_fail.h"

namespace cadence::speech::whisper {
namespace {

using testing::Fixture;
using testing::LoadFixture;

// Python's zlib.compress (level -1, zlib format) on each line, through the interpreter: the ratio
// is openai-whisper's own expression, so Python computes the reference.
std::vector<double> PythonRatios(const std::vector<std::string>& texts) {
  std::string script = "import zlib\nfor t in [";
  for (const std::string& t : texts) {
    script += "bytes([";
    for (unsigned char c : t) script += std::to_string(c) + ",";
    script += "]),";
  }
  script += "]:\n    print(repr(len(t) / len(zlib.compress(t))))\n";
  const std::string path = ::testing::TempDir() + "/zlib_ratio.py";
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return {};
  std::fputs(script.c_str(), f);
  std::fclose(f);
  std::vector<double> out;
  FILE* p = popen(("python3 '" + path + "' 2>/dev/null").c_str(), "r");
  if (p == nullptr) return {};
  char line[128];
  while (std::fgets(line, sizeof line, p) != nullptr) out.push_back(std::stod(line));
  pclose(p);
  return out;
}

TEST(WhisperFallbackTest, CompressionRatioIsPythonZlibs) {
  std::string loop;
  for (int i = 0; i < 12; ++i) loop += "Thank you. ";
  const std::vector<std::string> texts = {
      "And so my fellow Americans, ask not what your country can do for you.",
      loop,
      "我们今天去公园散步，然后在河边吃了晚饭。",
      "a",
      std::string(300, 'x'),
  };
  const std::vector<double> want = PythonRatios(texts);
  if (want.empty()) CADENCE_SKIP_OR_FAIL_IN_CI() << "python3 is not available";
  ASSERT_EQ(want.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_DOUBLE_EQ(CompressionRatio(texts[i]), want[i]) << texts[i];
  EXPECT_GT(CompressionRatio(loop), 2.4) << "a repetition loop is over openai-whisper's threshold";
  EXPECT_LT(CompressionRatio(texts[0]), 2.4);
  EXPECT_EQ(CompressionRatio(""), 0.0);
}

TEST(WhisperFallbackTest, SampleTokenDrawsFromTheTemperedSoftmax) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f, -1.0f, -inf};
  for (const double temperature : {0.5, 1.0}) {
    std::vector<double> p(logits.size());
    double total = 0.0;
    for (size_t i = 0; i + 1 < logits.size(); ++i) total += p[i] = std::exp(logits[i] / temperature);
    for (double& v : p) v /= total;
    std::mt19937_64 rng(42);
    constexpr int kDraws = 40000;
    std::vector<int> count(logits.size());
    for (int i = 0; i < kDraws; ++i) {
      const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
      ++count[SampleToken(logits.data(), static_cast<int>(logits.size()), temperature, u)];
    }
    EXPECT_EQ(count.back(), 0) << "a suppressed (-inf) token was drawn";
    for (size_t i = 0; i + 1 < logits.size(); ++i) {
      const double sigma = std::sqrt(kDraws * p[i] * (1 - p[i]));
      EXPECT_NEAR(count[i], kDraws * p[i], 4 * sigma) << "token " << i << " at T " << temperature;
    }
  }
  EXPECT_EQ(SampleToken(logits.data(), 5, 1.0, 0.0), 0);
  EXPECT_EQ(SampleToken(logits.data(), 5, 1.0, 1.0 - 1e-12), 3) << "the last finite token, never the -inf one";
}

// At a temperature near 0 the tempered softmax is the argmax: sampling is greedy decoding.
TEST(WhisperFallbackTest, SamplingNearZeroTemperatureIsGreedy) {
  Fixture f = LoadFixture("plain");
  ASSERT_TRUE(f.model);
  Decoder decoder(*f.model, f.audio);
  DecodeStats greedy_stats, sampled_stats;
  auto greedy = GreedyDecode(&decoder, f.prompt, 20, &greedy_stats);
  ASSERT_TRUE(greedy.ok()) << greedy.status().ToString();
  auto sampled = SampleDecode(&decoder, f.prompt, {1e-4, 3, 20, 1}, &sampled_stats);
  ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
  std::vector<int> expected = *greedy;
  if (expected.back() != f.model->specials.end_of_text) expected.push_back(f.model->specials.end_of_text);
  EXPECT_EQ(*sampled, expected);
  EXPECT_NEAR(sampled_stats.avg_logprob, greedy_stats.avg_logprob, 1e-9);
  EXPECT_DOUBLE_EQ(sampled_stats.no_speech_prob, greedy_stats.no_speech_prob);
}

// Each sample's summed log-probability equals a teacher-forced re-scoring of its tokens on a fresh
// decode (filtered logits at T = 1), and the result is the sample with the best mean.
TEST(WhisperFallbackTest, SamplesAreScoredAndTheMostLikelyIsKept) {
  Fixture f = LoadFixture("plain");
  ASSERT_TRUE(f.model);
  const Model& m = *f.model;
  const int n_vocab = m.hparams.n_vocab, eot = m.specials.end_of_text;
  constexpr int kMax = 12;
  Decoder decoder(m, f.audio);
  std::vector<SampledSequence> samples;
  DecodeStats stats;
  auto ids = SampleDecode(&decoder, f.prompt, {1.0, 5, kMax, 7}, &stats, &samples);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_EQ(samples.size(), 5u);
  std::set<std::vector<int>> distinct;
  int best = 0;
  for (int i = 0; i < 5; ++i) {
    const SampledSequence& s = samples[i];
    distinct.insert(s.tokens);
    if (s.sum_logprob / std::max<size_t>(1, s.tokens.size()) >
        samples[best].sum_logprob / std::max<size_t>(1, samples[best].tokens.size()))
      best = i;
    // Re-score: feed the prompt, then the sample's tokens one at a time.
    Decoder scorer(m, f.audio);
    std::vector<float> logits;
    ASSERT_TRUE(FeedPrompt(scorer, f.prompt, &logits, nullptr).ok());
    double sum = 0.0;
    const bool finished = static_cast<int>(s.tokens.size()) < kMax;
    for (size_t k = 0; k <= s.tokens.size(); ++k) {
      if (k == s.tokens.size() && !finished) break;
      SuppressLogits(m, k == 0, logits.data());
      const int token = k < s.tokens.size() ? s.tokens[k] : eot;
      sum += static_cast<double>(logits[token]) - LogSumExp(logits.data(), n_vocab);
      if (k == s.tokens.size()) break;
      auto next = scorer.Step(token);
      ASSERT_TRUE(next.ok());
      logits = std::move(next).value();
    }
    EXPECT_NEAR(s.sum_logprob, sum, 1e-6) << "sample " << i;
  }
  EXPECT_GE(distinct.size(), 2u) << "at T = 1 the random model's samples should differ";
  std::vector<int> expected = f.prompt;
  expected.insert(expected.end(), samples[best].tokens.begin(), samples[best].tokens.end());
  expected.push_back(eot);
  EXPECT_EQ(*ids, expected);
  EXPECT_NEAR(stats.avg_logprob, samples[best].sum_logprob / (samples[best].tokens.size() + 1), 1e-12);
  // The same seed draws the same samples.
  std::vector<SampledSequence> again;
  ASSERT_TRUE(SampleDecode(&decoder, f.prompt, {1.0, 5, kMax, 7}, nullptr, &again).ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(again[i].tokens, samples[i].tokens);
}

TEST(WhisperFallbackTest, RetryRule) {
  const FallbackOptions options;
  EXPECT_FALSE(NeedsFallback({0.01, -0.3}, 1.5, options));
  EXPECT_TRUE(NeedsFallback({0.01, -0.3}, 3.0, options)) << "repetitive";
  EXPECT_TRUE(NeedsFallback({0.01, -1.5}, 1.5, options)) << "unlikely";
  EXPECT_FALSE(NeedsFallback({0.8, -1.5}, 3.0, options)) << "silence: the silence rule drops it";
  EXPECT_TRUE(NeedsFallback({0.8, -0.5}, 3.0, options)) << "likely text is not silence";
}

// The random model's greedy text (avg_logprob -3.4) is retried at 0.2, 0.4, ... and, as every
// sample is as unlikely, the last temperature's decode stands; the silent fixture is not retried;
// with the thresholds out of reach, the greedy decode stands.
TEST(WhisperFallbackTest, UnlikelyTextIsRetriedAndSilenceIsNot) {
  Fixture plain = LoadFixture("plain");
  ASSERT_TRUE(plain.model);
  Decoder decoder(*plain.model, plain.audio);
  FallbackOptions options;
  options.max_new_tokens = 8;
  options.best_of = 2;
  auto retried = DecodeWithFallback(&decoder, plain.prompt, options);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_LT(retried->stats.avg_logprob, options.logprob_threshold);
  EXPECT_EQ(retried->decodes, 6);
  EXPECT_NEAR(retried->temperature, 1.0, 1e-9);

  options.logprob_threshold = -1e9;
  options.compression_ratio_threshold = 1e9;
  auto kept = DecodeWithFallback(&decoder, plain.prompt, options);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->decodes, 1);
  EXPECT_EQ(kept->temperature, 0.0);
  EXPECT_EQ(kept->tokens, GreedyDecode(&decoder, plain.prompt, 8).value());

  Fixture silence = LoadFixture("silence");
  ASSERT_TRUE(silence.model);
  Decoder quiet(*silence.model, silence.audio);
  auto silent = DecodeWithFallback(&quiet, silence.prompt, FallbackOptions{});
  ASSERT_TRUE(silent.ok());
  EXPECT_GT(silent->stats.no_speech_prob, 0.6);
  EXPECT_EQ(silent->decodes, 1);
  EXPECT_TRUE(IsNoSpeech(silent->stats, 0.6, -1.0));
}

}  // namespace
}  // namespace cadence::speech::whisper
