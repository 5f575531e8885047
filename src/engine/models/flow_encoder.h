// FlowEncoder: the token encoder of the CosyVoice 2 / Step-Audio 2 token2wav flow
// (CausalMaskedDiffWithXvec's input_embedding -> UpsampleConformerEncoderV2 -> encoder_proj): speech
// tokens (25 per second, ids < vocab_size) in, the flow's conditioning `mu` out, two frames per token
// (50 per second) of mel_dim values, time-major ([frame][mel_dim]).
//
// The network, per call over n new tokens (plus the look-ahead):
//   embedding lookup -> embed (Linear, LayerNorm eps 1e-5, x sqrt(width))
//   -> pre-look-ahead layer (conv1: kernel look_ahead + 1 over the frame and the next look_ahead
//      frames, leaky ReLU 0.01, conv2: kernel 3 over the frame and the two before, + residual)
//   -> num_blocks conformer blocks (pre-norm, eps 1e-12: x + MHA(LN(x)), x + FFN(LN(x)), SiLU FFN;
//      espnet relative-position attention, Transformer-XL biases pos_bias_u / pos_bias_v)
//   -> upsampling (each frame repeated up_stride times, causal conv kernel 2 * up_stride + 1)
//   -> up_embed (as embed) -> num_up_blocks conformer blocks -> after_norm (eps 1e-5)
//   -> encoder_proj (Linear width -> mel_dim).
// Attention inside a call is unmasked (every new frame sees every new frame); across calls a frame
// sees every earlier frame through the stream's key/value caches, as the published forward_chunk.
//
// Streaming contract (FlowEncoderStream; published forward_chunk semantics):
//   - A call that is not the last supplies n + look_ahead tokens (look_ahead = pre_lookahead_len,
//     3): n new tokens and the look_ahead tokens that follow them. It returns up_stride * n frames
//     (for the n new tokens) and the stream advances by n tokens: the next call starts with the
//     token after the n, so consecutive calls overlap by the look_ahead tokens. n >= 1.
//   - The last call (last = true) supplies only the remaining tokens (n >= 0); zero frames stand in
//     for the look-ahead (as at the end of Forward). It returns up_stride * n frames; afterwards the
//     stream is finished.
//   - The look-ahead tokens of a call need not be the tokens the next call starts with (token2wav
//     starts a stream with the voice prompt padded by silence tokens); each call reads what it is
//     given.
//   - Forward(tokens) is one last call on a new stream: the whole utterance at once.
//   - For chunks of n >= 2 new tokens this is the published forward_chunk exactly; after a 1-token
//     chunk the published code fails its cache-shape check, while this keeps the last two conv1
//     outputs of the stream (as a whole-stream convolution sees them).
//   - Position encodings are computed for any distance. The published forward_chunk slices a table
//     built for 5000 positions (100 s of up-sampled frames, cache included) and goes wrong past it,
//     which is why Step-Audio 2's stream bounds the cache (TrimCache); its forward extends the table.
// Per stream the caches grow with the frames consumed: per conformer block keys and values and the
// projected relative positions (3 x frames x width floats; 10 s at the published width: ~23 MB,
// ~34 MB allocated), unless the caller bounds them with TrimCache as Step-Audio 2's stream does.
//
// Threading: a FlowEncoder is immutable after Load; its methods are const and may run from many
// threads at once, each call on its own stream (a stream must not be used by two calls at once).
// `team` (may be null: single-threaded) spreads the GEMMs and the attention heads of a call; a
// WorkerTeam runs one loop at a time, so concurrent calls need a team each (or none).
// Weights are held in f32 (F16 / BF16 tensors converted at load).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/torch_checkpoint.h"
#include "engine/gemm.h"
#include "engine/kernels.h"
#include "engine/nn/conv1d.h"
#include "engine/parallel.h"

namespace cadence::engine {

// The flow.yaml settings of the encoder part; defaults are Step-Audio 2 mini's token2wav (and
// CosyVoice 2's flow). A plain struct: a YAML loader fills it.
struct FlowEncoderConfig {
  int vocab_size = 6561;      // flow.vocab_size: speech token ids
  int input_size = 512;       // flow.input_size = encoder.input_size: token embedding width
  int output_size = 512;      // encoder.output_size: the conformer width
  int mel_dim = 80;           // flow.output_size: encoder_proj's output
  int attention_heads = 8;
  int linear_units = 2048;    // FFN hidden width
  int num_blocks = 6;
  int num_up_blocks = 4;
  int pre_lookahead_len = 3;  // look-ahead tokens
  int up_stride = 2;          // frames per token (up_scale_factor must equal it)
  bool key_bias = true;       // linear_k has a bias

  // What the implementation supports: positive sizes, widths divisible by heads, input_size ==
  // output_size (the published up_embed takes the encoder width as its input), an even width.
  Status Validate() const;
  std::string ToString() const;
};

// One utterance's streaming state: caches of the convolutions and of every conformer block.
class FlowEncoderStream {
 public:
  FlowEncoderStream() = default;
  // Tokens whose frames have been returned so far (frames: up_stride times this; TrimCache does
  // not change it).
  int64_t tokens_done() const { return tokens_done_; }
  bool finished() const { return finished_; }
  // Bytes of cache memory held now.
  size_t CacheBytes() const;

