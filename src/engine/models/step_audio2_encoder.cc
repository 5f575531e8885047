#include "engine/models/step_audio2_encoder.h"
#include "engine/formats/stored_tensor.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "engine/activation.h"
#include "engine/dtype.h"

namespace cadence::engine {
namespace {

// The tensor `name` with exactly `shape` (-1: any size, read by the caller).
Result<const StoredTensor*> Tensor(const SafetensorsShards& f, const std::string& name, std::vector<int64_t> shape) {
  const StoredTensor* t = f.Find(name);
  if (t == nullptr) return Status::NotFound(f.path() + ": tensor " + name + ": missing; not a Step-Audio 2 checkpoint");
  bool ok = t->shape.size() == shape.size();
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = shape[i] < 0 || shape[i] == t->shape[i];
  if (!ok) {
    for (int64_t& d : shape) d = d < 0 ? 0 : d;
    std::string want = ShapeString(shape);
    return Status::InvalidArgument(f.path() + ": tensor " + name + ".shape: " + ShapeString(t->shape) + ", expected " + want +
                                   " from audio_encoder_config");
  }
  if (t->type != DType::kF32 && t->type != DType::kF16 && t->type != DType::kBF16)
    return Status::Unimplemented(f.path() + ": tensor " + name + ": stored type " + std::string(DTypeName(t->type)) +
                                 " (F32, F16, BF16 are supported)");
  return t;
}

std::vector<float> ToF32(const StoredTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.elems()));
  DequantizeRow(t.type, t.data, v.data(), t.elems());
  return v;
}

Result<std::vector<float>> Vector(const SafetensorsShards& f, const std::string& name, int64_t n) {
  CADENCE_ASSIGN_OR_RETURN(const StoredTensor* t, Tensor(f, name, {n}));
  return ToF32(*t);
}

Result<WeightMatrix> Matrix(const SafetensorsShards& f, const std::string& name, int64_t rows, int64_t cols) {
  CADENCE_ASSIGN_OR_RETURN(const StoredTensor* t, Tensor(f, name, {rows, cols}));
  return WeightMatrix{t->type, t->shape[0], t->shape[1], t->data, RowBytes(t->type, t->shape[1])};
}

Result<nn::Conv1d> Conv(const SafetensorsShards& f, const std::string& name, const nn::Conv1dSpec& spec, Isa isa) {
  CADENCE_ASSIGN_OR_RETURN(const StoredTensor* w,
                           Tensor(f, name + ".weight", {spec.out_channels, spec.in_channels, spec.kernel}));
  CADENCE_ASSIGN_OR_RETURN(std::vector<float> b, Vector(f, name + ".bias", spec.out_channels));
  return nn::Conv1d::Create(spec, ToF32(*w), b, isa, f.path() + ": " + name);
}

Result<int> Field(const nlohmann::json& j, const char* key, const std::string& source) {
  if (!j.contains(key)) return Status::InvalidArgument(source + ": audio_encoder_config." + key + ": missing");
  const nlohmann::json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > (int64_t{1} << 24))
    return Status::InvalidArgument(source + ": audio_encoder_config." + key + ": " + v.dump() +
                                   " is not a positive integer");
  return static_cast<int>(v.get<int64_t>());
}

}  // namespace

Result<StepAudio2EncoderConfig> StepAudio2EncoderConfig::FromJson(const nlohmann::json& json, const std::string& source) {
  const nlohmann::json* j = &json;
  if (j->is_object() && j->contains("audio_encoder_config")) j = &(*j)["audio_encoder_config"];
  if (!j->is_object()) return Status::InvalidArgument(source + ": audio_encoder_config: missing or not an object");
  StepAudio2EncoderConfig c;
  CADENCE_ASSIGN_OR_RETURN(c.n_mels, Field(*j, "n_mels", source));
  CADENCE_ASSIGN_OR_RETURN(c.n_audio_ctx, Field(*j, "n_audio_ctx", source));
  CADENCE_ASSIGN_OR_RETURN(c.n_audio_state, Field(*j, "n_audio_state", source));
  CADENCE_ASSIGN_OR_RETURN(c.n_audio_head, Field(*j, "n_audio_head", source));
  CADENCE_ASSIGN_OR_RETURN(c.n_audio_layer, Field(*j, "n_audio_layer", source));
  CADENCE_ASSIGN_OR_RETURN(c.llm_dim, Field(*j, "llm_dim", source));
  CADENCE_ASSIGN_OR_RETURN(c.kernel_size, Field(*j, "kernel_size", source));
  CADENCE_ASSIGN_OR_RETURN(c.adapter_stride, Field(*j, "adapter_stride", source));
  if (c.n_audio_state % c.n_audio_head != 0)
    return Status::InvalidArgument(source + ": audio_encoder_config.n_audio_state: " + std::to_string(c.n_audio_state) +
                                   " is not a multiple of n_audio_head " + std::to_string(c.n_audio_head));
  return c;
}

