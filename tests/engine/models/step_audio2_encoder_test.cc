// Step-Audio 2's audio encoder + adaptor against a float64 PyTorch reference on the tiny checkpoint
// (tests/engine/data/step_audio2: tiny/ is BF16 in two shards, golden.json has the clip's log-mel
// and the adaptor's output rows), plus the token count, the key mask and load errors.
#include "engine/models/step_audio2_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "engine/formats/safetensors_test_writer.h"

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;
const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/step_audio2/";

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

struct Golden {
  int n_frames = 0, n_tokens = 0, width = 0;
  std::vector<float> mel, encoder;
};

const Golden& LoadGolden() {
  static const Golden g = [] {
    const nlohmann::json j = ReadJson(kDir + "golden.json");
    Golden g;
    g.n_frames = j["mel"]["n_frames"];
    for (const auto& row : j["mel"]["data"])
      for (const auto& v : row) g.mel.push_back(v.get<float>());
    g.n_tokens = j["encoder"]["n_tokens"];
    g.width = j["encoder"]["width"];
    for (const auto& v : j["encoder"]["data"]) {
      if (v.is_array()) {
        for (const auto& x : v) g.encoder.push_back(x.get<float>());
      } else {
        g.encoder.push_back(v.get<float>());
      }
    }
    return g;
  }();
  return g;
}

struct Tiny {
  std::unique_ptr<SafetensorsShards> weights;
  std::unique_ptr<StepAudio2Encoder> encoder;
};

Tiny LoadTiny(Isa isa = BestIsa()) {
  Tiny t;
  auto w = SafetensorsShards::Open(kDir + "tiny");
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return t;
  t.weights = std::move(w).value();
  auto config = StepAudio2EncoderConfig::FromJson(ReadJson(kDir + "tiny/config.json"), "tiny/config.json");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return t;
  auto e = StepAudio2Encoder::Load(*t.weights, *config, isa);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (e.ok()) t.encoder = std::move(e).value();
  return t;
}

