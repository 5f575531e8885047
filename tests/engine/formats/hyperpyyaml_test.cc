// HyperPyYamlConfig on a config written the way CosyVoice's and Step-Audio 2's flow.yaml are.
#include "engine/formats/hyperpyyaml.h"

#include <gtest/gtest.h>

namespace cadence::engine {
namespace {

constexpr char kFlowYaml[] = R"(# a token2wav flow config in the published dialect
sample_rate: 24000
spk_embed_dim: 192
token_frame_rate: 25
flow: !new:cosyvoice2.flow.flow.CausalMaskedDiffWithXvec
    input_size: 512
    output_size: 80
    spk_embed_dim: !ref <spk_embed_dim>
    vocab_size: 6561
    only_mask_loss: True
    encoder: !new:cosyvoice2.transformer.upsample_encoder_v2.UpsampleConformerEncoderV2
        input_size: 512
        output_size: 512
        attention_heads: 8
        upsample_rates: [8, 5, 3]
    decoder: !new:cosyvoice2.flow.flow_matching.CausalConditionalCFM
        inference_cfg_rate: 0.7
        cfm_params: !new:omegaconf.DictConfig
            content:
                t_scheduler: 'cosine'
                sigma_min: 1e-06
        estimator: !new:cosyvoice2.flow.decoder_dit.DiT
            in_channels: 320
            hidden_size: 512
            depth: 16
rate_twice: !ref <sample_rate> * 2
)";

TEST(HyperPyYamlTest, ReadsNumbersThroughObjectsAndReferences) {
  auto c = HyperPyYamlConfig::Parse(kFlowYaml, "flow.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*c->Class("flow"), "cosyvoice2.flow.flow.CausalMaskedDiffWithXvec");
  EXPECT_EQ(*c->Class("flow.decoder.estimator"), "cosyvoice2.flow.decoder_dit.DiT");
  EXPECT_EQ(*c->Int("flow.decoder.estimator.depth"), 16);
  EXPECT_EQ(*c->Int("flow.spk_embed_dim"), 192);  // through !ref <spk_embed_dim>
  EXPECT_DOUBLE_EQ(*c->Float("flow.decoder.inference_cfg_rate"), 0.7);
  EXPECT_DOUBLE_EQ(*c->Float("flow.decoder.cfm_params.content.sigma_min"), 1e-6);
  EXPECT_EQ(*c->String("flow.decoder.cfm_params.content.t_scheduler"), "cosine");
  EXPECT_TRUE(*c->Bool("flow.only_mask_loss"));
  EXPECT_EQ(*c->Ints("flow.encoder.upsample_rates"), (std::vector<int64_t>{8, 5, 3}));
  EXPECT_EQ(*c->Int("flow.encoder.upsample_rates.2"), 3);
  EXPECT_EQ(*c->IntOr("flow.encoder.num_blocks", 6), 6);
}

TEST(HyperPyYamlTest, ErrorsNameTheKey) {
  auto c = HyperPyYamlConfig::Parse(kFlowYaml, "flow.yaml");
  ASSERT_TRUE(c.ok());
  auto missing = c->Int("flow.decoder.estimator.num_heads");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("flow.yaml: key flow.decoder.estimator.num_heads is missing"),
            std::string::npos)
      << missing.status().message();
  auto wrong = c->Int("flow.decoder.cfm_params.content.t_scheduler");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("expected an integer, found 'cosine'"), std::string::npos);
  auto expr = c->Int("rate_twice");
  ASSERT_FALSE(expr.ok());
  EXPECT_NE(expr.status().message().find("is an expression"), std::string::npos) << expr.status().message();
  EXPECT_FALSE(c->Class("sample_rate").ok());
  EXPECT_FALSE(HyperPyYamlConfig::Parse("a: [1, 2", "bad.yaml").ok());
  EXPECT_FALSE(HyperPyYamlConfig::Parse("- 1\n- 2\n", "list.yaml").ok());
  EXPECT_EQ(HyperPyYamlConfig::Load("/nonexistent/flow.yaml").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace cadence::engine
