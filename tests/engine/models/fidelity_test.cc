// Fidelity: on a tiny random Qwen2 with every matrix in Q8_0 (tests/engine/data/qwen2-odd-q8_0.gguf:
// hidden 64, 2 layers, an FFN of 160 = 5 Q8 blocks, 4 heads over 2 KV heads, q/k/v biases, an untied
// Q8_0 output matrix), Cadence's greedy choices follow the NumPy reference's (tools/engine/
// make_tiny_models.py, activations quantized to int8 per 32 values as Cadence does) token for token
// over 24 steps of three prompts (English, Chinese, code), wherever the reference is decisive: its
// top-two logit margin exceeds what its own float32-sized noise moves the logits (the golden file's
// per-step "spreads", three reruns with every mat-mul output perturbed by 1e-6 relative; 1.5x the
// spread for each of the two logits, as the golden tests allow 1.5x). Teacher-forced along the
// reference's tokens with Sequence::Append (Generate would stop at an end-of-generation token), on
// the decode path (one token per call) and the prompt path (the whole sequence in one call), for the
// scalar ISA, AVX2 and the best one of this CPU.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/models/qwen2_llama.h"

namespace cadence::engine {
namespace {

const std::string kData = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/";
constexpr double kSpreadFactor = 3.0;  // the margin must exceed 2 x 1.5 x the step's spread

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

TokenId Argmax(const float* logits, int n) { return static_cast<TokenId>(std::max_element(logits, logits + n) - logits); }

struct Tally {
  int decisive = 0, decisive_agree = 0, all_agree = 0, steps = 0;
};

// Checks one path's choices (`step_logits(step)`: that step's logits) against the reference.
template <typename StepLogits>
void CheckSteps(const nlohmann::json& c, int n_vocab, const std::string& label, const StepLogits& step_logits,
                Tally* tally) {
  const auto want = c["greedy"].get<std::vector<TokenId>>();
  const auto margins = c["margins"].get<std::vector<double>>();
  const auto spreads = c["spreads"].get<std::vector<double>>();
  for (size_t step = 0; step < want.size(); ++step) {
    const TokenId got = Argmax(step_logits(step), n_vocab);
    const bool decisive = margins[step] > kSpreadFactor * spreads[step];
    ++tally->steps;
    tally->all_agree += got == want[step];
    if (!decisive) continue;
    ++tally->decisive;
    tally->decisive_agree += got == want[step];
    EXPECT_EQ(got, want[step]) << label << " step " << step << ": the reference's margin " << margins[step]
                               << " exceeds " << kSpreadFactor << " x its spread " << spreads[step];
  }
}

TEST(FidelityTest, GreedyFollowsTheInt8ReferenceWhereItIsDecisive) {
  const nlohmann::json golden = ReadJson(kData + "qwen2-odd-q8_0.golden.json");
  const nlohmann::json& cases = golden["fidelity"];
  ASSERT_EQ(cases.size(), 3u);
  std::vector<Isa> isas{Isa::kScalar};
  if (IsaSupported(Isa::kAvx2)) isas.push_back(Isa::kAvx2);
  if (BestIsa() != isas.back()) isas.push_back(BestIsa());
  for (Isa isa : isas) {
    LoadOptions options;
    options.isa = isa;
    options.threads = 2;
    auto model = Model::Load(kData + "qwen2-odd-q8_0.gguf", options);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const int n_vocab = (*model)->config().n_vocab;
    ASSERT_FALSE((*model)->config().tied_embeddings);
    Tally decode, prompt;
    for (const nlohmann::json& c : cases) {
      const auto ids = c["prompt_ids"].get<std::vector<TokenId>>();
      const auto want = c["greedy"].get<std::vector<TokenId>>();
      const std::string label = std::string(IsaName(isa)) + " \"" + c["prompt"].get<std::string>() + "\"";
      EXPECT_EQ((*model)->tokenizer()->Encode(c["prompt"].get<std::string>(), false, false), ids) << label;

      // Decode path: the prompt, then the reference's tokens one at a time.
      Sequence seq(**model, 64);
      std::vector<float> logits;
      ASSERT_TRUE(seq.Append(ids, &logits).ok());
      std::vector<std::vector<float>> per_step;
      for (TokenId t : want) {
        per_step.push_back(logits);
        ASSERT_TRUE(seq.Append({t}, &logits).ok());
      }
      CheckSteps(c, n_vocab, label + " decode", [&](size_t step) { return per_step[step].data(); }, &decode);

      // Prompt path: the whole teacher-forced sequence in one call.
      std::vector<TokenId> full = ids;
      full.insert(full.end(), want.begin(), want.end() - 1);
      Sequence whole(**model, 64);
      std::vector<float> all;
      ASSERT_TRUE(whole.Append(full, nullptr, nullptr, &all).ok());
      CheckSteps(c, n_vocab, label + " prompt",
                 [&](size_t step) { return all.data() + (ids.size() - 1 + step) * static_cast<size_t>(n_vocab); },
                 &prompt);
    }
    for (const auto& [name, t] : {std::pair{"decode", decode}, std::pair{"prompt", prompt}}) {
      // Most steps are decisive; if a regenerated golden made few of them so, the test would be weak.
      EXPECT_GE(t.decisive, t.steps / 2) << name;
      std::printf("[ %s %s ] %d/%d decisive steps agree; %d/%d of all steps\n", std::string(IsaName(isa)).c_str(), name,
                  t.decisive_agree, t.decisive, t.all_agree, t.steps);
    }
  }
}

}  // namespace
}  // namespace cadence::engine
