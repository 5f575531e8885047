// The token2wav voice-prompt front end and encoder (src/speech/voice_prompt/) against independent
// references written by tools/engine/token2wav/make_voice_prompt_onnx.py into
// tests/engine/data/token2wav/ (3 s of en_m_jfk.wav at 16 kHz and a 24 kHz copy, stored as used):
//   Kaldi fbank          NumPy float64 from Kaldi's definition (torchaudio's kaldi.fbank defaults):
//                        within 1e-5 absolute on log energies of magnitude up to ~20, before and
//                        after the mean normalisation (measured 9.5e-7: float32 storage);
//   Whisper log-mel 128  tools/whisper/reference.py (NumPy): within 1e-5;
//   prompt mel (24 kHz)  NumPy float64 of CosyVoice's mel_spectrogram: within 1e-5 (measured 9.5e-7);
//   CAM++ embedding      the tiny CAM++ in PyTorch on the reference fbank: within 1e-5 (measured 6e-8);
//   tokens               the tiny S3 tokenizer v2 in PyTorch on the reference log-mel: equal.
// And the errors: a missing model file and a graph with an operator the interpreter lacks name the
// file and the operator.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cten.h"
#include "speech/asr/whisper/log_mel.h"
#include "speech/voice_prompt/kaldi_fbank.h"
#include "speech/voice_prompt/prompt_mel.h"
#include "speech/voice_prompt/voice_prompt_encoder.h"