int StepAudio2AudioTokens(int n_frames) {
  if (n_frames < 3) return 0;
  return ((n_frames - 2 + 1) / 2 / 2 + 2 - 3) / 2 + 1;
}

int StepAudio2ValidKeys(int n_frames) {
  if (n_frames < 1) return 0;
  const int t2 = (n_frames - 1) / 2 + 1, x_len = n_frames - 2;
  int n = 0;
  while (n < t2 && (n_frames + 1) % 2 + 2 * n < x_len) ++n;
  return n;
}

Result<std::unique_ptr<StepAudio2Encoder>> StepAudio2Encoder::Load(const SafetensorsShards& f,
                                                                   const StepAudio2EncoderConfig& c, Isa isa) {
  auto e = std::unique_ptr<StepAudio2Encoder>(new StepAudio2Encoder());
  e->config_ = c;
  e->isa_ = isa;
  const int d = c.n_audio_state;
  CADENCE_ASSIGN_OR_RETURN(e->conv1_, Conv(f, "encoder.conv1", {c.n_mels, d, 3, 1, 1, 1, 1, 1}, isa));
  CADENCE_ASSIGN_OR_RETURN(e->conv2_, Conv(f, "encoder.conv2", {d, d, 3, 2, 1, 1, 1, 1}, isa));
  CADENCE_ASSIGN_OR_RETURN(const StoredTensor* pos,
                           Tensor(f, "encoder.positional_embedding.weight", {c.n_audio_ctx, d}));
  e->positions_ = ToF32(*pos);
  e->blocks_.resize(static_cast<size_t>(c.n_audio_layer));
  for (int i = 0; i < c.n_audio_layer; ++i) {
    const std::string p = "encoder.blocks." + std::to_string(i);
    Block& b = e->blocks_[static_cast<size_t>(i)];
    b.vectors.reserve(11);
    auto vec = [&](const std::string& name, int64_t n, const float** out) -> Status {
      CADENCE_ASSIGN_OR_RETURN(std::vector<float> v, Vector(f, p + name, n));
      b.vectors.push_back(std::move(v));
      *out = b.vectors.back().data();
      return Status::Ok();
    };
    nn::WhisperBlockWeights& w = b.w;
    CADENCE_RETURN_IF_ERROR(vec(".attn_ln.weight", d, &w.attn_ln_weight));
    CADENCE_RETURN_IF_ERROR(vec(".attn_ln.bias", d, &w.attn_ln_bias));
    CADENCE_ASSIGN_OR_RETURN(w.query, Matrix(f, p + ".attn.query.weight", d, d));
    CADENCE_RETURN_IF_ERROR(vec(".attn.query.bias", d, &w.query_bias));
    CADENCE_ASSIGN_OR_RETURN(w.key, Matrix(f, p + ".attn.key.weight", d, d));
    CADENCE_ASSIGN_OR_RETURN(w.value, Matrix(f, p + ".attn.value.weight", d, d));
    CADENCE_RETURN_IF_ERROR(vec(".attn.value.bias", d, &w.value_bias));
    CADENCE_ASSIGN_OR_RETURN(w.out, Matrix(f, p + ".attn.out.weight", d, d));
    CADENCE_RETURN_IF_ERROR(vec(".attn.out.bias", d, &w.out_bias));
    CADENCE_RETURN_IF_ERROR(vec(".mlp_ln.weight", d, &w.mlp_ln_weight));
    CADENCE_RETURN_IF_ERROR(vec(".mlp_ln.bias", d, &w.mlp_ln_bias));
    CADENCE_ASSIGN_OR_RETURN(w.mlp0, Matrix(f, p + ".mlp.0.weight", int64_t{4} * d, d));
    CADENCE_RETURN_IF_ERROR(vec(".mlp.0.bias", int64_t{4} * d, &w.mlp0_bias));
    CADENCE_ASSIGN_OR_RETURN(w.mlp2, Matrix(f, p + ".mlp.2.weight", d, int64_t{4} * d));
    CADENCE_RETURN_IF_ERROR(vec(".mlp.2.bias", d, &w.mlp2_bias));
  }
  CADENCE_ASSIGN_OR_RETURN(e->after_norm_weight_, Vector(f, "encoder.after_norm.weight", d));
  CADENCE_ASSIGN_OR_RETURN(e->after_norm_bias_, Vector(f, "encoder.after_norm.bias", d));
  CADENCE_ASSIGN_OR_RETURN(e->adapter_conv_,
                           Conv(f, "adapter.conv", {d, d, c.kernel_size, c.adapter_stride, 1, 1, 1, 1}, isa));
  // The hidden width (2048 in the published code) is the tensor's.
  CADENCE_ASSIGN_OR_RETURN(const StoredTensor* l1, Tensor(f, "adapter.linear1.weight", {-1, d}));
  if (l1->shape[0] <= 0)
    return Status::InvalidArgument(f.path() + ": tensor adapter.linear1.weight.shape: " + ShapeString(l1->shape) +
                                   ", expected [hidden > 0, " + std::to_string(d) + "]");
  const int64_t hidden = l1->shape[0];
  CADENCE_ASSIGN_OR_RETURN(e->linear1_, Matrix(f, "adapter.linear1.weight", hidden, d));
  CADENCE_ASSIGN_OR_RETURN(e->linear1_bias_, Vector(f, "adapter.linear1.bias", hidden));
  CADENCE_ASSIGN_OR_RETURN(e->linear2_, Matrix(f, "adapter.linear2.weight", c.llm_dim, hidden));
  CADENCE_ASSIGN_OR_RETURN(e->linear2_bias_, Vector(f, "adapter.linear2.bias", c.llm_dim));
  return e;
}

