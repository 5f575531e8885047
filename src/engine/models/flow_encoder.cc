#include "engine/models/flow_encoder.h"
#include "engine/formats/stored_tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/activation.h"
#include "engine/gemm.h"
#include "engine/softmax.h"

namespace cadence::engine {

namespace {

// Query rows per attention job (a head and a block of query frames).
constexpr int64_t kQueryBlock = 64;
constexpr float kLeakySlope = 0.01f;  // F.leaky_relu's default
constexpr float kEmbedNormEps = 1e-5f, kBlockNormEps = 1e-12f, kAfterNormEps = 1e-5f;

// y[t] = LayerNorm(x[t]) for t < n (x and y may alias).
void LayerNormRows(const std::vector<float>& weight, const std::vector<float>& bias, float eps, const float* x,
                   int64_t n, int64_t d, float* y) {
  for (int64_t t = 0; t < n; ++t) {
    const float* xr = x + t * d;
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < d; ++i) mean += xr[i];
    mean /= static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(d);
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    float* yr = y + t * d;
    for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * inv * weight[i] + bias[i];
  }
}

void AddInPlace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

// The columns of head h of a [rows][width] f32 matrix, as GEMM weights (rows x head_dim).
WeightMatrix HeadRows(const float* data, int64_t rows, int64_t width, int64_t head, int64_t head_dim) {
  return WeightMatrix{DType::kF32, rows, head_dim, reinterpret_cast<const uint8_t*>(data + head * head_dim),
                      static_cast<size_t>(width) * sizeof(float)};
}

// Runs fn(i) for i < n on the team, or inline without one.
template <typename Fn>
void ForEach(int64_t n, WorkerTeam* team, const Fn& fn) {
  if (team != nullptr && n > 1) {
    team->ParallelFor(n, fn);
  } else {
    for (int64_t i = 0; i < n; ++i) fn(i);
  }
}

}  // namespace

Status FlowEncoderConfig::Validate() const {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("flow encoder config: " + what + " (" + ToString() + ")");
  };
  if (vocab_size <= 0 || input_size <= 0 || output_size <= 0 || mel_dim <= 0 || attention_heads <= 0 ||
      linear_units <= 0 || num_blocks < 0 || num_up_blocks < 0 || pre_lookahead_len < 0 || up_stride <= 0)
    return bad("sizes must be positive (block counts and pre_lookahead_len may be 0)");
  if (output_size % attention_heads != 0) return bad("output_size must be a multiple of attention_heads");
  if (output_size % 2 != 0) return bad("output_size must be even (sine/cosine position pairs)");
  if (input_size != output_size)
    return bad("input_size must equal output_size: the published up_embed maps input_size to output_size but "
               "receives the encoder's output");
  return Status::Ok();
}

std::string FlowEncoderConfig::ToString() const {
  std::ostringstream s;
  s << "vocab_size=" << vocab_size << " input_size=" << input_size << " output_size=" << output_size
    << " mel_dim=" << mel_dim << " attention_heads=" << attention_heads << " linear_units=" << linear_units
    << " num_blocks=" << num_blocks << " num_up_blocks=" << num_up_blocks << " pre_lookahead_len=" << pre_lookahead_len
    << " up_stride=" << up_stride << " key_bias=" << (key_bias ? "true" : "false");
  return s.str();
}

size_t FlowEncoderStream::CacheBytes() const {
  size_t floats = lookahead_cache_.capacity() + upsample_cache_.capacity();
  for (const Block& b : blocks_) floats += b.keys.capacity() + b.values.capacity() + b.positions.capacity();
  return floats * sizeof(float);
}

