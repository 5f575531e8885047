// Golden tests of Step-Audio 2 token2wav's DiT estimator and CFG Euler solver against the
// independent PyTorch reference (tools/engine/token2wav/flow_dit_reference.py, which also checked
// its goldens bit-exact against the published decoder_dit.py / flow_matching.py): one estimator
// call, a whole CFM solve, the chunked estimator and the streaming decode with trimmed caches.
// Tiny random weights (hidden 32, 2 heads x 16, depth 2, 80 mel bins) in a flow.pt-style state dict.
#include "engine/models/flow_dit.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/formats/torch_checkpoint.h"
#include "engine/models/flow_matching.h"
#include "engine/parallel.h"

namespace cadence::engine {
namespace {

const std::string kDir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/token2wav/";

// Max abs error allowed against the float32 reference (outputs are O(1), |max| 3-6). Measured
// (AVX2 GEMM, 1 thread): estimator 7.9e-6 (chunks 3.5e-6), CFM solve (10 CFG steps) 3.6e-6,
// streaming 2.5e-6; the summation order (our GEMM vs ATen's) is the only difference.
constexpr float kEstimatorTolerance = 3e-5f;
constexpr float kSolveTolerance = 3e-5f;

class Golden {
 public:
  Golden() {
    std::ifstream meta(kDir + "flow_dit_golden.json");
    meta_ = nlohmann::json::parse(meta);
    std::ifstream bin(kDir + "flow_dit_golden.bin", std::ios::binary);
    bin.seekg(0, std::ios::end);
    data_.resize(static_cast<size_t>(bin.tellg()) / sizeof(float));
    bin.seekg(0);
    bin.read(reinterpret_cast<char*>(data_.data()), static_cast<std::streamsize>(data_.size() * sizeof(float)));
  }
  const nlohmann::json& meta() const { return meta_; }
  std::vector<float> Get(const std::string& name) const {
    const auto& entry = meta_.at("arrays").at(name);
    int64_t n = 1;
    for (int64_t d : entry.at("shape")) n *= d;
    const int64_t offset = entry.at("offset");
    return {data_.begin() + offset, data_.begin() + offset + n};
  }
  int64_t Dim(const std::string& name, int axis) const { return meta_.at("arrays").at(name).at("shape").at(axis); }

