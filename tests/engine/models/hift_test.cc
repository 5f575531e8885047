// Hift against Cadence's own PyTorch reference (tools/engine/token2wav/hift_reference.py): a tiny
// random hift.pt in the published layout (base_channels 16, everything else as published), in both
// weight-norm forms, and the reference's float32 outputs for one call (f0, source, waveform) and for
// a streamed run with CosyVoice 2's cache (8 mel frames, 8 * 480 source samples). The noise draws
// are the reference's test_normals(seed, n), rebuilt here bit for bit.
#include "engine/models/hift.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/formats/torch_checkpoint.h"

namespace cadence::engine {
namespace {

const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/";

// Max abs errors allowed (the float32 reference against this float32 implementation). Measured:
// f0 5.0e-5 Hz, source 1.3e-5, audio 3.3e-6 on the AVX-512 GEMM (scalar tile: 4.6e-5, 9.0e-6,
// 2.7e-6); a 1% error in one Snake polynomial coefficient gives audio 6e-5. The source's phase is a float sum of up to 480 * frames radians, so a
// last-bit difference there moves a sine by ~1e-4 of the 0.1 amplitude.
constexpr double kF0TolHz = 5e-4;
constexpr double kSourceTol = 2e-5;
constexpr double kAudioTol = 2e-5;

// The reference's test_normals: splitmix64 uniforms, four summed, exact in double.
std::vector<float> TestNormals(uint64_t seed, int64_t count) {
  std::vector<float> out(static_cast<size_t>(count));
  uint64_t i = 1;
  auto uniform = [&]() {
    uint64_t z = seed + (i++) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);
  };
  for (int64_t k = 0; k < count; ++k) {
    const double u0 = uniform(), u1 = uniform(), u2 = uniform(), u3 = uniform();
    out[k] = static_cast<float>((((u0 + u1) + u2) + u3 - 2.0) * 1.7320508075688772);
  }
  return out;
}

struct Golden {
  nlohmann::json meta;
  std::vector<float> data;
  std::vector<float> Array(const std::string& name) const {
    const auto& e = meta.at("arrays").at(name);
    int64_t n = 1;
    for (int64_t d : e.at("shape")) n *= d;
    const int64_t off = e.at("offset");
    return std::vector<float>(data.begin() + off, data.begin() + off + n);
  }
};

const Golden& LoadGolden() {
  static const Golden golden = [] {
    Golden g;
    std::ifstream json(kDir + "hift-tiny.golden.json");
    g.meta = nlohmann::json::parse(json);
    std::ifstream bin(kDir + "hift-tiny.golden.bin", std::ios::binary | std::ios::ate);
    const auto bytes = static_cast<size_t>(bin.tellg());
    g.data.resize(bytes / sizeof(float));
    bin.seekg(0);
    bin.read(reinterpret_cast<char*>(g.data.data()), static_cast<std::streamsize>(bytes));
    return g;
  }();
  return golden;
}

HiftConfig TinyConfig() {
  HiftConfig c;
  const auto& j = LoadGolden().meta.at("config");
  c.base_channels = j.at("base_channels");
  c.f0_cond_channels = j.at("f0_cond_channels");
  return c;
}

std::unique_ptr<Hift> LoadTiny(const std::string& file, const HiftConfig& config = TinyConfig(), Isa isa = BestIsa()) {
  auto ckpt = TorchCheckpoint::Open(kDir + file);
  EXPECT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  if (!ckpt.ok()) return nullptr;
  auto hift = Hift::Load(**ckpt, config, isa);
  EXPECT_TRUE(hift.ok()) << hift.status().ToString();
  return hift.ok() ? std::move(hift).value() : nullptr;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(double{a[i]} - b[i]));
  return m;
}

TEST(HiftTest, ConfigDefaultsArePublished) {
  const HiftConfig c;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.samples_per_frame(), 480);
  EXPECT_EQ(c.base_channels, 512);
  EXPECT_EQ(c.sampling_rate_hz, 24000);
  EXPECT_EQ(c.source_resblock_kernel_sizes, (std::vector<int>{7, 7, 11}));
}