Result<std::unique_ptr<FlowEncoder>> FlowEncoder::Load(const TorchCheckpoint& checkpoint,
                                                       const FlowEncoderConfig& config, Isa isa) {
  CADENCE_RETURN_IF_ERROR(config.Validate());
  auto encoder = std::unique_ptr<FlowEncoder>(new FlowEncoder());
  FlowEncoder& e = *encoder;
  e.config_ = config;
  e.isa_ = isa;
  const int64_t c = config.output_size;
  e.head_dim_ = config.output_size / config.attention_heads;

  auto tensor = [&](const std::string& name, const std::vector<int64_t>& shape) -> Result<std::vector<float>> {
    if (checkpoint.Find(name) == nullptr)
      return Status::NotFound(checkpoint.path() + ": tensor " + name + " " + ShapeString(shape) +
                              " is missing: not a token2wav flow checkpoint, or its flow.yaml differs (" +
                              config.ToString() + ")");
    return checkpoint.Floats(name, shape);
  };
  auto linear = [&](const std::string& name, int in, int out, bool bias, Linear* l) -> Status {
    l->in = in;
    l->out = out;
    auto w = tensor(name + ".weight", {out, in});
    if (!w.ok()) return w.status();
    l->weight.PackRows(WeightMatrix{DType::kF32, out, in, reinterpret_cast<const uint8_t*>(w->data()),
                                    static_cast<size_t>(in) * sizeof(float)},
                       nullptr, isa);
    if (bias) {
      auto b = tensor(name + ".bias", {out});
      if (!b.ok()) return b.status();
      l->bias = std::move(*b);
    }
    return Status::Ok();
  };
  auto norm = [&](const std::string& name, float eps, Norm* n) -> Status {
    auto w = tensor(name + ".weight", {c});
    if (!w.ok()) return w.status();
    auto b = tensor(name + ".bias", {c});
    if (!b.ok()) return b.status();
    n->weight = std::move(*w);
    n->bias = std::move(*b);
    n->eps = eps;
    return Status::Ok();
  };
  auto conv = [&](const std::string& name, int kernel, nn::Conv1d* out) -> Status {
    auto w = tensor(name + ".weight", {c, c, kernel});
    if (!w.ok()) return w.status();
    auto b = tensor(name + ".bias", {c});
    if (!b.ok()) return b.status();
    nn::Conv1dSpec spec;
    spec.in_channels = spec.out_channels = static_cast<int>(c);
    spec.kernel = kernel;
    auto created = nn::Conv1d::Create(spec, *w, *b, isa, checkpoint.path() + ": " + name);
    if (!created.ok()) return created.status();
    *out = std::move(*created);
    return Status::Ok();
  };
  auto block = [&](const std::string& p, Block* b) -> Status {
    const int w = config.output_size;
    CADENCE_RETURN_IF_ERROR(norm(p + ".norm_mha", kBlockNormEps, &b->norm_mha));
    CADENCE_RETURN_IF_ERROR(norm(p + ".norm_ff", kBlockNormEps, &b->norm_ff));
    CADENCE_RETURN_IF_ERROR(linear(p + ".self_attn.linear_q", w, w, true, &b->q));
    CADENCE_RETURN_IF_ERROR(linear(p + ".self_attn.linear_k", w, w, config.key_bias, &b->k));
    CADENCE_RETURN_IF_ERROR(linear(p + ".self_attn.linear_v", w, w, true, &b->v));
    CADENCE_RETURN_IF_ERROR(linear(p + ".self_attn.linear_out", w, w, true, &b->out));
    CADENCE_RETURN_IF_ERROR(linear(p + ".self_attn.linear_pos", w, w, false, &b->pos));
    auto u = tensor(p + ".self_attn.pos_bias_u", {config.attention_heads, e.head_dim_});
    if (!u.ok()) return u.status();
    b->pos_bias_u = std::move(*u);
    auto v = tensor(p + ".self_attn.pos_bias_v", {config.attention_heads, e.head_dim_});
    if (!v.ok()) return v.status();
    b->pos_bias_v = std::move(*v);
    CADENCE_RETURN_IF_ERROR(linear(p + ".feed_forward.w_1", w, config.linear_units, true, &b->w1));
    CADENCE_RETURN_IF_ERROR(linear(p + ".feed_forward.w_2", config.linear_units, w, true, &b->w2));
    return Status::Ok();
  };

  auto table = tensor("input_embedding.weight", {config.vocab_size, config.input_size});
  if (!table.ok()) return table.status();
  e.embedding_ = std::move(*table);
  CADENCE_RETURN_IF_ERROR(linear("encoder.embed.out.0", config.input_size, config.output_size, true, &e.embed_.linear));
  CADENCE_RETURN_IF_ERROR(norm("encoder.embed.out.1", kEmbedNormEps, &e.embed_.norm));
  CADENCE_RETURN_IF_ERROR(conv("encoder.pre_lookahead_layer.conv1", config.pre_lookahead_len + 1, &e.lookahead_conv1_));
  CADENCE_RETURN_IF_ERROR(conv("encoder.pre_lookahead_layer.conv2", 3, &e.lookahead_conv2_));
  e.blocks_.resize(static_cast<size_t>(config.num_blocks));
  for (int i = 0; i < config.num_blocks; ++i)
    CADENCE_RETURN_IF_ERROR(block("encoder.encoders." + std::to_string(i), &e.blocks_[static_cast<size_t>(i)]));
  CADENCE_RETURN_IF_ERROR(conv("encoder.up_layer.conv", 2 * config.up_stride + 1, &e.up_conv_));
  CADENCE_RETURN_IF_ERROR(
      linear("encoder.up_embed.out.0", config.input_size, config.output_size, true, &e.up_embed_.linear));
  CADENCE_RETURN_IF_ERROR(norm("encoder.up_embed.out.1", kEmbedNormEps, &e.up_embed_.norm));
  e.up_blocks_.resize(static_cast<size_t>(config.num_up_blocks));
  for (int i = 0; i < config.num_up_blocks; ++i)
    CADENCE_RETURN_IF_ERROR(block("encoder.up_encoders." + std::to_string(i), &e.up_blocks_[static_cast<size_t>(i)]));
  CADENCE_RETURN_IF_ERROR(norm("encoder.after_norm", kAfterNormEps, &e.after_norm_));
  CADENCE_RETURN_IF_ERROR(linear("encoder_proj", config.output_size, config.mel_dim, true, &e.proj_));

  // The sine/cosine frequencies of the position encoding, in float32 as PyTorch computes them.
  const float step = static_cast<float>(-(std::log(10000.0) / c));
  e.inv_freq_.resize(static_cast<size_t>(c / 2));
  for (int64_t i = 0; i < c / 2; ++i) e.inv_freq_[static_cast<size_t>(i)] = std::exp(static_cast<float>(2 * i) * step);
  return encoder;
}