// Max |a - b| over max |b|.
double RelMaxError(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    err = std::max(err, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return err / scale;
}

TEST(StepAudio2EncoderTest, TokenCount) {
  EXPECT_EQ(StepAudio2AudioTokens(LoadGolden().n_frames), LoadGolden().n_tokens);
  // The reference's split of a 26-s clip into 25-s pieces: frames and <audio_patch> counts per piece.
  const nlohmann::json split = ReadJson(kDir + "golden.json")["split_26s"];
  ASSERT_EQ(split["mel_frames"].size(), split["audio_patches"].size());
  for (size_t i = 0; i < split["mel_frames"].size(); ++i)
    EXPECT_EQ(StepAudio2AudioTokens(split["mel_frames"][i].get<int>()), split["audio_patches"][i].get<int>()) << i;
  // 30 s: 480000 samples + 479 -> 3002 frames -> 1500 encoder frames -> 375 tokens.
  EXPECT_EQ(StepAudio2AudioTokens((480000 + 479) / 160), 375);
  EXPECT_EQ(StepAudio2AudioTokens(2), 0);
  for (int t = 3; t < 400; ++t) EXPECT_EQ(StepAudio2AudioTokens(t), ((t - 2 + 1) / 2 / 2 + 2 - 3) / 2 + 1) << t;
}

TEST(StepAudio2EncoderTest, ValidKeysFollowThePublishedMask) {
  for (int t = 1; t < 400; ++t) {
    const int t2 = (t - 1) / 2 + 1;
    int valid = 0;
    bool suffix = true;  // once a key is invalid, all later ones are
    for (int j = 0; j < t2; ++j) {
      const bool ok = (t + 1) % 2 + 2 * j < t - 2;
      if (ok && valid != j) suffix = false;
      valid += ok;
    }
    EXPECT_TRUE(suffix) << t;
    EXPECT_EQ(StepAudio2ValidKeys(t), valid) << t;
  }
  EXPECT_EQ(StepAudio2ValidKeys(232), 115);  // the golden clip: the last of 116 frames is padding
  EXPECT_EQ(StepAudio2ValidKeys(233), 116);  // odd: every frame of (233 - 1) / 2 + 1 = 117 but the last
}

TEST(StepAudio2EncoderTest, ConfigFromJson) {
  auto c = StepAudio2EncoderConfig::FromJson(ReadJson(kDir + "tiny/config.json"), "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->n_mels, 128);
  EXPECT_EQ(c->n_audio_state, 64);
  EXPECT_EQ(c->n_audio_head, 4);
  EXPECT_EQ(c->n_audio_layer, 2);
  EXPECT_EQ(c->llm_dim, 64);
  nlohmann::json j = ReadJson(kDir + "tiny/config.json")["audio_encoder_config"];
  j.erase("adapter_stride");
  auto missing = StepAudio2EncoderConfig::FromJson(j, "config.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("audio_encoder_config.adapter_stride: missing"), std::string::npos)
      << missing.status().message();
  j["adapter_stride"] = 2;
  j["n_audio_head"] = 5;
  auto bad = StepAudio2EncoderConfig::FromJson(j, "config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("n_audio_state"), std::string::npos) << bad.status().message();
  j["n_audio_head"] = "4";
  bad = StepAudio2EncoderConfig::FromJson(j, "config.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("audio_encoder_config.n_audio_head"), std::string::npos);
}

// The tolerance: the reference runs the same BF16 weights (widened exactly) in float64; we run
// float32 through 2 blocks, 3 convolutions and the adaptor, each a sum of <= 4 * 64 or 3 * 128
// products, so rounding stays near 1e-6 of the output's scale. 1e-4 leaves room for the GEMM's
// summation order and AVX2's polynomial GELU (1e-7-ish relative) while a wrong mask, pooling or
// scale moves the output by far more (see MutatedMaskIsCaught's note).
constexpr double kTolerance = 1e-4;

TEST(StepAudio2EncoderTest, MatchesFloat64Reference) {
  const Golden& g = LoadGolden();
  Tiny t = LoadTiny();
  ASSERT_NE(t.encoder, nullptr);
  ASSERT_EQ(g.width, t.encoder->config().llm_dim);
  ASSERT_EQ(g.encoder.size(), static_cast<size_t>(g.n_tokens) * g.width);
  WorkerTeam team(2);
  auto out = t.encoder->Encode(g.mel, g.n_frames, &team);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), g.encoder.size());
  const double err = RelMaxError(*out, g.encoder);
  RecordProperty("max_error_of_scale", std::to_string(err));
  EXPECT_LT(err, kTolerance);
  // Single-threaded and the scalar kernels give the same rows.
  auto single = t.encoder->Encode(g.mel, g.n_frames, nullptr);
  ASSERT_TRUE(single.ok());
  EXPECT_LT(RelMaxError(*single, g.encoder), kTolerance);
  Tiny scalar = LoadTiny(Isa::kScalar);
  ASSERT_NE(scalar.encoder, nullptr);
  auto ref = scalar.encoder->Encode(g.mel, g.n_frames, nullptr);
  ASSERT_TRUE(ref.ok());
  EXPECT_LT(RelMaxError(*ref, g.encoder), kTolerance);
}

// The key mask, as a property: on the golden clip (232 frames) encoder frame 115, the last, is
// padding, and mel frame 231 reaches only that frame (conv1 frames 230-231 -> conv2 frame 115).
// Masked, frame 115 is never a key, so rows 0..114 of every block ignore it, pooled rows 0..56
// too, and adaptor tokens 0..27 (token 28's conv window holds pooled row 57 = frames 114-115) must
// not move when mel frame 231 changes. Unmasked, every row attends to it and every token moves.
// Checked by hand that this fails: making StepAudio2ValidKeys return all (T - 1) / 2 + 1 frames
// fails this test (and MatchesFloat64Reference).
TEST(StepAudio2EncoderTest, PaddingFrameIsNotAKey) {
  const Golden& g = LoadGolden();
  ASSERT_EQ(g.n_frames, 232);
  ASSERT_EQ(StepAudio2ValidKeys(g.n_frames), 115);
  Tiny t = LoadTiny();
  ASSERT_NE(t.encoder, nullptr);
  std::vector<float> mel = g.mel;
  for (int m = 0; m < 128; ++m) mel[static_cast<size_t>(m) * g.n_frames + g.n_frames - 1] += 3.0f * std::cos(0.3f * m);
  auto base = t.encoder->Encode(g.mel, g.n_frames, nullptr);
  auto moved = t.encoder->Encode(mel, g.n_frames, nullptr);
  ASSERT_TRUE(base.ok() && moved.ok());
  const int w = g.width;
  double scale = 0, before_last = 0, last = 0;
  for (size_t i = 0; i < base->size(); ++i) {
    scale = std::max(scale, std::abs(static_cast<double>((*base)[i])));
    const double diff = std::abs(static_cast<double>((*base)[i]) - (*moved)[i]);
    double& bucket = static_cast<int>(i) / w < g.n_tokens - 1 ? before_last : last;
    bucket = std::max(bucket, diff);
  }
  EXPECT_LE(before_last, 1e-6 * scale) << "tokens 0..27 moved: the padding frame was attended to";
  EXPECT_GT(last, 1e-3 * scale) << "the last token should see the changed frame through the pooling";
}

TEST(StepAudio2EncoderTest, BadInputsAreRejected) {
  Tiny t = LoadTiny();
  ASSERT_NE(t.encoder, nullptr);
  std::vector<float> mel(128 * 10, 0.0f);
  EXPECT_FALSE(t.encoder->Encode(mel, 11, nullptr).ok());  // size mismatch
  std::vector<float> two(128 * 2, 0.0f);
  EXPECT_FALSE(t.encoder->Encode(two, 2, nullptr).ok());  // no token
  const int too_long = 2 * 1500 + 1;                      // 1501 encoder frames
  std::vector<float> big(static_cast<size_t>(128) * too_long, 0.0f);
  auto r = t.encoder->Encode(big, too_long, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("positional embedding"), std::string::npos) << r.status().message();
  std::vector<float> max_len(static_cast<size_t>(128) * 3000, 0.0f);
  auto ok = t.encoder->Encode(max_len, 3000, nullptr);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), static_cast<size_t>(StepAudio2AudioTokens(3000)) * 64);
}

// Random F32 weights for a small config, written as a 2-shard checkpoint; `drop` is left out and
// `reshape` gets a wrong first dimension.
std::string WriteRandomCheckpoint(const std::string& name, const StepAudio2EncoderConfig& c, const std::string& drop = "",
                                  const std::string& reshape = "", bool bf16 = false, int64_t hidden = 6) {
  const std::string dir = (fs::temp_directory_path() / ("cadence_sa2_" + name)).string();
  fs::remove_all(dir);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<testing::TestTensor> enc, ada;
  auto add = [&](std::vector<testing::TestTensor>* to, const std::string& n, std::vector<int64_t> shape) {
    if (n == drop) return;
    if (n == reshape) shape[0] += 1;
    int64_t elems = 1;
    for (int64_t d : shape) elems *= d;
    testing::TestTensor t{n, shape, std::vector<float>(static_cast<size_t>(elems)), bf16};
    for (float& v : t.values) v = normal(rng) / std::sqrt(static_cast<float>(shape.size() > 1 ? shape[1] : 4));
    to->push_back(std::move(t));
  };
  const int64_t d = c.n_audio_state;
  add(&enc, "encoder.conv1.weight", {d, c.n_mels, 3});
  add(&enc, "encoder.conv1.bias", {d});
  add(&enc, "encoder.conv2.weight", {d, d, 3});
  add(&enc, "encoder.conv2.bias", {d});
  add(&enc, "encoder.positional_embedding.weight", {c.n_audio_ctx, d});
  for (int i = 0; i < c.n_audio_layer; ++i) {
    const std::string p = "encoder.blocks." + std::to_string(i);
    for (const char* m : {".attn.query", ".attn.value", ".attn.out"}) {
      add(&enc, p + m + ".weight", {d, d});
      add(&enc, p + m + ".bias", {d});
    }
    add(&enc, p + ".attn.key.weight", {d, d});
    for (const char* ln : {".attn_ln", ".mlp_ln"}) {
      add(&enc, p + ln + ".weight", {d});
      add(&enc, p + ln + ".bias", {d});
    }
    add(&enc, p + ".mlp.0.weight", {4 * d, d});
    add(&enc, p + ".mlp.0.bias", {4 * d});
    add(&enc, p + ".mlp.2.weight", {d, 4 * d});
    add(&enc, p + ".mlp.2.bias", {d});
  }
  add(&enc, "encoder.after_norm.weight", {d});
  add(&enc, "encoder.after_norm.bias", {d});
  add(&ada, "adapter.conv.weight", {d, d, c.kernel_size});
  add(&ada, "adapter.conv.bias", {d});
  add(&ada, "adapter.linear1.weight", {hidden, d});
  add(&ada, "adapter.linear1.bias", {hidden});
  add(&ada, "adapter.linear2.weight", {c.llm_dim, hidden});
  add(&ada, "adapter.linear2.bias", {c.llm_dim});
  testing::WriteShardedCheckpoint(dir, {{"model-00001-of-00002.safetensors", enc}, {"model-00002-of-00002.safetensors", ada}});
  return dir;
}

StepAudio2EncoderConfig SmallConfig() {
  StepAudio2EncoderConfig c;
  c.n_mels = 4;
  c.n_audio_ctx = 16;
  c.n_audio_state = 8;
  c.n_audio_head = 2;
  c.n_audio_layer = 1;
  c.llm_dim = 4;
  return c;
}

TEST(StepAudio2EncoderTest, RandomF32CheckpointLoadsAndEncodes) {
  const StepAudio2EncoderConfig c = SmallConfig();
  const std::string dir = WriteRandomCheckpoint("ok", c);
  auto w = SafetensorsShards::Open(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto e = StepAudio2Encoder::Load(**w, c);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->adapter_hidden(), 6);
  std::vector<float> mel(4 * 20);
  for (size_t i = 0; i < mel.size(); ++i) mel[i] = std::sin(0.37f * i);
  auto out = (*e)->Encode(mel, 20, nullptr);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), static_cast<size_t>(StepAudio2AudioTokens(20)) * 4);
  for (float v : *out) EXPECT_TRUE(std::isfinite(v));
  fs::remove_all(dir);
}