TEST(HiftTest, F0SourceAndAudioMatchReference) {
  const Golden& g = LoadGolden();
  const int64_t frames = g.meta.at("full").at("frames");
  const uint64_t seed = g.meta.at("full").at("seed");
  const auto mel = g.Array("full.mel");
  const auto want_f0 = g.Array("full.f0"), want_source = g.Array("full.source"), want_audio = g.Array("full.audio");
  for (Isa isa : {Isa::kScalar, BestIsa()}) {
    auto hift = LoadTiny("hift-tiny-wg.pt", TinyConfig(), isa);
    ASSERT_NE(hift, nullptr);
    const auto normals = TestNormals(seed, hift->NormalsNeeded(frames));
    for (int threads : {1, 2}) {
      WorkerTeam team(threads);
      const auto f0 = hift->PredictF0(mel.data(), frames, &team);
      EXPECT_LT(MaxAbsDiff(f0, want_f0), kF0TolHz) << IsaName(isa);
      // Each stage from the reference's own input, then the whole call.
      EXPECT_LT(MaxAbsDiff(hift->Source(want_f0, normals), want_source), kSourceTol);
      EXPECT_LT(MaxAbsDiff(hift->Decode(mel.data(), frames, want_source, &team).value(), want_audio), kAudioTol);
      auto out = hift->Inference(mel.data(), frames, {}, normals, &team);
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      EXPECT_LT(MaxAbsDiff(out->source, want_source), kSourceTol);
      EXPECT_LT(MaxAbsDiff(out->audio, want_audio), kAudioTol) << IsaName(isa) << " threads " << threads;
      std::printf("hift tiny vs reference (%s, %d threads): f0 %.3g Hz, source %.3g, audio %.3g max abs\n",
                  std::string(IsaName(isa)).c_str(), threads, MaxAbsDiff(f0, want_f0),
                  MaxAbsDiff(out->source, want_source), MaxAbsDiff(out->audio, want_audio));
    }
  }
}

TEST(HiftTest, BothWeightNormFormsLoadTheSameNetwork) {
  const Golden& g = LoadGolden();
  const int64_t frames = g.meta.at("full").at("frames");
  const auto mel = g.Array("full.mel");
  auto a = LoadTiny("hift-tiny-wg.pt");
  auto b = LoadTiny("hift-tiny-param.pt");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const auto normals = TestNormals(1, a->NormalsNeeded(frames));
  auto out_a = a->Inference(mel.data(), frames, {}, normals, nullptr);
  auto out_b = b->Inference(mel.data(), frames, {}, normals, nullptr);
  ASSERT_TRUE(out_a.ok() && out_b.ok());
  EXPECT_EQ(out_a->audio, out_b->audio);
  EXPECT_LT(MaxAbsDiff(out_b->audio, g.Array("full.audio")), 1.0);  // sanity: same length
}

TEST(HiftTest, StreamedCallsMatchReferenceChunks) {
  const Golden& g = LoadGolden();
  auto hift = LoadTiny("hift-tiny-param.pt");
  ASSERT_NE(hift, nullptr);
  const auto& stream = g.meta.at("stream");
  const int64_t cache_frames = stream.at("cache_frames");
  const int64_t spf = hift->samples_per_frame();
  const auto mel = g.Array("stream.mel");
  WorkerTeam team(2);
  std::vector<float> cache_mel, cache_source;
  int64_t start = 0, k = 0;
  for (const auto& chunk : stream.at("chunks")) {
    const int64_t n = chunk.at("new_frames");
    std::vector<float> mel_k = cache_mel;
    mel_k.insert(mel_k.end(), mel.begin() + start * 80, mel.begin() + (start + n) * 80);
    const int64_t frames = static_cast<int64_t>(mel_k.size()) / 80;
    ASSERT_EQ(frames, int64_t{chunk.at("frames")});
    ASSERT_EQ(static_cast<int64_t>(cache_source.size()), int64_t{chunk.at("cache_samples")});
    const auto normals = TestNormals(chunk.at("seed"), hift->NormalsNeeded(frames));
    auto out = hift->Inference(mel_k.data(), frames, cache_source, normals, &team);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    const std::string name = "stream" + std::to_string(k);
    EXPECT_LT(MaxAbsDiff(out->source, g.Array(name + ".source")), kSourceTol) << name;
    EXPECT_LT(MaxAbsDiff(out->audio, g.Array(name + ".audio")), kAudioTol) << name;
    // The cache replaced the head of this call's source.
    for (size_t i = 0; i < cache_source.size(); ++i) ASSERT_EQ(out->source[i], cache_source[i]);
    cache_mel.assign(mel_k.end() - cache_frames * 80, mel_k.end());
    cache_source.assign(out->source.end() - cache_frames * spf, out->source.end());
    start += n;
    ++k;
  }
  EXPECT_EQ(k, 3);
}