void FlowEncoder::Apply(const Linear& linear, const float* x, int64_t n, float* y, WorkerTeam* team) const {
  // The weights were packed once at load; threads split the rows (each streams every panel).
  const int threads = team != nullptr ? team->threads() : 1;
  const int64_t tiles = (n + kGemmMr - 1) / kGemmMr;
  const int64_t tiles_per_item = std::max<int64_t>(1, (tiles + 2 * threads - 1) / (2 * threads));
  const int64_t items = (tiles + tiles_per_item - 1) / tiles_per_item;
  const float* bias = linear.bias.empty() ? nullptr : linear.bias.data();
  ForEach(items, team, [&](int64_t item) {
    const int64_t r0 = item * tiles_per_item * kGemmMr, r1 = std::min(n, r0 + tiles_per_item * kGemmMr);
    GemmPacked(linear.weight, linear.out, linear.in, x + r0 * linear.in, r1 - r0, linear.in, bias, y + r0 * linear.out,
               linear.out, isa_);
  });
}

void FlowEncoder::ApplyEmbed(const Embed& embed, const float* x, int64_t n, float* y, WorkerTeam* team) const {
  const int64_t c = config_.output_size;
  Apply(embed.linear, x, n, y, team);
  LayerNormRows(embed.norm.weight, embed.norm.bias, embed.norm.eps, y, n, c, y);
  const float scale = std::sqrt(static_cast<float>(c));
  for (int64_t i = 0; i < n * c; ++i) y[i] *= scale;
}

