// Dit: the flow-matching estimator of Step-Audio 2's token2wav (CosyVoice 2 flow with a DiT
// decoder, `cosyvoice2/flow/decoder_dit.py`): given the noisy mel x at time t and the conditions,
// the velocity dx/dt of the ODE that CausalConditionalCfm (flow_matching.h) integrates.
//
// Network (published shapes in DitConfig's defaults):
//   input   concat over channels of x, mu (encoder output), spks (speaker vector, repeated over
//           time) and cond (prompt mel; zeros after the prompt): 4 x 80 = in_channels; in_proj to
//           hidden_size.
//   t       t * 1000 into frequency_embedding_size sinusoids (cos half, then sin), Linear, SiLU,
//           Linear: c. Each block's adaLN-zero modulation is Linear(SiLU(c)) = 9 x hidden:
//           shift/scale/gate of attention, MLP, conv (in that order); the final layer's 2 x hidden
//           are shift, scale. They depend on t alone: DitTimestep holds them, computed once per t.
//   block   h += gate_msa  * Attention(LN(h) * (1 + scale_msa)  + shift_msa)
//           h += gate_conv * ConvBlock(LN(h) * (1 + scale_conv) + shift_conv)
//           h += gate_mlp  * MLP(LN(h) * (1 + scale_mlp) + shift_mlp)
//           LN without affine, eps 1e-6. Attention: num_heads x head_dim, q/k/v with biases, a
//           LayerNorm (affine, eps 1e-5) over each head's q and k, softmax(q·kᵀ / √head_dim)·v,
//           proj; no positions and no causal mask. ConvBlock: causal conv (kernel 3), LayerNorm
//           (affine, eps 1e-5), Mish, causal conv. MLP: fc1, tanh-GELU, fc2 (mlp_ratio x hidden).
//   final   Linear(LN(h) * (1 + scale) + shift) to out_channels (80 mel bins).
//
// Two forms, as published:
//   Forward       whole sequences; a key padding mask (valid_frames: frame f of a sequence is a key
//                 iff f < valid_frames) as the published `mask` [B, 1, T] of a padded batch; the
//                 convs start from zeros (they are not masked, as published).
//   ForwardChunk  streaming: a chunk's frames attend to themselves and every frame cached before
//                 (unmasked); each causal conv continues from the last kernel-1 frames of its input
//                 in the cache. The cache (DitCache) is per stream and per Euler step.
//
// Layout: time-major f32, [batch][frames][channels] (row f of a sequence holds frame f's channels:
// the transpose of PyTorch's [B][C][T]; engine/nn's layout). A batch is run as one matrix of
// batch x frames rows, so each weight is read once per call for all sequences (CFG's pair).
//
// Threading: a loaded Dit is immutable; Forward/ForwardChunk are const and may run from many
// threads at once, each with its own caches (a DitCache must not be shared by two calls at once).
// `team` may be null (single-threaded). Scratch is allocated per call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/torch_checkpoint.h"
#include "engine/kernels.h"
#include "engine/nn/conv1d.h"
#include "engine/parallel.h"

namespace cadence::engine {

// The estimator's shape; the defaults are Step-Audio 2 mini token2wav's flow.yaml
// (`decoder.estimator`).
struct DitConfig {
  int in_channels = 320;   // x, mu, spks, cond: 4 x out_channels
  int out_channels = 80;   // mel bins
  int hidden_size = 512;
  int depth = 16;
  int num_heads = 8;
  int head_dim = 64;
  float mlp_ratio = 4.0f;
  int frequency_embedding_size = 256;
  int conv_kernel = 3;

