// Step-Audio 2 end to end in the engine (encoder + adaptor + Qwen2 LLM, the published chat format)
// against a float64 PyTorch reference on the tiny checkpoint (tests/engine/data/step_audio2,
// written by tools/engine/step_audio2/make_tiny_step_audio2.py and step_audio2_reference.py): the
// named tokens, the prompt ids of a speech-to-speech and a text conversation, the logits after
// the mixed audio + text prompt, the greedy answer and its text / speech split, prefix reuse by
// audio key, and load errors.
#include "engine/models/step_audio2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/step_audio2/";

const nlohmann::json& Golden() {
  static const nlohmann::json j = [] {
    std::ifstream in(kDir + "golden.json");
    return nlohmann::json::parse(in);
  }();
  return j;
}

template <typename T>
std::vector<T> Flat(const nlohmann::json& a) {
  std::vector<T> out;
  for (const auto& v : a) {
    if (v.is_array()) {
      for (const auto& x : v) out.push_back(x.get<T>());
    } else {
      out.push_back(v.get<T>());
    }
  }
  return out;
}

const StepAudio2& Tiny() {
  static const std::unique_ptr<StepAudio2> model = [] {
    StepAudio2Options options;
    options.llm.threads = 2;
    auto m = StepAudio2::Load(kDir + "tiny", options);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return std::move(m).value();
  }();
  return *model;
}

std::shared_ptr<const StepAudio2AudioPiece> ClipPiece(uint64_t key = 7) {
  auto piece = std::make_shared<StepAudio2AudioPiece>();
  piece->n_frames = Golden()["mel"]["n_frames"];
  piece->mel = Flat<float>(Golden()["mel"]["data"]);
  piece->key = key;
  return piece;
}

// The published speech-to-speech example: system, the human's audio, "<tts_start>" (eot false).
std::vector<StepAudio2Turn> SpeechTurns(std::shared_ptr<const StepAudio2AudioPiece> piece) {
  StepAudio2Turn human;
  human.role = "human";
  human.as_parts = true;
  human.parts.push_back({"", std::move(piece), {}});
  return {StepAudio2Turn::Text("system", "You are a helpful assistant."), human,
          StepAudio2Turn::Text("assistant", "<tts_start>", false)};
}

StepAudio2Generation Greedy(int max_tokens) {
  StepAudio2Generation g;
  g.max_tokens = max_tokens;
  g.sampling.temperature = 0;
  g.sampling.repetition_penalty = 1.0f;
  return g;
}

TEST(StepAudio2Test, FindsTheNamedTokens) {
  const auto& ids = Golden()["token_ids"];
  const StepAudio2Tokens& t = Tiny().tokens();
  EXPECT_EQ(t.bot, ids["<|BOT|>"].get<int>());
  EXPECT_EQ(t.eot, ids["<|EOT|>"].get<int>());
  EXPECT_EQ(t.audio_start, ids["<audio_start>"].get<int>());
  EXPECT_EQ(t.audio_end, ids["<audio_end>"].get<int>());
  EXPECT_EQ(t.audio_patch, ids["<audio_patch>"].get<int>());
  EXPECT_EQ(t.tts_start, ids["<tts_start>"].get<int>());
  EXPECT_EQ(t.audio_0, ids["<audio_0>"].get<int>());
}

TEST(StepAudio2Test, PromptIdsFollowThePublishedTemplate) {
  auto prompt = Tiny().BuildPrompt(SpeechTurns(ClipPiece()));
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  EXPECT_EQ(prompt->ids, Flat<int>(Golden()["prompt_ids"]));
  ASSERT_EQ(prompt->audio.size(), 1u);
  EXPECT_EQ(prompt->audio[0].position - 1, Flat<int>(Golden()["audio_start_positions"])[0]);
  EXPECT_EQ(prompt->audio[0].rows, Golden()["encoder"]["n_tokens"].get<int>());

  std::vector<StepAudio2Turn> text = {StepAudio2Turn::Text("system", "You are a helpful assistant."),
                                      StepAudio2Turn::Text("human", "Give me a brief introduction to the Great Wall."),
                                      StepAudio2Turn::Text("assistant", "", false)};
  auto text_prompt = Tiny().BuildPrompt(text);
  ASSERT_TRUE(text_prompt.ok());
  EXPECT_EQ(text_prompt->ids, Flat<int>(Golden()["text_prompt_ids"]));
}

TEST(StepAudio2Test, LogitsAfterAudioAndTextMatchTheReference) {
  auto prompt = Tiny().BuildPrompt(SpeechTurns(ClipPiece()));
  ASSERT_TRUE(prompt.ok());
  Sequence seq(Tiny().llm(), 512);
  std::vector<float> logits;
  ASSERT_TRUE(Tiny().Prefill(seq, *prompt, &logits).ok());
  const std::vector<float> want = Flat<float>(Golden()["last_logits"]);
  ASSERT_EQ(logits.size(), want.size());
  double max_err = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_err = std::max(max_err, std::abs(static_cast<double>(logits[i]) - want[i]));
    scale = std::max(scale, std::abs(static_cast<double>(want[i])));
  }
  // f32 activations against float64 on the same BF16 weights.
  EXPECT_LT(max_err, 2e-4 * scale) << "max error " << max_err << " at logit scale " << scale;

  // The audio rows matter: the same prompt with silence for audio gives other logits.
  auto silent = std::make_shared<StepAudio2AudioPiece>(*ClipPiece(8));
  std::fill(silent->mel.begin(), silent->mel.end(), -0.5f);
  auto other = Tiny().BuildPrompt(SpeechTurns(silent));
  Sequence seq2(Tiny().llm(), 512);
  std::vector<float> other_logits;
  ASSERT_TRUE(Tiny().Prefill(seq2, *other, &other_logits).ok());
  double diff = 0;
  for (size_t i = 0; i < want.size(); ++i) diff = std::max(diff, std::abs(static_cast<double>(other_logits[i]) - want[i]));
  EXPECT_GT(diff, 100 * max_err);
}