void FlowEncoder::PositionRow(int64_t r, float* out) const {
  // espnet's table: sin / cos of r * frequency, interleaved; r > 0 a key r frames to the left.
  const float rf = static_cast<float>(r);
  for (size_t i = 0; i < inv_freq_.size(); ++i) {
    const float a = rf * inv_freq_[i];
    out[2 * i] = std::sin(a);
    out[2 * i + 1] = std::cos(a);
  }
}

void FlowEncoder::ProjectPositions(const Block& block, FlowEncoderStream::Block* cache, int64_t rows,
                                   WorkerTeam* team) const {
  const int64_t c = config_.output_size;
  const int64_t have = static_cast<int64_t>(cache->positions.size()) / c;
  if (rows <= have) return;
  std::vector<float> pe(static_cast<size_t>((rows - have) * c));
  for (int64_t r = have; r < rows; ++r) PositionRow(r, pe.data() + (r - have) * c);
  cache->positions.resize(static_cast<size_t>(rows * c));
  Apply(block.pos, pe.data(), rows - have, cache->positions.data() + have * c, team);
}

void FlowEncoder::RunBlock(const Block& block, FlowEncoderStream::Block* cache, int64_t past, float* x, int64_t n,
                           WorkerTeam* team) const {
  const int64_t c = config_.output_size, heads = config_.attention_heads, hd = head_dim_;
  const int64_t keys = past + n;
  std::vector<float> xn(static_cast<size_t>(n * c)), q(static_cast<size_t>(n * c)), att(static_cast<size_t>(n * c));

  LayerNormRows(block.norm_mha.weight, block.norm_mha.bias, block.norm_mha.eps, x, n, c, xn.data());
  Apply(block.q, xn.data(), n, q.data(), team);
  cache->keys.resize(static_cast<size_t>(keys * c));
  cache->values.resize(static_cast<size_t>(keys * c));
  Apply(block.k, xn.data(), n, cache->keys.data() + past * c, team);
  Apply(block.v, xn.data(), n, cache->values.data() + past * c, team);

  // Relative positions r = (query frame) - (key frame) run from -(n - 1) (the last new key seen from
  // the first new query) to keys - 1. Rows r >= 0 persist in the stream; the negative ones are this
  // call's: row m of `negative` is r = -(m + 1).
  ProjectPositions(block, cache, keys, team);
  std::vector<float> negative(static_cast<size_t>(std::max<int64_t>(0, n - 1) * c));
  if (n > 1) {
    std::vector<float> pe(negative.size());
    for (int64_t m = 0; m < n - 1; ++m) PositionRow(-(m + 1), pe.data() + m * c);
    Apply(block.pos, pe.data(), n - 1, negative.data(), team);
  }

  // scores(i, j) = ((q_i + u) . k_j + (q_i + v) . p_{r}) / sqrt(head_dim), r = past + i - j: one job
  // per head and block of query rows, each on the calling thread's GEMM.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t query_blocks = (n + kQueryBlock - 1) / kQueryBlock;
  const float* k_data = cache->keys.data();
  const float* v_data = cache->values.data();
  const float* p_data = cache->positions.data();
  ForEach(heads * query_blocks, team, [&](int64_t job) {
    const int64_t h = job / query_blocks, i0 = (job % query_blocks) * kQueryBlock;
    const int64_t rows = std::min(kQueryBlock, n - i0);
    thread_local std::vector<float> qu, qv, ac, bd_pos, bd_neg;
    thread_local PackedMatrix packed_values;
    qu.resize(static_cast<size_t>(rows * hd));
    qv.resize(static_cast<size_t>(rows * hd));
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t d = 0; d < hd; ++d) {
        const float qd = q[static_cast<size_t>((i0 + i) * c + h * hd + d)];
        qu[static_cast<size_t>(i * hd + d)] = qd + block.pos_bias_u[static_cast<size_t>(h * hd + d)];
        qv[static_cast<size_t>(i * hd + d)] = qd + block.pos_bias_v[static_cast<size_t>(h * hd + d)];
      }
    }
    ac.resize(static_cast<size_t>(rows * keys));
    GemmFloat(HeadRows(k_data, keys, c, h, hd), qu.data(), rows, hd, nullptr, ac.data(), keys, nullptr, isa_);
    // This block's r: from i0 - n + 1 to past + i0 + rows - 1.
    const int64_t r_lo = i0 - n + 1, r_hi = past + i0 + rows - 1;
    const int64_t pos_lo = std::max<int64_t>(0, r_lo), pos_count = r_hi - pos_lo + 1;
    const int64_t neg_count = std::max<int64_t>(0, -r_lo);
    bd_pos.resize(static_cast<size_t>(rows * pos_count));
    GemmFloat(HeadRows(p_data + pos_lo * c, pos_count, c, h, hd), qv.data(), rows, hd, nullptr, bd_pos.data(),
              pos_count, nullptr, isa_);
    if (neg_count > 0) {
      bd_neg.resize(static_cast<size_t>(rows * neg_count));
      GemmFloat(HeadRows(negative.data(), neg_count, c, h, hd), qv.data(), rows, hd, nullptr, bd_neg.data(),
                neg_count, nullptr, isa_);
    }
    for (int64_t i = 0; i < rows; ++i) {
      float* s = ac.data() + i * keys;
      const int64_t query = past + i0 + i;
      for (int64_t j = 0; j < keys; ++j) {
        const int64_t r = query - j;
        const float bd = r >= 0 ? bd_pos[static_cast<size_t>(i * pos_count + r - pos_lo)]
                                : bd_neg[static_cast<size_t>(i * neg_count - r - 1)];
        s[j] = (s[j] + bd) * scale;
      }
      Softmax(s, keys, isa_);
    }
    packed_values.PackColumns(v_data + h * hd, hd, keys, c, nullptr);
    GemmPacked(packed_values, hd, keys, ac.data(), rows, keys, nullptr, att.data() + i0 * c + h * hd, c, isa_);
  });

  std::vector<float> y(static_cast<size_t>(n * c));
  Apply(block.out, att.data(), n, y.data(), team);
  AddInPlace(x, y.data(), n * c);

  LayerNormRows(block.norm_ff.weight, block.norm_ff.bias, block.norm_ff.eps, x, n, c, xn.data());
  const int64_t units = config_.linear_units;
  std::vector<float> hidden(static_cast<size_t>(n * units));
  Apply(block.w1, xn.data(), n, hidden.data(), team);
  static thread_local std::vector<float> ones;
  if (static_cast<int64_t>(ones.size()) < units) ones.assign(static_cast<size_t>(units), 1.0f);
  for (int64_t t = 0; t < n; ++t) SiluMul(hidden.data() + t * units, ones.data(), units, isa_);
  Apply(block.w2, hidden.data(), n, y.data(), team);
  AddInPlace(x, y.data(), n * c);
}