  int inner() const { return num_heads * head_dim; }
  int mlp_hidden() const { return static_cast<int>(static_cast<float>(hidden_size) * mlp_ratio); }
  // Floats of one DitTimestep's modulation: depth x 9 x hidden, then 2 x hidden.
  int64_t modulation_size() const { return (static_cast<int64_t>(depth) * 9 + 2) * hidden_size; }
  Status Validate() const;
  std::string ToString() const;
};

// The conditioning of one timestep t: every block's adaLN modulation, then the final layer's.
struct DitTimestep {
  float t = 0.0f;
  std::vector<float> modulation;  // [depth][9][hidden], then [2][hidden]
};

// One estimator call: `batch` sequences of `frames` frames each (mel = out_channels).
struct DitInputs {
  int batch = 0;
  int64_t frames = 0;
  const float* x = nullptr;     // [batch][frames][mel]
  const float* mu = nullptr;    // [batch][frames][mel]
  const float* spks = nullptr;  // [batch][mel]
  const float* cond = nullptr;  // [batch][frames][mel]
  // [batch]: each sequence's timestep (sequences may share one; CFG's pair does).
  const DitTimestep* const* timesteps = nullptr;
  // [batch] keys per sequence (Forward only); null: every frame.
  const int64_t* valid_frames = nullptr;
};

// A stream's state for ForwardChunk: per block, the last kernel-1 input frames of both causal
// convs and the keys and values of every frame kept. Rows are stored in time order; attention
// (no positions, no mask) does not depend on their order. The published cache is laid out newest
// chunk first (each chunk's frames in time order), and the published driver bounds it by slicing
// that layout, so Trim takes its arguments in that layout and the cache remembers it. A cache is
// bound to the batch size of its first chunk.
class DitCache {
 public:
  int batch() const { return batch_; }
  // Frames whose keys are cached: the attention context of the next chunk. (The published
  // streaming decode takes the next chunk's noise from this offset of its fixed noise buffer.)
  int64_t frames() const { return frames_; }
  // Keeps the first `first` and the last `last` frames of the published layout, as the published
  // decode keeps att_cache[..., :first] and [..., -last:] (Step-Audio 2's token2wav: first = the
  // prompt's mel frames, last = 100, once the cache is longer than their sum). No-op when
  // first + last >= frames().
  void Trim(int64_t first, int64_t last);
  // Bytes held by the keys and values.
  int64_t bytes() const;

 private:
  friend class Dit;
  struct Block {
    std::vector<float> conv1, conv2;               // [batch][kernel - 1][hidden]
    std::vector<std::vector<float>> keys, values;  // [batch] -> [frames][inner], time order
  };
  int batch_ = 0;
  int64_t frames_ = 0;
  std::vector<int64_t> layout_;  // published position -> stored row
  std::vector<Block> blocks_;
};

class Dit {
 public:
  // Reads `prefix` + the published parameter names (t_embedder.mlp.0.weight, in_proj.weight,
  // blocks.<i>.attn.to_q.weight, ..., final_layer.linear.bias) from a flow.pt state dict. Errors
  // name the tensor (a missing one, or the expected and found shapes).
  static Result<std::unique_ptr<Dit>> Load(const TorchCheckpoint& checkpoint, const DitConfig& config,
                                           const std::string& prefix = "decoder.estimator.", Isa isa = BestIsa());

  const DitConfig& config() const { return config_; }

  // The modulation of every block for timestep t (a few mat-vecs over the adaLN weights: a third
  // of the model's bytes, so a solver computes each of its t values once, not per call).
  DitTimestep Timestep(float t, WorkerTeam* team) const;

  // out: [batch][frames][out_channels].
  Status Forward(const DitInputs& in, float* out, WorkerTeam* team) const;
  // The chunked form: `cache` (empty at a stream's start) is read and extended by the chunk.
  Status ForwardChunk(const DitInputs& in, DitCache* cache, float* out, WorkerTeam* team) const;

 private:
  struct Linear {
    int64_t rows = 0, cols = 0;
    std::vector<float> w, b;  // [rows][cols] (PyTorch order), [rows]
  };
  struct Block {
    Linear to_q, to_k, to_v, proj, fc1, fc2, ada;
    std::vector<float> q_norm_w, q_norm_b, k_norm_w, k_norm_b, conv_norm_w, conv_norm_b;
    nn::Conv1d conv1, conv2;
  };

  Dit() = default;
  Status Check(const DitInputs& in) const;
  Status Run(const DitInputs& in, DitCache* cache, float* out, WorkerTeam* team) const;
  void Apply(const Linear& l, const float* a, int64_t m, float* c, WorkerTeam* team) const;

  DitConfig config_;
  Isa isa_ = Isa::kScalar;
  Linear t_fc1_, t_fc2_, in_proj_, final_ada_, final_linear_;
  std::vector<Block> blocks_;
};

}  // namespace cadence::engine