Result<std::vector<float>> StepAudio2Encoder::Encode(std::span<const float> mel, int n_frames, WorkerTeam* team) const {
  const StepAudio2EncoderConfig& c = config_;
  const int d = c.n_audio_state;
  if (n_frames <= 0 || mel.size() != static_cast<size_t>(c.n_mels) * static_cast<size_t>(n_frames))
    return Status::InvalidArgument("Step-Audio 2 encoder: " + std::to_string(mel.size()) + " mel values for " +
                                   std::to_string(n_frames) + " frames of " + std::to_string(c.n_mels) + " bins");
  const int n_tokens = StepAudio2AudioTokens(n_frames);
  if (n_tokens < 1)
    return Status::InvalidArgument("Step-Audio 2 encoder: " + std::to_string(n_frames) +
                                   " mel frames are too few for one audio token");
  const int t2 = (n_frames - 1) / 2 + 1;
  if (t2 > c.n_audio_ctx)
    return Status::InvalidArgument("Step-Audio 2 encoder: " + std::to_string(n_frames) + " mel frames exceed the " +
                                   std::to_string(2 * c.n_audio_ctx) + " the positional embedding covers; split the audio");
  // Keys j with (T + 1) % 2 + 2 j < x_len are real audio, the rest (a suffix) padding.
  const int n_keys = StepAudio2ValidKeys(n_frames);
  if (n_keys < 1)
    return Status::InvalidArgument("Step-Audio 2 encoder: " + std::to_string(n_frames) + " mel frames leave no valid key");

  // Stem: the convs take time-major rows.
  std::vector<float> x0(mel.size());
  for (int m = 0; m < c.n_mels; ++m)
    for (int t = 0; t < n_frames; ++t)
      x0[static_cast<size_t>(t) * c.n_mels + m] = mel[static_cast<size_t>(m) * n_frames + t];
  std::vector<float> x1 = conv1_.Forward(x0, team);
  nn::GeluParallel(x1.data(), static_cast<int64_t>(x1.size()), team, isa_);
  std::vector<float> x = conv2_.Forward(x1, team);
  nn::GeluParallel(x.data(), static_cast<int64_t>(x.size()), team, isa_);
  if (x.size() != static_cast<size_t>(t2) * d)
    return Status::Internal("Step-Audio 2 encoder: conv2 gave " + std::to_string(x.size() / d) + " frames, expected " +
                            std::to_string(t2));
  for (size_t i = 0; i < x.size(); ++i) x[i] += positions_[i];

  nn::WhisperBlockScratch scratch;
  for (const Block& b : blocks_) nn::WhisperBlockForward(b.w, c.n_audio_head, x.data(), t2, n_keys, &scratch, team, isa_);

  // AvgPool1d(2, 2), then after_norm.
  const int t3 = t2 / 2;
  std::vector<float> pooled(static_cast<size_t>(t3) * d);
  for (int t = 0; t < t3; ++t) {
    const float* a = x.data() + static_cast<size_t>(2 * t) * d;
    const float* b = a + d;
    float* y = pooled.data() + static_cast<size_t>(t) * d;
    for (int i = 0; i < d; ++i) y[i] = (a[i] + b[i]) * 0.5f;
  }
  nn::LayerNorm(pooled.data(), t3, d, after_norm_weight_.data(), after_norm_bias_.data(), 1e-5, pooled.data(), team);

  // Adaptor, on the rows the caller takes.
  std::vector<float> a = adapter_conv_.Forward(pooled, team);
  if (a.size() < static_cast<size_t>(n_tokens) * d)
    return Status::Internal("Step-Audio 2 encoder: the adaptor conv gave " + std::to_string(a.size() / d) +
                            " frames for " + std::to_string(n_tokens) + " tokens");
  a.resize(static_cast<size_t>(n_tokens) * d);
  nn::GeluParallel(a.data(), static_cast<int64_t>(a.size()), team, isa_);
  std::vector<float> h(static_cast<size_t>(n_tokens) * linear1_.rows);
  nn::Linear(linear1_, linear1_bias_.data(), a.data(), n_tokens, h.data(), team, isa_);
  for (float& v : h) v = std::max(v, 0.0f);
  std::vector<float> out(static_cast<size_t>(n_tokens) * c.llm_dim);
  nn::Linear(linear2_, linear2_bias_.data(), h.data(), n_tokens, out.data(), team, isa_);
  return out;
}

}  // namespace cadence::engine