void FlowEncoder::RunBlocks(const std::vector<Block>& blocks, FlowEncoderStream::Block* caches, bool one_cache,
                            int64_t past, float* x, int64_t n, WorkerTeam* team) const {
  for (size_t i = 0; i < blocks.size(); ++i) {
    FlowEncoderStream::Block* cache = one_cache ? caches : &caches[i];
    // One call over the whole utterance (past == 0) overwrites the keys and values; the projected
    // positions belong to the previous block's linear_pos.
    if (one_cache) cache->positions.clear();
    RunBlock(blocks[i], cache, past, x, n, team);
  }
}

Result<std::vector<float>> FlowEncoder::Forward(std::span<const int32_t> tokens, WorkerTeam* team) const {
  FlowEncoderStream stream;
  stream.whole_utterance_ = true;
  return ForwardChunk(&stream, tokens, /*last=*/true, team);
}

Result<std::vector<float>> FlowEncoder::ForwardChunk(FlowEncoderStream* stream, std::span<const int32_t> tokens,
                                                     bool last, WorkerTeam* team) const {
  const int64_t c = config_.output_size, in = config_.input_size, look = config_.pre_lookahead_len;
  const int64_t stride = config_.up_stride;
  if (stream == nullptr) return Status::InvalidArgument("flow encoder: no stream");
  if (stream->finished_)
    return Status::FailedPrecondition("flow encoder: the stream has had its last chunk; start a new stream");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size)
      return Status::InvalidArgument("flow encoder: token " + std::to_string(i) + " is " + std::to_string(tokens[i]) +
                                     ", outside the speech vocabulary [0, " + std::to_string(config_.vocab_size) +
                                     ")");
  }
  const int64_t given = static_cast<int64_t>(tokens.size());
  const int64_t n = last ? given : given - look;
  if (!last && n < 1)
    return Status::InvalidArgument("flow encoder: a chunk that is not the last needs its new tokens plus " +
                                   std::to_string(look) + " look-ahead tokens; got " + std::to_string(given));
  if (!stream->started_) {
    stream->started_ = true;
    stream->lookahead_cache_.assign(static_cast<size_t>(2 * c), 0.0f);
    stream->upsample_cache_.assign(static_cast<size_t>(2 * stride * c), 0.0f);
    // A whole-utterance call keeps nothing for later: every block shares one scratch cache.
    stream->blocks_.assign(stream->whole_utterance_ ? 1 : blocks_.size() + up_blocks_.size(),
                           FlowEncoderStream::Block());
  }
  if (n == 0) {
    stream->finished_ = true;
    return std::vector<float>();
  }
  const int64_t past1 = stream->frames1_, past2 = stream->frames2_;

  // Embedding and embed over the given tokens, then zero frames for the look-ahead of a last chunk.
  std::vector<float> embedded(static_cast<size_t>(given * in));
  for (int64_t t = 0; t < given; ++t)
    std::memcpy(embedded.data() + t * in, embedding_.data() + static_cast<int64_t>(tokens[static_cast<size_t>(t)]) * in,
                sizeof(float) * static_cast<size_t>(in));
  const int64_t frames = n + look;
  std::vector<float> xe(static_cast<size_t>(frames * c), 0.0f);
  ApplyEmbed(embed_, embedded.data(), given, xe.data(), team);

  // Pre-look-ahead: conv1 over each frame and the look-ahead after it, leaky ReLU; conv2 over the
  // frame and the two before (the stream's last two conv1 outputs); residual.
  std::vector<float> y1(static_cast<size_t>((2 + n) * c));
  std::memcpy(y1.data(), stream->lookahead_cache_.data(), sizeof(float) * static_cast<size_t>(2 * c));
  lookahead_conv1_.Forward(xe.data(), frames, y1.data() + 2 * c, team);
  for (int64_t i = 2 * c; i < (2 + n) * c; ++i) y1[static_cast<size_t>(i)] = y1[i] > 0 ? y1[i] : kLeakySlope * y1[i];
  std::vector<float> x(static_cast<size_t>(n * c));
  lookahead_conv2_.Forward(y1.data(), 2 + n, x.data(), team);
  AddInPlace(x.data(), xe.data(), n * c);
  std::memcpy(stream->lookahead_cache_.data(), y1.data() + n * c, sizeof(float) * static_cast<size_t>(2 * c));

  const bool one_cache = stream->whole_utterance_;
  RunBlocks(blocks_, stream->blocks_.data(), one_cache, past1, x.data(), n, team);

  // Upsampling: each frame repeated `stride` times after the stream's last 2 * stride repeated
  // frames, then the causal conv.
  const int64_t context = 2 * stride, n2 = stride * n;
  std::vector<float> repeated(static_cast<size_t>((context + n2) * c));
  std::memcpy(repeated.data(), stream->upsample_cache_.data(), sizeof(float) * static_cast<size_t>(context * c));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t s = 0; s < stride; ++s)
      std::memcpy(repeated.data() + (context + t * stride + s) * c, x.data() + t * c, sizeof(float) * static_cast<size_t>(c));
  std::memcpy(stream->upsample_cache_.data(), repeated.data() + n2 * c, sizeof(float) * static_cast<size_t>(context * c));
  std::vector<float> up(static_cast<size_t>(n2 * c));
  up_conv_.Forward(repeated.data(), context + n2, up.data(), team);

  std::vector<float> x2(static_cast<size_t>(n2 * c));
  ApplyEmbed(up_embed_, up.data(), n2, x2.data(), team);
  RunBlocks(up_blocks_, stream->blocks_.data() + (one_cache ? 0 : blocks_.size()), one_cache, past2, x2.data(), n2,
            team);
  LayerNormRows(after_norm_.weight, after_norm_.bias, after_norm_.eps, x2.data(), n2, c, x2.data());

  std::vector<float> mel(static_cast<size_t>(n2 * config_.mel_dim));
  Apply(proj_, x2.data(), n2, mel.data(), team);
  stream->tokens_done_ += n;
  stream->frames1_ += n;
  stream->frames2_ += n2;
  if (last) stream->finished_ = true;
  return mel;
}