TEST(StepAudio2Test, GreedySpokenAnswerMatchesTheReference) {
  auto prompt = Tiny().BuildPrompt(SpeechTurns(ClipPiece()));
  ASSERT_TRUE(prompt.ok());
  Sequence seq(Tiny().llm(), 512);
  std::vector<int> streamed_speech;
  std::string streamed_text;
  auto out = Tiny().Generate(
      seq, *prompt, Greedy(24),
      [&](std::string_view t) {
        streamed_text += t;
        return true;
      },
      [&](std::span<const int> s) {
        streamed_speech.insert(streamed_speech.end(), s.begin(), s.end());
        return true;
      });
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->ids, Flat<int>(Golden()["greedy_ids"]));
  EXPECT_EQ(out->speech, Flat<int>(Golden()["greedy_speech_tokens"]));
  EXPECT_EQ(streamed_speech, out->speech);
  EXPECT_EQ(streamed_text, out->text);
  std::vector<int> text_ids;
  for (TokenId id : out->ids)
    if (id < Tiny().tokens().audio_start) text_ids.push_back(id);
  EXPECT_EQ(text_ids, Flat<int>(Golden()["greedy_text_ids"]));
  EXPECT_FALSE(out->text.empty());
  EXPECT_EQ(out->prompt_tokens, static_cast<int>(prompt->ids.size()));
}

TEST(StepAudio2Test, GreedyTextAnswerMatchesTheReference) {
  std::vector<StepAudio2Turn> text = {StepAudio2Turn::Text("system", "You are a helpful assistant."),
                                      StepAudio2Turn::Text("human", "Give me a brief introduction to the Great Wall."),
                                      StepAudio2Turn::Text("assistant", "", false)};
  auto prompt = Tiny().BuildPrompt(text);
  ASSERT_TRUE(prompt.ok());
  Sequence seq(Tiny().llm(), 512);
  auto out = Tiny().Generate(seq, *prompt, Greedy(12), {}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->ids, Flat<int>(Golden()["text_greedy_ids"]));
}

TEST(StepAudio2Test, ANextTurnReusesTheAudioItHasSeenAndNotOtherAudio) {
  auto prompt = Tiny().BuildPrompt(SpeechTurns(ClipPiece(11)));
  ASSERT_TRUE(prompt.ok());
  Sequence seq(Tiny().llm(), 1024);
  std::vector<float> first, again;
  ASSERT_TRUE(Tiny().Prefill(seq, *prompt, &first).ok());
  auto reused = Tiny().Prefill(seq, *prompt, &again);
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(*reused, static_cast<int>(prompt->ids.size()) - 1);
  ASSERT_EQ(first.size(), again.size());
  for (size_t i = 0; i < first.size(); i += 97) EXPECT_NEAR(first[i], again[i], 1e-4);
  // Another clip (another key) at the same place: the positions before its rows are reused, its
  // rows are not.
  auto other = Tiny().BuildPrompt(SpeechTurns(ClipPiece(12)));
  auto partial = Tiny().Prefill(seq, *other, &again);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(*partial, other->audio[0].position);
  // And the logits after the reused prefix equal a fresh evaluation's.
  Sequence fresh(Tiny().llm(), 1024);
  std::vector<float> fresh_logits;
  ASSERT_TRUE(Tiny().Prefill(fresh, *other, &fresh_logits).ok());
  ASSERT_EQ(fresh_logits.size(), again.size());
  for (size_t i = 0; i < again.size(); i += 97) EXPECT_NEAR(again[i], fresh_logits[i], 1e-4);
}

TEST(StepAudio2Test, LoadErrorsNameWhatIsWrong) {
  auto missing = StepAudio2::Load(kDir + "no_such_folder");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("config.json"), std::string::npos);

  const fs::path tmp = fs::temp_directory_path() / "cadence_step_audio2_bad";
  fs::remove_all(tmp);
  fs::copy(kDir + "tiny", tmp);
  {
    nlohmann::json config = nlohmann::json::parse(std::ifstream(tmp / "config.json"));
    config.erase("audio_encoder_config");
    std::ofstream(tmp / "config.json") << config.dump();
  }
  auto no_audio = StepAudio2::Load(tmp.string());
  ASSERT_FALSE(no_audio.ok());
  EXPECT_NE(no_audio.status().message().find("audio_encoder_config"), std::string::npos);
  fs::copy_file(kDir + "tiny/config.json", tmp / "config.json", fs::copy_options::overwrite_existing);
  fs::remove(tmp / "model-00002-of-00002.safetensors");
  auto no_shard = StepAudio2::Load(tmp.string());
  ASSERT_FALSE(no_shard.ok());
  EXPECT_NE(no_shard.status().message().find("model-00002-of-00002.safetensors"), std::string::npos)
      << no_shard.status().ToString();
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace cadence::engine
