// The tiny stand-ins of the token2wav voice-prompt graphs (tests/engine/data/token2wav/, written by
// tools/engine/token2wav/make_voice_prompt_onnx.py with torch.onnx.export at the published input
// and output names) run through Cadence's ONNX interpreter, against the outputs of the same
// modules in PyTorch on the same features:
//   campplus_tiny.onnx            "input" [1, T, 80] -> "output" [1, 192]; within 1e-5 absolute
//                                 (float32 PyTorch against our double-accumulating reference
//                                 operators, measured 6e-8; embedding values are O(1); a wrong
//                                 ceil_mode divisor in AveragePool moves it by 7.5e-5).
//   speech_tokenizer_v2_tiny.onnx "feats" [1, 128, T], "feats_length" [1] -> "indices" [1, 1, T/4];
//                                 token ids exactly equal, also for a batch row padded past
//                                 feats_length (the padding must not change any token).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "cten.h"
#include "engine/formats/onnx/interpreter.h"
#include "engine/formats/onnx/onnx_model.h"

namespace cadence::engine::onnx {
namespace {

constexpr float kEmbeddingTolerance = 1e-5f;

std::string DataPath(const std::string& name) {
  return std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/" + name;
}

Tensor FromGolden(const cadence::testing::GoldenTensor& g) { return Tensor::Float(g.shape, g.floats); }

TEST(VoicePromptGraphsTest, CampPlusEmbeddingMatchesPyTorch) {
  auto model = LoadOnnxModel(DataPath("campplus_tiny.onnx"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->opset(), 11);
  OnnxInterpreter interpreter(*model);
  ASSERT_TRUE(interpreter.Validate().ok()) << interpreter.Validate().ToString();
  ASSERT_EQ(interpreter.inputs().size(), 1u);
  EXPECT_EQ(interpreter.inputs()[0].name, "input");
  EXPECT_EQ(interpreter.outputs()[0].name, "output");
  const auto fbank = cadence::testing::ReadGoldenTensor(DataPath("fbank_cmn.cten"));
  const auto want = cadence::testing::ReadGoldenTensor(DataPath("campplus_tiny.embedding.cten"));
  ASSERT_TRUE(fbank.error.empty() && want.error.empty()) << fbank.error << want.error;
  Tensor input = FromGolden(fbank);
  input.shape.insert(input.shape.begin(), 1);  // [1, T, 80]
  auto out = interpreter.Run({{"input", input}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].shape, (std::vector<int64_t>{1, 192}));
  double worst = 0;
  for (size_t i = 0; i < want.floats.size(); ++i) worst = std::max<double>(worst, std::fabs((*out)[0].floats[i] - want.floats[i]));
  EXPECT_LT(worst, kEmbeddingTolerance);
  std::printf("campplus_tiny: max |ours - torch| = %.3g over 192 values\n", worst);
}

TEST(VoicePromptGraphsTest, TokenizerIdsEqualPyTorch) {
  auto model = LoadOnnxModel(DataPath("speech_tokenizer_v2_tiny.onnx"));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  OnnxInterpreter interpreter(*model);
  ASSERT_TRUE(interpreter.Validate().ok()) << interpreter.Validate().ToString();
  ASSERT_EQ(interpreter.inputs().size(), 2u);
  EXPECT_EQ(interpreter.inputs()[0].name, "feats");
  EXPECT_EQ(interpreter.inputs()[1].name, "feats_length");
  EXPECT_EQ(interpreter.outputs()[0].name, "indices");
  const auto mel = cadence::testing::ReadGoldenTensor(DataPath("whisper_mel128.cten"));
  const auto want = cadence::testing::ReadGoldenTensor(DataPath("speech_tokenizer_v2_tiny.tokens.cten"));
  const auto want_padded = cadence::testing::ReadGoldenTensor(DataPath("speech_tokenizer_v2_tiny.tokens_padded.cten"));
  ASSERT_TRUE(mel.error.empty() && want.error.empty() && want_padded.error.empty());
  Tensor feats = FromGolden(mel);
  feats.shape.insert(feats.shape.begin(), 1);  // [1, 128, T]
  const int64_t frames = feats.shape[2];
  const Tensor length = Tensor::Int64({1}, {frames});
  auto out = interpreter.Run({{"feats", feats}, {"feats_length", length}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].shape, want.shape);
  EXPECT_EQ((*out)[0].ints, want.ints);

  // The same features followed by 40 frames of zeros, with feats_length still the real length.
  Tensor padded = Tensor::Zeros(ElementType::kFloat, {1, 128, frames + 40});
  for (int64_t m = 0; m < 128; ++m) {
    for (int64_t t = 0; t < frames; ++t) padded.floats[m * (frames + 40) + t] = feats.floats[m * frames + t];
  }
  auto out_padded = interpreter.Run({{"feats", padded}, {"feats_length", length}});
  ASSERT_TRUE(out_padded.ok()) << out_padded.status().ToString();
  EXPECT_EQ((*out_padded)[0].ints, want_padded.ints);
}

// Graphs of the published sizes (random weights; too large to commit): CADENCE_VOICE_PROMPT_DIR
// holds campplus.onnx and speech_tokenizer_v2_25hz.onnx from make_voice_prompt_onnx.py
// --published-size DIR and onnxruntime's outputs on the stored features from
// tools/engine/token2wav/ort_reference.mjs DIR. Disabled by default:
//   CADENCE_VOICE_PROMPT_DIR=DIR build/tests/engine/engine_test --gtest_also_run_disabled_tests \
//       --gtest_filter='*PublishedSize*'
TEST(VoicePromptGraphsTest, DISABLED_PublishedSizeGraphsMatchOnnxruntime) {
  const char* dir = std::getenv("CADENCE_VOICE_PROMPT_DIR");
  if (!dir) GTEST_SKIP() << "CADENCE_VOICE_PROMPT_DIR is not set";
  const std::string base = std::string(dir) + "/";
  const auto want_embedding = cadence::testing::ReadGoldenTensor(base + "ort_embedding.cten");
  const auto want_tokens = cadence::testing::ReadGoldenTensor(base + "ort_tokens.cten");
  ASSERT_TRUE(want_embedding.error.empty() && want_tokens.error.empty()) << want_embedding.error << want_tokens.error;

  auto campplus = LoadOnnxModel(base + "campplus.onnx");
  ASSERT_TRUE(campplus.ok()) << campplus.status().ToString();
  Tensor input = FromGolden(cadence::testing::ReadGoldenTensor(DataPath("fbank_cmn.cten")));
  input.shape.insert(input.shape.begin(), 1);
  auto t0 = std::chrono::steady_clock::now();
  auto embedding = OnnxInterpreter(*campplus).Run({{"input", input}});
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(embedding.ok()) << embedding.status().ToString();
  double worst = 0;
  for (size_t i = 0; i < want_embedding.floats.size(); ++i) {
    worst = std::max<double>(worst, std::fabs((*embedding)[0].floats[i] - want_embedding.floats[i]));
  }
  EXPECT_LT(worst, 1e-4);

  auto tokenizer = LoadOnnxModel(base + "speech_tokenizer_v2_25hz.onnx");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  Tensor feats = FromGolden(cadence::testing::ReadGoldenTensor(DataPath("whisper_mel128.cten")));
  feats.shape.insert(feats.shape.begin(), 1);
  const Tensor length = Tensor::Int64({1}, {feats.shape[2]});
  auto t2 = std::chrono::steady_clock::now();
  auto tokens = OnnxInterpreter(*tokenizer).Run({{"feats", feats}, {"feats_length", length}});
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  int differ = 0;
  for (size_t i = 0; i < want_tokens.ints.size(); ++i) differ += (*tokens)[0].ints[i] != want_tokens.ints[i];
  EXPECT_EQ((*tokens)[0].ints, want_tokens.ints);
  std::printf("published-size CAM++: max |ours - onnxruntime| = %.3g, %.3f s; tokenizer: %d of %zu tokens differ, %.3f s\n",
              worst, std::chrono::duration<double>(t1 - t0).count(), differ, want_tokens.ints.size(),
              std::chrono::duration<double>(t3 - t2).count());
}

TEST(VoicePromptGraphsTest, MissingFileAndUnsupportedOperatorAreNamed) {
  auto missing = LoadOnnxModel(DataPath("no_such_campplus.onnx"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().ToString().find("no_such_campplus.onnx"), std::string::npos) << missing.status().ToString();

  auto model = LoadOnnxModel(DataPath("campplus_tiny.onnx"));
  ASSERT_TRUE(model.ok());
  // Rename one node's operator to one we do not implement: Validate names it and the node.
  for (Node& node : model->graph.nodes) {
    if (node.op_type == "AveragePool") {
      node.op_type = "LpPool";
      break;
    }
  }
  Status s = OnnxInterpreter(*model).Validate();
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.ToString().find("LpPool"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace cadence::engine::onnx