Status FlowEncoder::TrimCache(FlowEncoderStream* stream, int64_t head_frames, int64_t tail_frames) const {
  const int64_t c = config_.output_size, stride = config_.up_stride;
  if (stream == nullptr) return Status::InvalidArgument("flow encoder: no stream");
  if (head_frames < 0 || tail_frames < 0 || (head_frames + tail_frames) % stride != 0)
    return Status::InvalidArgument("flow encoder: cache trim to " + std::to_string(head_frames) + " + " +
                                   std::to_string(tail_frames) + " frames: both >= 0, their sum a multiple of " +
                                   std::to_string(stride));
  const int64_t p1 = stream->frames1_, p2 = stream->frames2_, kept = head_frames + tail_frames;
  if (!stream->started_ || p2 <= kept) return Status::Ok();
  // Entry k of the kept time axis is entry `source(k)` of the old one (published layout: the
  // up-sampled stack's frames; the first stack's frames tiled `stride` times).
  auto source = [&](int64_t k) { return k < head_frames ? k : p2 - tail_frames + (k - head_frames); };
  auto keep = [&](std::vector<float>* rows, int64_t count, int64_t modulo) {
    std::vector<float> kept_rows(static_cast<size_t>(count * c));
    for (int64_t k = 0; k < count; ++k)
      std::memcpy(kept_rows.data() + k * c, rows->data() + (source(k) % modulo) * c, sizeof(float) * static_cast<size_t>(c));
    *rows = std::move(kept_rows);
  };
  for (size_t i = 0; i < stream->blocks_.size(); ++i) {
    FlowEncoderStream::Block& b = stream->blocks_[i];
    const bool first_stack = i < blocks_.size();
    // The first stack keeps the first kept / stride entries of its tiled axis (how the published
    // forward_chunk unpacks it).
    const int64_t count = first_stack ? kept / stride : kept, modulo = first_stack ? p1 : p2;
    keep(&b.keys, count, modulo);
    keep(&b.values, count, modulo);
  }
  stream->frames1_ = kept / stride;
  stream->frames2_ = kept;
  return Status::Ok();
}

}  // namespace cadence::engine
