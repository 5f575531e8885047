// Step-Audio 2's audio encoder and adaptor (StepFun, Apache 2.0; AudioEncoder and Adaptor of the
// hub's modeling_step_audio_2.py): log-mel features of one audio piece -> rows of the LLM's
// embedding width, which the caller places in the prompt where the audio goes.
//
//   mel [n_mels][T] (Whisper's log-mel, 16 kHz, hop 160; the caller appends 479 zero samples, so
//   T = (samples + 479) / 160), x_len = T - 2 valid frames
//   -> gelu(conv1) (k3, pad 1) -> gelu(conv2) (k3, stride 2, pad 1): T2 = (T - 1) / 2 + 1 frames
//   -> + positional_embedding[0:T2] (learned; T2 <= n_audio_ctx = 1500, i.e. 30 s)
//   -> n_audio_layer Whisper blocks (engine/nn/whisper_block.h), keys masked: key j counts iff
//      (T + 1) % 2 + 2 j < x_len (a suffix is padding; attending over the valid prefix is exact)
//   -> AvgPool1d(2, 2) over time (T2 / 2 rows) -> after_norm (LayerNorm)
//   -> adaptor: gelu(conv) (kernel_size, stride adapter_stride, pad 1) -> linear2(relu(linear1))
//   -> the first StepAudio2AudioTokens(T) rows, [n][llm_dim] row-major.
//
// Weights come from the checkpoint's safetensors (SafetensorsShards) under `encoder.` and
// `adapter.`. Matrices stay in their stored type (the release's BF16; F16, F32 too) as views into
// the mapped shards, multiplied by f32 activations on the engine's GEMM: the shards object must
// outlive the encoder. The three convolutions are widened to f32 and packed once at Load
// (engine/nn/conv1d.h); biases, norms and positions are widened to f32. Activations are f32.
//
// Encode is const; it spreads its work over the given WorkerTeam (may be null), which runs one loop
// at a time: calls sharing a team must be serialized by its owner. Different teams may run
// Encode on one encoder at once.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "engine/formats/safetensors_shards.h"
#include "engine/kernels.h"
#include "engine/nn/conv1d.h"
#include "engine/nn/whisper_block.h"
#include "engine/parallel.h"

namespace cadence::engine {

// config.json's "audio_encoder_config" (published values in the comments).
struct StepAudio2EncoderConfig {
  int n_mels = 128;
  int n_audio_ctx = 1500;
  int n_audio_state = 1280;
  int n_audio_head = 20;
  int n_audio_layer = 32;
  int llm_dim = 3584;
  int kernel_size = 3;     // the adaptor's conv
  int adapter_stride = 2;  // the adaptor's conv

  // `json` is the audio_encoder_config object, or the whole config.json holding one. Every field is
  // required and positive, n_audio_state a multiple of n_audio_head; errors name `source` and the field.
  static Result<StepAudio2EncoderConfig> FromJson(const nlohmann::json& json, const std::string& source);
};

// Rows of encoder output the LLM takes for T mel frames: ((T - 1) / 2 / 2 - 1) / 2 + 1 (integer
// division; the published code's ((T - 2 + 1) // 2 // 2 + 2 - 3) // 2 + 1). 0 when T < 3.
int StepAudio2AudioTokens(int n_frames);

// Encoder frames (after conv2) the attention's keys cover for T mel frames: key j is valid iff
// (T + 1) % 2 + 2 j < T - 2 (the published mask); the rest of the (T - 1) / 2 + 1 frames are padding.
int StepAudio2ValidKeys(int n_frames);

class StepAudio2Encoder {
 public:
  // Tensors and shapes are checked against `config`; errors name the tensor (and weights.path()).
  static Result<std::unique_ptr<StepAudio2Encoder>> Load(const SafetensorsShards& weights,
                                                         const StepAudio2EncoderConfig& config, Isa isa = BestIsa());

  // mel: [n_mels][n_frames] row-major. Returns [StepAudio2AudioTokens(n_frames)][llm_dim] row-major.
  // InvalidArgument when the size does not match, the piece is too short to give a token, or longer
  // than the positional embedding (2 * n_audio_ctx frames).
  Result<std::vector<float>> Encode(std::span<const float> mel, int n_frames, WorkerTeam* team) const;

  const StepAudio2EncoderConfig& config() const { return config_; }
  // Width of the adaptor's hidden layer (2048 in the release; read from adapter.linear1.weight).
  int adapter_hidden() const { return static_cast<int>(linear1_.rows); }

 private:
  StepAudio2Encoder() = default;

  StepAudio2EncoderConfig config_;
  Isa isa_ = Isa::kScalar;
  nn::Conv1d conv1_, conv2_, adapter_conv_;
  std::vector<float> positions_;  // [n_audio_ctx][n_audio_state]
  struct Block {
    nn::WhisperBlockWeights w;  // views into `vectors` and the shards
    std::vector<std::vector<float>> vectors;
  };
  std::vector<Block> blocks_;
  std::vector<float> after_norm_weight_, after_norm_bias_;
  WeightMatrix linear1_, linear2_;
  std::vector<float> linear1_bias_, linear2_bias_;
};

}  // namespace cadence::engine
