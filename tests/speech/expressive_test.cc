// Expressive speech measured, not assumed: renders with tones and inline tags, then measures the
// audio with Praat (`praat --run prosody_measure.praat`) and simple envelope analysis.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <unistd.h>

#include "audio/wav.h"
#include "speech/tts/synthesizer.h"
#include "test_util.h"

namespace cadence::speech {
namespace {

struct Prosody {
  double f0_mean_hz = 0, f0_range_st = 0, intensity_db = 0, duration_s = 0;
};

// Runs Praat on the audio; fails the test if Praat is missing or says nothing.
Prosody Measure(const std::vector<float>& pcm_24k, const std::string& tag) {
  static int counter = 0;
  std::string path = ::testing::TempDir() + "/cadence_expr_" + std::to_string(getpid()) + "_" +
                     std::to_string(counter++) + ".wav";
  EXPECT_TRUE(audio::WriteWav(path, {kTtsSampleRateHz, pcm_24k}).ok());
  std::string cmd = "praat --run " + std::string(CADENCE_SOURCE_DIR) + "/tests/speech/prosody_measure.praat " + path + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (pipe && fgets(buf, sizeof buf, pipe)) out += buf;
  if (pipe) pclose(pipe);
  std::filesystem::remove(path);
  std::map<std::string, double> kv;
  std::istringstream in(out);
  std::string item;
  while (in >> item)
    if (auto eq = item.find('='); eq != std::string::npos) kv[item.substr(0, eq)] = std::atof(item.substr(eq + 1).c_str());
  EXPECT_TRUE(kv.count("f0_mean_hz")) << "praat output: " << out;
  Prosody p{kv["f0_mean_hz"], kv["f0_range_st"], kv["intensity_db"], kv["duration_s"]};
  std::printf("  %-22s F0 %.1f Hz, range %.2f st, intensity %.1f dB, duration %.2f s\n", tag.c_str(), p.f0_mean_hz,
              p.f0_range_st, p.intensity_db, p.duration_s);
  return p;
}

std::vector<float> Render(const std::string& text, const std::string& voice, const std::string& emotion,
                          std::vector<std::vector<float>>* chunks = nullptr) {
  SynthesisRequest r;
  r.text = text;
  r.voice = voice;
  r.tone.emotion = emotion;
  std::vector<float> all;
  Status s = testing::SharedSynthesizer().Synthesize(r, CancelToken(), [&](std::span<const float> pcm) {
    all.insert(all.end(), pcm.begin(), pcm.end());
    if (chunks) chunks->emplace_back(pcm.begin(), pcm.end());
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return all;
}

double Semitones(double a_hz, double b_hz) { return 12.0 * std::log2(a_hz / b_hz); }

// Excited vs tired, same text and voice. Margins: F0 mean ≥ `min_f0_st` apart, F0 range ≥ 1.5×
// (where the voice has range control), duration ≥ 1.3× (rate), intensity ≥ 3 dB.
void ExpectExcitedBeatsTired(const std::string& voice, const std::string& text, bool check_range,
                             double min_f0_st = 4.0) {
  Prosody excited = Measure(Render(text, voice, "excited"), voice + " excited");
  Prosody tired = Measure(Render(text, voice, "tired"), voice + " tired");
  Prosody neutral = Measure(Render(text, voice, "neutral"), voice + " neutral");
  EXPECT_GT(Semitones(excited.f0_mean_hz, tired.f0_mean_hz), min_f0_st) << voice;
  EXPECT_GT(excited.f0_mean_hz, neutral.f0_mean_hz) << voice;
  EXPECT_LT(tired.f0_mean_hz, neutral.f0_mean_hz) << voice;
  if (check_range) EXPECT_GT(excited.f0_range_st, 1.5 * tired.f0_range_st) << voice;
  EXPECT_GT(tired.duration_s, 1.3 * excited.duration_s) << voice;
  EXPECT_GT(excited.intensity_db - tired.intensity_db, 3.0) << voice;
}

const char* kEnglish = "I have some news for you about the trip. We are leaving tomorrow morning at nine.";

TEST(Expressive, ExcitedVsTiredEnglishFemale) { ExpectExcitedBeatsTired("slt", kEnglish, true); }
TEST(Expressive, ExcitedVsTiredEnglishMaleSculptedPitch) {
  // rms ignores Flite's F0 targets: pitch comes from Rubber Band, range is not controllable.
  ExpectExcitedBeatsTired("rms", kEnglish, false);
}
TEST(Expressive, ExcitedVsTiredMandarin) {
  // eSpeak's range control moves the mean too; the voice compensates (MeanShiftFromRangeSt).
  ExpectExcitedBeatsTired("cmn-f", "我有一个好消息要告诉你。我们明天早上九点出发。", true);
}

TEST(Expressive, ProsodyRateSlowSpanIsSlower) {
  std::vector<std::vector<float>> chunks;
  Render("<prosody rate=\"slow\">I will see you tomorrow.</prosody> I will see you tomorrow.", "slt", "neutral", &chunks);
  ASSERT_EQ(chunks.size(), 2u);
  double slow = chunks[0].size(), normal = chunks[1].size();
  std::printf("  slow span %.2f s, neighbour %.2f s\n", slow / kTtsSampleRateHz, normal / kTtsSampleRateHz);
  EXPECT_GT(slow, 1.15 * normal);
}

TEST(Expressive, WhisperHasNoVoicing) {
  auto normal = Render("Come closer, I have a secret.", "slt", "neutral");
  auto whisper = Render("(whispering) Come closer, I have a secret.", "slt", "neutral");
  double v_normal = testing::VoicedFraction(normal), v_whisper = testing::VoicedFraction(whisper);
  std::printf("  voiced fraction normal %.2f, whisper %.2f\n", v_normal, v_whisper);
  EXPECT_GT(v_normal, 0.3);
  EXPECT_LT(v_whisper, 0.5 * v_normal);
  EXPECT_GT(testing::Rms(whisper), 0.005);  // still audible
}

// 10 ms RMS envelope.
std::vector<double> Envelope(std::span<const float> x) {
  const size_t hop = kTtsSampleRateHz / 100;
  std::vector<double> env;
  for (size_t i = 0; i + hop <= x.size(); i += hop) env.push_back(testing::Rms(x.subspan(i, hop)));
  return env;
}

TEST(Expressive, LaughIsPlacedBetweenSentencesAsBursts) {
  const std::string first = "I cannot believe it.";
  size_t before = Render(first, "slt", "neutral").size();
  auto plain = Render(first + " That is so funny.", "slt", "neutral");
  auto tagged = Render(first + " [laughs] That is so funny.", "slt", "neutral");
  // The laugh adds roughly its own length (~0.9 s + 50 ms) and nothing else.
  double added_s = (static_cast<double>(tagged.size()) - plain.size()) / kTtsSampleRateHz;
  EXPECT_NEAR(added_s, 0.95, 0.1);
  // In the window right after the first sentence: 3-5 energy bursts, voiced.
  auto window = std::span<const float>(tagged).subspan(before, static_cast<size_t>(0.9 * kTtsSampleRateHz));
  auto env = Envelope(window);
  double peak = *std::max_element(env.begin(), env.end());
  int bursts = 0;
  bool above = false;
  for (double e : env) {
    if (!above && e > 0.3 * peak) ++bursts, above = true;
    if (above && e < 0.1 * peak) above = false;
  }
  double voiced = testing::VoicedFraction(window);
  std::printf("  laugh window: %d bursts, voiced fraction %.2f\n", bursts, voiced);
  EXPECT_GE(bursts, 3);
  EXPECT_LE(bursts, 5);
  EXPECT_GT(voiced, 0.2);
  // The same window in the untagged reply holds speech of the next sentence instead: no burst train.
}

TEST(Expressive, SighIsBreathyAndFalling) {
  const std::string first = "Another long day.";
  size_t before = Render(first, "rms", "neutral").size();
  auto tagged = Render(first + " [sighs] Let us go home.", "rms", "neutral");
  auto window = std::span<const float>(tagged).subspan(before, static_cast<size_t>(0.9 * kTtsSampleRateHz));
  auto env = Envelope(window);
  double first_half = 0, second_half = 0;
  for (size_t i = 0; i < env.size(); ++i) (i < env.size() / 2 ? first_half : second_half) += env[i];
  // Zero-crossing rate as a spectral-brightness proxy: it must fall as the sigh's envelope closes.
  auto zcr = [](std::span<const float> x) {
    int z = 0;
    for (size_t i = 1; i < x.size(); ++i) z += (x[i - 1] < 0) != (x[i] < 0);
    return static_cast<double>(z) / x.size();
  };
  size_t third = window.size() / 3;
  double zcr_start = zcr(window.first(third)), zcr_end = zcr(window.last(third));
  double voiced = testing::VoicedFraction(window);
  std::printf("  sigh window: energy halves %.3f → %.3f, zcr %.3f → %.3f, voiced %.2f\n", first_half, second_half,
              zcr_start, zcr_end, voiced);
  EXPECT_GT(testing::Rms(window), 0.005);
  EXPECT_GT(first_half, 1.5 * second_half);
  EXPECT_GT(zcr_start, 1.3 * zcr_end);
  EXPECT_LT(voiced, 0.5);
}

TEST(Expressive, StepFunTagsChangeMandarinDelivery) {
  Prosody fast = Measure(Render("（快速 2）我们明天早上九点出发。", "cmn-m", "neutral"), "cmn-m 快速2");
  Prosody slow = Measure(Render("（慢速 2）我们明天早上九点出发。", "cmn-m", "neutral"), "cmn-m 慢速2");
  EXPECT_GT(slow.duration_s, 1.4 * fast.duration_s);
  Prosody happy = Measure(Render("（高兴 2）我们明天早上九点出发。", "cmn-m", "neutral"), "cmn-m 高兴2");
  Prosody sad = Measure(Render("（悲伤 2）我们明天早上九点出发。", "cmn-m", "neutral"), "cmn-m 悲伤2");
  EXPECT_GT(Semitones(happy.f0_mean_hz, sad.f0_mean_hz), 3.0);
}

TEST(Expressive, UnsupportedDialectIsNotSpoken) {
  auto with_tag = Render("（四川话）你好。", "cmn-f", "neutral");
  auto without = Render("你好。", "cmn-f", "neutral");
  EXPECT_EQ(with_tag.size(), without.size());
}

TEST(Expressive, CantoneseTagSwitchesToTheCantoneseVoice) {
  const std::string text = "我哋今日去饮茶，好唔好？";
  auto mandarin = Render(text, "cmn-f", "neutral");
  auto cantonese = Render("（粤语）" + text, "cmn-f", "neutral");
  EXPECT_GT(testing::VoicedFraction(cantonese), 0.3);
  // A different language's phonology: the renderings differ in length by more than 5 %.
  double ratio = static_cast<double>(cantonese.size()) / mandarin.size();
  std::printf("  cantonese/mandarin length ratio %.3f\n", ratio);
  EXPECT_GT(std::abs(ratio - 1.0), 0.05);
}

TEST(Expressive, UnknownEmotionIsAnError) {
  SynthesisRequest r;
  r.text = "hi";
  r.tone.emotion = "hangry";
  Status s = testing::SharedSynthesizer().Synthesize(r, CancelToken(), [](std::span<const float>) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("hangry"), std::string::npos);
}

}  // namespace
}  // namespace cadence::speech