 private:
  friend class FlowEncoder;
  struct Block {
    std::vector<float> keys, values;  // [frame][width], every frame of the stream so far
    std::vector<float> positions;     // [r][width]: linear_pos(position encoding of r), r = 0, 1, ...
  };
  bool started_ = false, finished_ = false;
  int64_t frames1_ = 0, frames2_ = 0;  // frames in the first and the up-sampled stacks' caches
  bool whole_utterance_ = false;  // Forward's: one last call, one scratch cache for every block
  int64_t tokens_done_ = 0;
  std::vector<float> lookahead_cache_;  // [2][width]: conv1 outputs of the two frames before
  std::vector<float> upsample_cache_;   // [2 * up_stride][width]: the upsampled frames before
  std::vector<Block> blocks_;           // num_blocks, then num_up_blocks
};

class FlowEncoder {
 public:
  // Tensors (the names inside token2wav's flow.pt): input_embedding.weight [vocab, input_size],
  // encoder.embed.out.{0,1}.*, encoder.pre_lookahead_layer.conv{1,2}.*, encoder.encoders.N.*,
  // encoder.up_layer.conv.*, encoder.up_embed.out.{0,1}.*, encoder.up_encoders.N.*,
  // encoder.after_norm.*, encoder_proj.{weight,bias}. Other tensors (the decoder's) are ignored.
  // Errors name the checkpoint, the tensor and the expected and found shapes. `isa` is the GEMM's.
  static Result<std::unique_ptr<FlowEncoder>> Load(const TorchCheckpoint& checkpoint, const FlowEncoderConfig& config,
                                                   Isa isa = BestIsa());

  const FlowEncoderConfig& config() const { return config_; }

  // The whole utterance: [up_stride * tokens.size()][mel_dim]. InvalidArgument for an id outside
  // [0, vocab_size) (token2wav clamps negative padding ids to 0 before the embedding; callers
  // pass real ids).
  Result<std::vector<float>> Forward(std::span<const int32_t> tokens, WorkerTeam* team) const;

  // One streaming call (see the contract above): `tokens` are n new tokens plus look_ahead more, or,
  // when `last`, the n remaining tokens. Returns [up_stride * n][mel_dim]. On error (a bad id, too
  // few tokens, a finished stream) the stream is unchanged.
  Result<std::vector<float>> ForwardChunk(FlowEncoderStream* stream, std::span<const int32_t> tokens, bool last,
                                          WorkerTeam* team) const;

  // Step-Audio 2's token2wav stream bounds the attention cache after every chunk (its 2026-01 fix):
  // when the cache's time axis (the up-sampled stack's frames, 50 per second) is longer than
  // head_frames + tail_frames, it keeps the first head_frames (the voice prompt's mel frames) and
  // the last tail_frames (100). This does the same to the stream, in the published layout: the
  // up-sampled stack keeps those frames; the first stack, stored in that axis tiled up_stride times,
  // keeps the first (head_frames + tail_frames) / up_stride entries of the kept axis (so mostly the
  // prompt's frames and the ones after it, not the latest: what the published code does). Relative
  // positions then count only the kept frames. InvalidArgument unless head_frames + tail_frames is
  // a multiple of up_stride.
  Status TrimCache(FlowEncoderStream* stream, int64_t head_frames, int64_t tail_frames) const;

 private:
  struct Linear {
    int in = 0, out = 0;
    PackedMatrix weight;     // [out][in], packed into the GEMM's panels at load
    std::vector<float> bias;  // [out] or empty
  };
  struct Norm {
    std::vector<float> weight, bias;
    float eps = 1e-5f;
  };
  struct Block {
    Norm norm_mha, norm_ff;
    Linear q, k, v, out, pos;  // pos: linear_pos (no bias)
    std::vector<float> pos_bias_u, pos_bias_v;  // [heads][head_dim]
    Linear w1, w2;
  };
  struct Embed {
    Linear linear;
    Norm norm;
  };

  FlowEncoder() = default;
  // Runs `blocks` over x ([n][width], in place) with caches `caches` (one per block, or, with
  // one_cache, caches[0] for all: a whole utterance, past == 0); `past` frames are already cached.
  void RunBlocks(const std::vector<Block>& blocks, FlowEncoderStream::Block* caches, bool one_cache, int64_t past,
                 float* x, int64_t n, WorkerTeam* team) const;
  void RunBlock(const Block& block, FlowEncoderStream::Block* cache, int64_t past, float* x, int64_t n,
                WorkerTeam* team) const;
  // Extends cache->positions to rows r < rows.
  void ProjectPositions(const Block& block, FlowEncoderStream::Block* cache, int64_t rows, WorkerTeam* team) const;
  // The position encoding of relative position r (a key r frames to the left): [output_size].
  void PositionRow(int64_t r, float* out) const;
  // Linear (+ bias) over n rows: y[n][out] = x[n][in] . W^T + b.
  void Apply(const Linear& linear, const float* x, int64_t n, float* y, WorkerTeam* team) const;
  void ApplyEmbed(const Embed& embed, const float* x, int64_t n, float* y, WorkerTeam* team) const;

  FlowEncoderConfig config_;
  Isa isa_ = Isa::kScalar;
  int head_dim_ = 0;
  std::vector<float> embedding_;  // [vocab][input_size]
  Embed embed_, up_embed_;
  nn::Conv1d lookahead_conv1_, lookahead_conv2_, up_conv_;
  std::vector<Block> blocks_, up_blocks_;
  Norm after_norm_;
  Linear proj_;
  std::vector<float> inv_freq_;  // [output_size / 2]: the position encoding's frequencies
};

}  // namespace cadence::engine