TEST(StepAudio2EncoderTest, MissingTensorIsNamed) {
  const StepAudio2EncoderConfig c = SmallConfig();
  const std::string dir = WriteRandomCheckpoint("missing", c, "encoder.blocks.0.attn.value.bias");
  auto w = SafetensorsShards::Open(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto e = StepAudio2Encoder::Load(**w, c);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
  EXPECT_NE(e.status().message().find("tensor encoder.blocks.0.attn.value.bias: missing"), std::string::npos)
      << e.status().message();
  fs::remove_all(dir);
}

TEST(StepAudio2EncoderTest, WrongShapeIsNamed) {
  const StepAudio2EncoderConfig c = SmallConfig();
  for (const std::string name : {"adapter.linear2.weight", "encoder.conv2.weight", "encoder.blocks.0.mlp.0.weight"}) {
    const std::string dir = WriteRandomCheckpoint("shape", c, "", name);
    auto w = SafetensorsShards::Open(dir);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    auto e = StepAudio2Encoder::Load(**w, c);
    ASSERT_FALSE(e.ok()) << name;
    EXPECT_NE(e.status().message().find("tensor " + name + ".shape"), std::string::npos) << e.status().message();
    fs::remove_all(dir);
  }
  // The real checkpoint against a config it does not match.
  auto w = SafetensorsShards::Open(kDir + "tiny");
  ASSERT_TRUE(w.ok());
  StepAudio2EncoderConfig wrong = *StepAudio2EncoderConfig::FromJson(ReadJson(kDir + "tiny/config.json"), "config.json");
  wrong.n_audio_state = 32;
  wrong.n_audio_head = 2;
  auto e = StepAudio2Encoder::Load(**w, wrong);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("tensor encoder.conv1.weight.shape: [64, 128, 3], expected [32, 128, 3]"),
            std::string::npos)
      << e.status().message();
}

}  // namespace
}  // namespace cadence::engine