namespace cadence::speech::voice_prompt {
namespace {

constexpr double kFbankTolerance = 1e-5;
constexpr double kWhisperMelTolerance = 1e-5;
constexpr double kPromptMelTolerance = 1e-5;
constexpr double kEmbeddingTolerance = 1e-5;

std::string DataPath(const std::string& name) {
  return std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/" + name;
}

cadence::testing::GoldenTensor Golden(const std::string& name) {
  auto t = cadence::testing::ReadGoldenTensor(DataPath(name));
  EXPECT_TRUE(t.error.empty()) << t.error;
  return t;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max<double>(worst, std::fabs(a[i] - b[i]));
  return worst;
}

VoicePromptConfig TinyConfig() {
  VoicePromptConfig config;
  config.campplus_path = DataPath("campplus_tiny.onnx");
  config.tokenizer_path = DataPath("speech_tokenizer_v2_tiny.onnx");
  return config;
}

TEST(VoicePromptFeaturesTest, KaldiFbankMatchesReference) {
  const auto audio = Golden("prompt_16k.cten");
  const auto want = Golden("fbank.cten");
  const auto want_cmn = Golden("fbank_cmn.cten");
  auto fbank = ComputeKaldiFbank(audio.floats);
  ASSERT_TRUE(fbank.ok()) << fbank.status().ToString();
  EXPECT_EQ(fbank->n_frames, 1 + (48000 - 400) / 160);  // 298: snip_edges
  ASSERT_EQ((std::vector<int64_t>{fbank->n_frames, fbank->n_bins}), want.shape);
  const double worst = MaxAbsDiff(fbank->data, want.floats);
  EXPECT_LT(worst, kFbankTolerance);
  SubtractMeanOverTime(&*fbank);
  const double worst_cmn = MaxAbsDiff(fbank->data, want_cmn.floats);
  EXPECT_LT(worst_cmn, kFbankTolerance);
  std::printf("kaldi fbank: max |ours - numpy| = %.3g (mean-normalised %.3g)\n", worst, worst_cmn);
}

TEST(VoicePromptFeaturesTest, WhisperLogMel128MatchesReference) {
  const auto audio = Golden("prompt_16k.cten");
  const auto want = Golden("whisper_mel128.cten");
  whisper::LogMelOptions options;
  options.n_mels = 128;
  auto mel = whisper::ComputeLogMel(audio.floats, options);
  ASSERT_TRUE(mel.ok());
  ASSERT_EQ((std::vector<int64_t>{mel->n_mels, mel->n_frames}), want.shape);
  EXPECT_LT(MaxAbsDiff(mel->data, want.floats), kWhisperMelTolerance);
}

TEST(VoicePromptFeaturesTest, PromptMelMatchesReference) {
  const auto audio = Golden("prompt_24k.cten");
  const auto want = Golden("prompt_mel24k.cten");  // [80, frames]
  auto mel = ComputePromptMel(audio.floats);
  ASSERT_TRUE(mel.ok()) << mel.status().ToString();
  EXPECT_EQ(mel->n_frames, 72000 / 480);
  ASSERT_EQ((std::vector<int64_t>{mel->n_mels, mel->n_frames}), want.shape);
  double worst = 0;
  for (int m = 0; m < mel->n_mels; ++m) {
    for (int f = 0; f < mel->n_frames; ++f) {
      worst = std::max<double>(worst, std::fabs(mel->at(f, m) - want.floats[static_cast<size_t>(m) * mel->n_frames + f]));
    }
  }
  EXPECT_LT(worst, kPromptMelTolerance);
  std::printf("prompt mel: max |ours - numpy| = %.3g\n", worst);
}

TEST(VoicePromptFeaturesTest, ShortAudioIsRefused) {
  std::vector<float> short_audio(399, 0.1f);
  EXPECT_FALSE(ComputeKaldiFbank(short_audio).ok());
  EXPECT_FALSE(ComputePromptMel(std::vector<float>(720, 0.1f)).ok());
  auto one = ComputeKaldiFbank(std::vector<float>(400, 0.0f));  // silence: log of the floor
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->n_frames, 1);
  EXPECT_FLOAT_EQ(one->at(0, 0), std::log(1.1920928955078125e-07f));
}

TEST(VoicePromptFeaturesTest, MelTokenAlignment) {
  PromptMel mel;
  mel.n_mels = 1;
  mel.n_frames = 5;
  mel.data = {1, 2, 3, 4, 5};
  std::vector<int> tokens = {7, 8, 9};
  PromptMel cropped = mel;
  std::vector<int> cropped_tokens = tokens;
  AlignMelToTokens(MelTokenAlignment::kCropToShorter, &cropped, &cropped_tokens);  // min(3, 5/2) = 2
  EXPECT_EQ(cropped_tokens, (std::vector<int>{7, 8}));
  EXPECT_EQ(cropped.data, (std::vector<float>{1, 2, 3, 4}));
  AlignMelToTokens(MelTokenAlignment::kPadLastFrame, &mel, &tokens);  // 6 frames, last repeated
  EXPECT_EQ(tokens.size(), 3u);
  EXPECT_EQ(mel.n_frames, 6);
  EXPECT_EQ(mel.data, (std::vector<float>{1, 2, 3, 4, 5, 5}));
}

TEST(VoicePromptEncoderTest, TinyGraphsMatchPyTorch) {
  auto encoder = VoicePromptEncoder::Create(TinyConfig());
  ASSERT_TRUE(encoder.ok()) << encoder.status().ToString();
  const auto audio16 = Golden("prompt_16k.cten");
  const auto audio24 = Golden("prompt_24k.cten");
  const auto want_embedding = Golden("campplus_tiny.embedding.cten");
  const auto want_tokens = Golden("speech_tokenizer_v2_tiny.tokens.cten");
  auto prompt = (*encoder)->Encode(audio16.floats, audio24.floats, MelTokenAlignment::kPadLastFrame);
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  ASSERT_EQ(prompt->speaker_embedding.size(), 192u);
  const double worst = MaxAbsDiff(prompt->speaker_embedding, want_embedding.floats);
  EXPECT_LT(worst, kEmbeddingTolerance);
  std::printf("encoder embedding: max |ours - torch| = %.3g\n", worst);
  std::vector<int> want(want_tokens.ints.begin(), want_tokens.ints.end());
  EXPECT_EQ(prompt->tokens, want);
  EXPECT_EQ(prompt->tokens.size(), 75u);  // 3 s at 25 Hz
  EXPECT_EQ(prompt->mel.n_frames, 150);   // 2 per token
}

TEST(VoicePromptEncoderTest, EncodeAudioResamplesFromTheOriginalRate) {
  auto encoder = VoicePromptEncoder::Create(TinyConfig());
  ASSERT_TRUE(encoder.ok());
  const auto audio16 = Golden("prompt_16k.cten");
  // At 16 kHz the tokens and embedding are those of Encode; the mel comes from the libsoxr 24 kHz
  // copy, so only its length is checked (150 frames for 3 s).
  auto prompt = (*encoder)->EncodeAudio(audio16.floats, 16000, MelTokenAlignment::kPadLastFrame);
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  const auto want_tokens = Golden("speech_tokenizer_v2_tiny.tokens.cten");
  EXPECT_EQ(prompt->tokens, std::vector<int>(want_tokens.ints.begin(), want_tokens.ints.end()));
  EXPECT_EQ(prompt->mel.n_frames, 150);
  EXPECT_FALSE((*encoder)->EncodeAudio(audio16.floats, 100).ok());
  // 30 s is the tokenizer's limit.
  EXPECT_FALSE((*encoder)->SpeechTokens(std::vector<float>(31 * 16000, 0.0f)).ok());
}

TEST(VoicePromptEncoderTest, MissingFileIsNamed) {
  VoicePromptConfig config = TinyConfig();
  config.tokenizer_path = DataPath("speech_tokenizer_v2_25hz.onnx");  // not in the repository
  auto encoder = VoicePromptEncoder::Create(config);
  ASSERT_FALSE(encoder.ok());
  EXPECT_EQ(encoder.status().code(), StatusCode::kNotFound);
  EXPECT_NE(encoder.status().message().find("speech_tokenizer_v2_25hz.onnx"), std::string::npos) << encoder.status().ToString();
  EXPECT_FALSE(VoicePromptEncoder::Create(VoicePromptConfig{}).ok());
}

TEST(VoicePromptEncoderTest, UnsupportedOperatorIsNamedWithTheFile) {
  // The tiny CAM++ with its AveragePool nodes renamed to an operator of the same length we lack
  // (node names contain the word too; renaming every occurrence keeps the protobuf valid).
  std::ifstream in(DataPath("campplus_tiny.onnx"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  int renamed = 0;
  for (size_t at = bytes.find("AveragePool"); at != std::string::npos; at = bytes.find("AveragePool", at)) {
    bytes.replace(at, 11, "AveragePoox");
    ++renamed;
  }
  ASSERT_GT(renamed, 0);
  const std::string path = (std::filesystem::temp_directory_path() / "cadence_campplus_unsupported.onnx").string();
  std::ofstream(path, std::ios::binary) << bytes;
  VoicePromptConfig config = TinyConfig();
  config.campplus_path = path;
  auto encoder = VoicePromptEncoder::Create(config);
  std::filesystem::remove(path);
  ASSERT_FALSE(encoder.ok());
  EXPECT_EQ(encoder.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(encoder.status().message().find("AveragePoox"), std::string::npos) << encoder.status().ToString();
  EXPECT_NE(encoder.status().message().find(path), std::string::npos) << encoder.status().ToString();
}

}  // namespace
}  // namespace cadence::speech::voice_prompt