 private:
  nlohmann::json meta_;
  std::vector<float> data_;
};

const Golden& Goldens() {
  static const Golden golden;
  return golden;
}

DitConfig TinyConfig() {
  const auto& c = Goldens().meta().at("config");
  DitConfig config;
  config.in_channels = c.at("in_channels");
  config.out_channels = c.at("out_channels");
  config.hidden_size = c.at("hidden_size");
  config.depth = c.at("depth");
  config.num_heads = c.at("num_heads");
  config.head_dim = c.at("head_dim");
  config.mlp_ratio = c.at("mlp_ratio");
  config.frequency_embedding_size = c.at("frequency_embedding_size");
  config.conv_kernel = c.at("conv_kernel");
  return config;
}

const TorchCheckpoint& Checkpoint() {
  static const std::unique_ptr<TorchCheckpoint> checkpoint = [] {
    auto opened = TorchCheckpoint::Open(kDir + "flow_dit.pt");
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(opened).value() : nullptr;
  }();
  return *checkpoint;
}

std::unique_ptr<Dit> LoadDit(Isa isa = BestIsa()) {
  auto dit = Dit::Load(Checkpoint(), TinyConfig(), "decoder.estimator.", isa);
  EXPECT_TRUE(dit.ok()) << dit.status().ToString();
  return dit.ok() ? std::move(dit).value() : nullptr;
}

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0.0f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

TEST(FlowDitTest, EstimatorMatchesReference) {
  const Golden& g = Goldens();
  const int batch = static_cast<int>(g.Dim("estimator.x", 0));
  const int64_t frames = g.Dim("estimator.x", 1);
  const auto x = g.Get("estimator.x"), mu = g.Get("estimator.mu"), cond = g.Get("estimator.cond");
  const auto spks = g.Get("estimator.spks"), t = g.Get("estimator.t"), valid = g.Get("estimator.valid_frames");
  const auto expected = g.Get("estimator.out");
  ASSERT_LT(valid[1], static_cast<float>(frames)) << "the golden pads its second sequence";
  WorkerTeam two(2);
  for (Isa isa : {BestIsa(), Isa::kScalar}) {
    for (WorkerTeam* team : {static_cast<WorkerTeam*>(nullptr), &two}) {
      auto dit = LoadDit(isa);
      ASSERT_NE(dit, nullptr);
      std::vector<DitTimestep> ts = {dit->Timestep(t[0], team), dit->Timestep(t[1], team)};
      const DitTimestep* pointers[2] = {&ts[0], &ts[1]};
      const int64_t valid_frames[2] = {static_cast<int64_t>(valid[0]), static_cast<int64_t>(valid[1])};
      DitInputs in{.batch = batch, .frames = frames, .x = x.data(), .mu = mu.data(), .spks = spks.data(),
                   .cond = cond.data(), .timesteps = pointers, .valid_frames = valid_frames};
      std::vector<float> out(expected.size());
      ASSERT_TRUE(dit->Forward(in, out.data(), team).ok());
      const float err = MaxAbsDiff(out, expected);
      EXPECT_LT(err, kEstimatorTolerance) << IsaName(isa) << ", threads " << (team ? team->threads() : 1);
      if (isa == BestIsa() && team == nullptr) std::printf("estimator: max abs error %.3g\n", err);
    }
  }
}

TEST(FlowDitTest, TimeSpanMatchesTorch) {
  const auto expected = Goldens().Get("t_span");
  const std::vector<float> span = CosineTimeSpan(Goldens().meta().at("n_steps"));
  EXPECT_LT(MaxAbsDiff(span, expected), 1e-6f);
  EXPECT_EQ(span.front(), 0.0f);
  EXPECT_NEAR(span.back(), 1.0f, 1e-7f);
}

TEST(FlowDitTest, CfmSolveMatchesReference) {
  const Golden& g = Goldens();
  auto dit = LoadDit();
  ASSERT_NE(dit, nullptr);
  CfmConfig config{.n_timesteps = g.meta().at("n_steps"), .inference_cfg_rate = g.meta().at("cfg_rate")};
  auto cfm = CausalConditionalCfm::Create(dit.get(), config);
  ASSERT_TRUE(cfm.ok()) << cfm.status().ToString();
  const auto mu = g.Get("cfm_full.mu"), noise = g.Get("cfm_full.noise"), cond = g.Get("cfm_full.cond");
  const auto spks = g.Get("cfm_full.spks"), expected = g.Get("cfm_full.out");
  CfmInputs in{.frames = g.Dim("cfm_full.mu", 0), .mu = mu.data(), .spks = spks.data(), .cond = cond.data(),
               .noise = noise.data()};
  WorkerTeam two(2);
  for (WorkerTeam* team : {static_cast<WorkerTeam*>(nullptr), &two}) {
    std::vector<float> mel(expected.size());
    ASSERT_TRUE((*cfm)->Solve(in, mel.data(), team).ok());
    const float err = MaxAbsDiff(mel, expected);
    EXPECT_LT(err, kSolveTolerance);
    if (team == nullptr) std::printf("cfm solve: max abs error %.3g\n", err);
  }
}

TEST(FlowDitTest, ChunkedEstimatorMatchesReference) {
  const Golden& g = Goldens();
  auto dit = LoadDit();
  ASSERT_NE(dit, nullptr);
  const auto spks = g.Get("dit_chunk.spks");
  DitCache cache;
  int64_t seen = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string p = "dit_chunk." + std::to_string(i) + ".";
    const auto x = g.Get(p + "x"), mu = g.Get(p + "mu"), cond = g.Get(p + "cond"), t = g.Get(p + "t");
    const auto expected = g.Get(p + "out");
    const int64_t frames = g.Dim(p + "x", 1);
    std::vector<DitTimestep> ts = {dit->Timestep(t[0], nullptr), dit->Timestep(t[1], nullptr)};
    const DitTimestep* pointers[2] = {&ts[0], &ts[1]};
    DitInputs in{.batch = 2, .frames = frames, .x = x.data(), .mu = mu.data(), .spks = spks.data(),
                 .cond = cond.data(), .timesteps = pointers};
    std::vector<float> out(expected.size());
    ASSERT_TRUE(dit->ForwardChunk(in, &cache, out.data(), nullptr).ok());
    seen += frames;
    EXPECT_EQ(cache.frames(), seen);
    const float err = MaxAbsDiff(out, expected);
    EXPECT_LT(err, kEstimatorTolerance) << "chunk " << i;
    std::printf("estimator chunk %d: max abs error %.3g\n", i, err);
  }
  // A chunk of another batch size does not fit the cache.
  const std::vector<float> one(80, 0.0f);
  const DitTimestep ts = dit->Timestep(0.5f, nullptr);
  const DitTimestep* pointer = &ts;
  DitInputs single{.batch = 1, .frames = 1, .x = one.data(), .mu = one.data(), .timesteps = &pointer};
  std::vector<float> out(80);
  EXPECT_FALSE(dit->ForwardChunk(single, &cache, out.data(), nullptr).ok());
}

TEST(FlowDitTest, StreamingDecodeMatchesReference) {
  const Golden& g = Goldens();
  const auto& s = g.meta().at("cfm_stream");
  auto dit = LoadDit();
  ASSERT_NE(dit, nullptr);
  CfmConfig config{.n_timesteps = g.meta().at("n_steps"), .inference_cfg_rate = g.meta().at("cfg_rate")};
  auto cfm = CausalConditionalCfm::Create(dit.get(), config);
  ASSERT_TRUE(cfm.ok()) << cfm.status().ToString();
  const auto noise = g.Get("cfm_stream.noise_buffer"), spks = g.Get("cfm_stream.spks");
  const int64_t mel_bins = 80;
  WorkerTeam two(2);
  CfmStream stream;
  for (int i = 0; i < 3; ++i) {
    if (i == s.at("trim_before_chunk")) stream.Trim(s.at("trim_first"), s.at("trim_last"));
    const std::string p = "cfm_stream." + std::to_string(i) + ".";
    const auto mu = g.Get(p + "mu"), cond = g.Get(p + "cond"), expected = g.Get(p + "out");
    const int64_t offset = stream.cached_frames();
    EXPECT_EQ(offset, s.at("noise_offsets").at(i).get<int64_t>());
    CfmInputs in{.frames = g.Dim(p + "mu", 0), .mu = mu.data(), .spks = spks.data(), .cond = cond.data(),
                 .noise = noise.data() + offset * mel_bins};
    std::vector<float> mel(expected.size());
    ASSERT_TRUE((*cfm)->SolveChunk(in, &stream, mel.data(), i == 1 ? &two : nullptr).ok());
    const float err = MaxAbsDiff(mel, expected);
    EXPECT_LT(err, kSolveTolerance) << "chunk " << i;
    std::printf("streaming chunk %d: max abs error %.3g\n", i, err);
  }
}

TEST(FlowDitTest, MissingTensorAndWrongShapeAreNamed) {
  DitConfig deeper = TinyConfig();
  deeper.depth += 1;  // the checkpoint has blocks 0 and 1 only
  auto missing = Dit::Load(Checkpoint(), deeper);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("decoder.estimator.blocks.2.attn.to_q.weight"), std::string::npos)
      << missing.status().message();

  DitConfig narrower = TinyConfig();
  narrower.mlp_ratio = 2.0f;  // fc1 is [128, 32] in the file
  auto shaped = Dit::Load(Checkpoint(), narrower);
  ASSERT_FALSE(shaped.ok());
  EXPECT_NE(shaped.status().message().find("decoder.estimator.blocks.0.mlp.fc1.weight"), std::string::npos)
      << shaped.status().message();

  auto prefixed = Dit::Load(Checkpoint(), TinyConfig(), "estimator.");
  ASSERT_FALSE(prefixed.ok());
  EXPECT_NE(prefixed.status().message().find("estimator.t_embedder.mlp.0.weight"), std::string::npos);

  DitConfig bad = TinyConfig();
  bad.in_channels = 240;
  EXPECT_FALSE(Dit::Load(Checkpoint(), bad).ok());
}

}  // namespace
}  // namespace cadence::engine