TEST(HiftTest, SeededNoiseIsDeterministicAndBounded) {
  const Golden& g = LoadGolden();
  const int64_t frames = g.meta.at("full").at("frames");
  const auto mel = g.Array("full.mel");
  auto hift = LoadTiny("hift-tiny-wg.pt");
  ASSERT_NE(hift, nullptr);
  std::mt19937_64 r1(42), r2(42), r3(43);
  auto a = hift->Inference(mel.data(), frames, {}, r1, nullptr);
  auto b = hift->Inference(mel.data(), frames, {}, r2, nullptr);
  auto c = hift->Inference(mel.data(), frames, {}, r3, nullptr);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->audio, b->audio);
  EXPECT_NE(a->audio, c->audio);
  ASSERT_EQ(static_cast<int64_t>(a->audio.size()), frames * 480);
  for (float v : a->audio) ASSERT_LE(std::abs(v), 0.99f);
  // The noise is small next to the harmonics: another draw stays close to the reference's audio.
  EXPECT_LT(MaxAbsDiff(a->audio, g.Array("full.audio")), 0.05);
}

TEST(HiftTest, RejectsBadInputs) {
  auto hift = LoadTiny("hift-tiny-wg.pt");
  ASSERT_NE(hift, nullptr);
  const std::vector<float> mel(4 * 80, -4.0f);
  auto few = hift->Inference(mel.data(), 4, {}, std::vector<float>(10), nullptr);
  EXPECT_FALSE(few.ok());
  const std::vector<float> long_cache(4 * 480 + 1);
  auto cache = hift->Inference(mel.data(), 4, long_cache, TestNormals(3, hift->NormalsNeeded(4)), nullptr);
  EXPECT_FALSE(cache.ok());
  auto short_source = hift->Decode(mel.data(), 4, std::vector<float>(3 * 480), nullptr);
  EXPECT_FALSE(short_source.ok());
  // One frame is enough.
  auto one = hift->Inference(mel.data(), 1, {}, TestNormals(4, hift->NormalsNeeded(1)), nullptr);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->audio.size(), 480u);
}

TEST(HiftTest, ErrorsNameTheMissingOrMisShapedTensor) {
  auto ckpt = TorchCheckpoint::Open(kDir + "hift-tiny-wg.pt");
  ASSERT_TRUE(ckpt.ok());
  // A config asking for a fourth dilation: the checkpoint lacks that conv.
  HiftConfig missing = TinyConfig();
  missing.resblock_dilation_sizes[0] = {1, 3, 5, 7};
  auto a = Hift::Load(**ckpt, missing);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  EXPECT_NE(a.status().message().find("resblocks.0.convs1.3.weight_g"), std::string::npos) << a.status().message();
  // Wider F0 convs than stored: the first one is named with both shapes.
  HiftConfig wide = TinyConfig();
  wide.f0_cond_channels = 32;
  auto b = Hift::Load(**ckpt, wide);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("f0_predictor.condnet.0.weight"), std::string::npos) << b.status().message();
  // A different n_fft changes the source convs' input width (a plain, not weight-normed, conv).
  HiftConfig fft = TinyConfig();
  fft.n_fft = 14;
  auto c = Hift::Load(**ckpt, fft);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("source_downs.0.weight"), std::string::npos) << c.status().message();
  // The published shapes against the tiny file.
  auto d = Hift::Load(**ckpt, HiftConfig{});
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("f0_predictor.condnet.0"), std::string::npos) << d.status().message();
}

}  // namespace
}  // namespace cadence::engine
