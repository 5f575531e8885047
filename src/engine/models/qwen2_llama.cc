#include "engine/models/qwen2_llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/activation.h"
#include "engine/attention.h"
#include "engine/formats/safetensors_shards.h"

namespace cadence::engine {

namespace {

// Reads tensors from either container with the expected logical shape [rows, cols].
class TensorSource {
 public:
  virtual ~TensorSource() = default;
  virtual Result<WeightMatrix> Matrix(const std::string& name, int64_t rows, int64_t cols) const = 0;
  virtual bool Has(const std::string& name) const = 0;
  Result<std::vector<float>> Vector(const std::string& name, int64_t n) const {
    auto m = Matrix(name, 1, n);
    if (!m.ok()) return m.status();
    std::vector<float> v(static_cast<size_t>(n));
    DequantizeRow(m->type, m->data, v.data(), n);
    return v;
  }
};

class GgufSource : public TensorSource {
 public:
  explicit GgufSource(const GgufFile& f) : f_(f) {}
  bool Has(const std::string& name) const override { return f_.FindTensor(name) != nullptr; }
  Result<WeightMatrix> Matrix(const std::string& name, int64_t rows, int64_t cols) const override {
    const GgufTensor* t = f_.FindTensor(name);
    if (!t) return Status::NotFound(f_.path() + ": tensor " + name + ": missing; the file is not a complete model");
    const bool vector_ok = rows == 1 && t->shape.size() == 1 && t->shape[0] == cols;
    if (!vector_ok && (t->shape.size() != 2 || t->shape[0] != cols || t->shape[1] != rows))
      return Status::InvalidArgument(f_.path() + ": tensor " + name + ".shape: " + ShapeString(t->shape) + ", expected [" +
                                     std::to_string(cols) + ", " + std::to_string(rows) + "] from the metadata");
    return WeightMatrix{t->type, rows, cols, t->data, RowBytes(t->type, cols)};
  }

 private:
  const GgufFile& f_;
};

// A file of StoredTensors (SafetensorsFile, TorchCheckpoint) in PyTorch's [out, in] order;
// `prefix` is prepended to every name (a state dict holding the body under llm.model.model.).
template <typename File>
class StoredTensorSource : public TensorSource {
 public:
  StoredTensorSource(const File& f, std::string prefix) : f_(f), prefix_(std::move(prefix)) {}
  bool Has(const std::string& name) const override { return f_.Find(prefix_ + name) != nullptr; }
  Result<WeightMatrix> Matrix(const std::string& name, int64_t rows, int64_t cols) const override {
    const std::string full = prefix_ + name;
    const StoredTensor* t = f_.Find(full);
    if (!t) return Status::NotFound(f_.path() + ": tensor " + full + ": missing; the file is not a complete model");
    const bool vector_ok = rows == 1 && t->shape.size() == 1 && t->shape[0] == cols;
    if (!vector_ok && (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols))
      return Status::InvalidArgument(f_.path() + ": tensor " + full + ".shape: " + ShapeString(t->shape) + ", expected [" +
                                     std::to_string(rows) + ", " + std::to_string(cols) + "] from config.json");
    return WeightMatrix{t->type, rows, cols, t->data, RowBytes(t->type, cols)};
  }

 private:
  const File& f_;
  std::string prefix_;
};

struct TensorNames {
  std::string embd, output, output_norm;
  std::string attn_norm, q, k, v, o, ffn_norm, gate, up, down, bq, bk, bv;  // with %d for the layer
};

std::string Layer(const std::string& pattern, int i) {
  std::string s = pattern;
  s.replace(s.find("%d"), 2, std::to_string(i));
  return s;
}

Status LoadWeights(const TensorSource& src, const TensorNames& n, const std::string& source, ModelConfig& c,
                   WeightMatrix* embd, WeightMatrix* output, std::vector<float>* output_norm,
                   std::vector<Model::Layer>* layers) {
  const int64_t q_dim = int64_t{c.n_head} * c.head_dim, kv_dim = int64_t{c.n_head_kv} * c.head_dim;
  CADENCE_ASSIGN_OR_RETURN(*embd, src.Matrix(n.embd, c.n_vocab, c.n_embd));
  c.tied_embeddings = !src.Has(n.output);
  if (c.tied_embeddings) {
    *output = *embd;
  } else {
    CADENCE_ASSIGN_OR_RETURN(*output, src.Matrix(n.output, c.n_vocab, c.n_embd));
  }
  CADENCE_ASSIGN_OR_RETURN(*output_norm, src.Vector(n.output_norm, c.n_embd));
  layers->resize(static_cast<size_t>(c.n_layer));
  for (int i = 0; i < c.n_layer; ++i) {
    Model::Layer& l = (*layers)[static_cast<size_t>(i)];
    CADENCE_ASSIGN_OR_RETURN(l.attn_norm, src.Vector(Layer(n.attn_norm, i), c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.ffn_norm, src.Vector(Layer(n.ffn_norm, i), c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.wq, src.Matrix(Layer(n.q, i), q_dim, c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.wk, src.Matrix(Layer(n.k, i), kv_dim, c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.wv, src.Matrix(Layer(n.v, i), kv_dim, c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.wo, src.Matrix(Layer(n.o, i), c.n_embd, q_dim));
    CADENCE_ASSIGN_OR_RETURN(l.w_gate, src.Matrix(Layer(n.gate, i), c.n_ff, c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.w_up, src.Matrix(Layer(n.up, i), c.n_ff, c.n_embd));
    CADENCE_ASSIGN_OR_RETURN(l.w_down, src.Matrix(Layer(n.down, i), c.n_embd, c.n_ff));
    if (src.Has(Layer(n.bq, i))) {
      CADENCE_ASSIGN_OR_RETURN(l.bq, src.Vector(Layer(n.bq, i), q_dim));
      CADENCE_ASSIGN_OR_RETURN(l.bk, src.Vector(Layer(n.bk, i), kv_dim));
      CADENCE_ASSIGN_OR_RETURN(l.bv, src.Vector(Layer(n.bv, i), kv_dim));
    } else if (c.arch == "qwen2") {
      return Status::InvalidArgument(source + ": tensor " + Layer(n.bq, i) + ": missing; Qwen2 models have q/k/v biases");
    }
  }
  return Status::Ok();
}

Result<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open; Hugging Face weights (safetensors, a state dict) need their config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Status ModelConfigFromJson(const nlohmann::json& j, const std::string& source, const std::string& arch,
                           ModelConfig* out) {
  ModelConfig& c = *out;
  if (!j.is_object()) return Status::InvalidArgument(source + ": not a JSON object");
  auto get_int = [&](const char* key, int64_t fallback, bool required) -> Result<int64_t> {
    if (!j.contains(key)) {
      if (required) return Status::InvalidArgument(source + ": field " + key + ": missing");
      return fallback;
    }
    if (!j[key].is_number_integer()) return Status::InvalidArgument(source + ": field " + key + ": not an integer");
    return j[key].get<int64_t>();
  };
  const std::string type = arch.empty() ? j.value("model_type", "") : arch;
  if (type != "qwen2" && type != "llama")
    return Status::Unimplemented(source + ": field model_type: '" + type + "' is not supported (qwen2, llama are)");
  c.arch = type;
  CADENCE_ASSIGN_OR_RETURN(int64_t embd, get_int("hidden_size", 0, true));
  CADENCE_ASSIGN_OR_RETURN(int64_t layers, get_int("num_hidden_layers", 0, true));
  CADENCE_ASSIGN_OR_RETURN(int64_t ff, get_int("intermediate_size", 0, true));
  CADENCE_ASSIGN_OR_RETURN(int64_t heads, get_int("num_attention_heads", 0, true));
  CADENCE_ASSIGN_OR_RETURN(int64_t kv, get_int("num_key_value_heads", heads, false));
  CADENCE_ASSIGN_OR_RETURN(int64_t vocab, get_int("vocab_size", 0, true));
  CADENCE_ASSIGN_OR_RETURN(int64_t hd, get_int("head_dim", heads > 0 ? embd / heads : 0, false));
  CADENCE_ASSIGN_OR_RETURN(int64_t ctx, get_int("max_position_embeddings", 4096, false));
  c.n_embd = static_cast<int>(embd);
  c.n_layer = static_cast<int>(layers);
  c.n_ff = static_cast<int>(ff);
  c.n_head = static_cast<int>(heads);
  c.n_head_kv = static_cast<int>(kv);
  c.n_vocab = static_cast<int>(vocab);
  c.head_dim = static_cast<int>(hd);
  c.context_length = static_cast<int>(ctx);
  c.rope_theta = j.value("rope_theta", 10000.0f);
  c.rms_eps = j.value("rms_norm_eps", 1e-6f);
  c.rope_neox = true;  // Hugging Face checkpoints rotate halves (rotate_half)
  return Status::Ok();
}

namespace {

// Hyperparameters from a Hugging Face config.json (model_type qwen2 or llama).
Status ConfigFromJson(const std::string& config_path, ModelConfig* out) {
  CADENCE_ASSIGN_OR_RETURN(std::string text, ReadText(config_path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument(config_path + ": not a JSON object");
  return ModelConfigFromJson(j, config_path, "", out);
}

// Hugging Face's tensor names of a Qwen2ForCausalLM / LlamaForCausalLM.
TensorNames HfNames() {
  return {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
          "model.layers.%d.input_layernorm.weight", "model.layers.%d.self_attn.q_proj.weight",
          "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight",
          "model.layers.%d.self_attn.o_proj.weight", "model.layers.%d.post_attention_layernorm.weight",
          "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight",
          "model.layers.%d.mlp.down_proj.weight", "model.layers.%d.self_attn.q_proj.bias",
          "model.layers.%d.self_attn.k_proj.bias", "model.layers.%d.self_attn.v_proj.bias"};
}

}  // namespace

Status Model::Validate(const std::string& source) const {
  const ModelConfig& c = config_;
  auto bad = [&](const std::string& field, int64_t v) {
    return Status::InvalidArgument(source + ": " + field + " = " + std::to_string(v) + " is invalid");
  };
  if (c.n_vocab <= 0) return bad("vocab size", c.n_vocab);
  if (c.n_embd <= 0 || c.n_embd % 32) return bad("embedding_length (must be a positive multiple of 32)", c.n_embd);
  if (c.n_layer <= 0 || c.n_layer > 1024) return bad("block_count", c.n_layer);
  if (c.n_head <= 0) return bad("attention.head_count", c.n_head);
  if (c.n_head_kv <= 0 || c.n_head % c.n_head_kv) return bad("attention.head_count_kv (must divide head_count)", c.n_head_kv);
  if (c.head_dim <= 0 || c.head_dim % 2) return bad("head dimension (must be even)", c.head_dim);
  if (c.n_ff <= 0) return bad("feed_forward_length", c.n_ff);
  return Status::Ok();
}

Result<std::unique_ptr<Model>> Model::Load(const std::string& path_in, const LoadOptions& options) {
  auto model = std::unique_ptr<Model>(new Model());
  ModelConfig& c = model->config_;
  std::string path = path_in;
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) path = (fs::path(path) / "model.safetensors").string();
  const bool is_safetensors = path.size() > 12 && path.substr(path.size() - 12) == ".safetensors";

  if (!is_safetensors) {
    auto gguf = GgufFile::Open(path);
    if (!gguf.ok()) return gguf.status();
    model->gguf_ = std::move(gguf).value();
    const GgufFile& g = *model->gguf_;
    CADENCE_ASSIGN_OR_RETURN(c.arch, g.GetString("general.architecture"));
    if (c.arch != "qwen2" && c.arch != "llama")
      return Status::Unimplemented(path + ": metadata.general.architecture: '" + c.arch +
                                   "' is not supported (qwen2, llama are)");
    const std::string a = c.arch + ".";
    CADENCE_ASSIGN_OR_RETURN(int64_t embd, g.GetInt(a + "embedding_length"));
    CADENCE_ASSIGN_OR_RETURN(int64_t layers, g.GetInt(a + "block_count"));
    CADENCE_ASSIGN_OR_RETURN(int64_t ff, g.GetInt(a + "feed_forward_length"));
    CADENCE_ASSIGN_OR_RETURN(int64_t heads, g.GetInt(a + "attention.head_count"));
    c.n_embd = static_cast<int>(embd);
    c.n_layer = static_cast<int>(layers);
    c.n_ff = static_cast<int>(ff);
    c.n_head = static_cast<int>(heads);
    c.n_head_kv = static_cast<int>(g.GetIntOr(a + "attention.head_count_kv", heads));
    c.head_dim = static_cast<int>(g.GetIntOr(a + "attention.key_length", heads > 0 ? embd / heads : 0));
    c.context_length = static_cast<int>(g.GetIntOr(a + "context_length", 4096));
    c.rope_theta = static_cast<float>(g.GetFloatOr(a + "rope.freq_base", 10000.0));
    c.rms_eps = static_cast<float>(g.GetFloatOr(a + "attention.layer_norm_rms_epsilon", 1e-5));
    c.rope_neox = c.arch == "qwen2";
    const GgufTensor* embd_t = g.FindTensor("token_embd.weight");
    if (!embd_t || embd_t->shape.size() != 2)
      return Status::InvalidArgument(path + ": tensor token_embd.weight: missing or not 2-D");
    c.n_vocab = static_cast<int>(embd_t->shape[1]);
    CADENCE_RETURN_IF_ERROR(model->Validate(path));
    TensorNames names{"token_embd.weight", "output.weight", "output_norm.weight",
                      "blk.%d.attn_norm.weight", "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight",
                      "blk.%d.attn_output.weight", "blk.%d.ffn_norm.weight", "blk.%d.ffn_gate.weight",
                      "blk.%d.ffn_up.weight", "blk.%d.ffn_down.weight", "blk.%d.attn_q.bias", "blk.%d.attn_k.bias",
                      "blk.%d.attn_v.bias"};
    CADENCE_RETURN_IF_ERROR(LoadWeights(GgufSource(g), names, path, c, &model->token_embd_, &model->output_,
                                        &model->output_norm_, &model->layers_));
    if (g.Find("tokenizer.ggml.tokens")) {
      auto tok = Tokenizer::FromGguf(g);
      if (!tok.ok()) return tok.status();
      model->tokenizer_ = std::move(tok).value();
    }
  } else {
    const std::string config_path = (fs::path(path).parent_path() / "config.json").string();
    CADENCE_RETURN_IF_ERROR(ConfigFromJson(config_path, &c));
    CADENCE_RETURN_IF_ERROR(model->Validate(config_path));
    auto st = SafetensorsFile::Open(path);
    if (!st.ok()) return st.status();
    model->safetensors_ = std::move(st).value();
    CADENCE_RETURN_IF_ERROR(LoadWeights(StoredTensorSource<SafetensorsFile>(*model->safetensors_, ""), HfNames(), path, c,
                                        &model->token_embd_, &model->output_, &model->output_norm_, &model->layers_));
  }
  model->isa_ = options.isa;
  model->team_ = std::make_unique<WorkerTeam>(options.threads > 0 ? options.threads : DefaultThreads());
  if (options.quantize_q8_0) model->QuantizeLayersQ8_0();
  model->RepackWeights();
  return model;
}

Result<std::unique_ptr<Model>> Model::FromTorch(std::shared_ptr<const TorchCheckpoint> checkpoint,
                                                const std::string& prefix, const std::string& config_json,
                                                const LoadOptions& options) {
  if (!checkpoint) return Status::InvalidArgument("Model::FromTorch: no checkpoint");
  auto model = std::unique_ptr<Model>(new Model());
  ModelConfig& c = model->config_;
  CADENCE_RETURN_IF_ERROR(ConfigFromJson(config_json, &c));
  CADENCE_RETURN_IF_ERROR(model->Validate(config_json));
  model->torch_ = std::move(checkpoint);
  CADENCE_RETURN_IF_ERROR(LoadWeights(StoredTensorSource<TorchCheckpoint>(*model->torch_, prefix), HfNames(), model->torch_->path(), c,
                                      &model->token_embd_, &model->output_, &model->output_norm_, &model->layers_));
  model->isa_ = options.isa;
  model->team_ = std::make_unique<WorkerTeam>(options.threads > 0 ? options.threads : DefaultThreads());
  if (options.quantize_q8_0) model->QuantizeLayersQ8_0();
  model->RepackWeights();
  return model;
}

Result<std::unique_ptr<Model>> Model::FromShards(std::shared_ptr<const SafetensorsShards> weights, ModelConfig config,
                                                const LoadOptions& options) {
  if (!weights) return Status::InvalidArgument("Model::FromShards: no weights");
  auto model = std::unique_ptr<Model>(new Model());
  model->config_ = std::move(config);
  CADENCE_RETURN_IF_ERROR(model->Validate(weights->path()));
  model->shards_ = std::move(weights);
  CADENCE_RETURN_IF_ERROR(LoadWeights(StoredTensorSource<SafetensorsShards>(*model->shards_, ""), HfNames(),
                                      model->shards_->path(), model->config_, &model->token_embd_, &model->output_,
                                      &model->output_norm_, &model->layers_));
  model->isa_ = options.isa;
  model->team_ = std::make_unique<WorkerTeam>(options.threads > 0 ? options.threads : DefaultThreads());
  if (options.quantize_q8_0) model->QuantizeLayersQ8_0();
  model->RepackWeights();
  return model;
}

Result<TokenId> Model::AppendInputRows(const WeightMatrix& rows) {
  if (rows.cols != config_.n_embd || rows.rows <= 0 || !rows.data)
    return Status::InvalidArgument("Model::AppendInputRows: " + std::to_string(rows.rows) + " rows of " +
                                   std::to_string(rows.cols) + " columns; the model's embedding has " +
                                   std::to_string(config_.n_embd));
  const TokenId first = config_.n_vocab;
  extra_embd_.push_back(rows);
  config_.n_vocab += static_cast<int>(rows.rows);
  return first;
}

Status Model::SetOutput(const WeightMatrix& output, std::vector<float> bias) {
  if (output.cols != config_.n_embd || output.rows <= 0 || !output.data)
    return Status::InvalidArgument("Model::SetOutput: the output matrix has " + std::to_string(output.cols) +
                                   " columns; the model's embedding has " + std::to_string(config_.n_embd));
  if (!bias.empty() && static_cast<int64_t>(bias.size()) != output.rows)
    return Status::InvalidArgument("Model::SetOutput: bias of " + std::to_string(bias.size()) + " values for " +
                                   std::to_string(output.rows) + " output rows");
  output_ = output;
  output_bias_ = std::move(bias);
  config_.tied_embeddings = false;
  return Status::Ok();
}

std::unique_ptr<Model> Model::FromParts(ModelConfig config, WeightMatrix token_embd, WeightMatrix output,
                                        std::vector<float> output_norm, std::vector<Layer> layers,
                                        std::vector<std::vector<uint8_t>> storage, const LoadOptions& options) {
  auto model = std::unique_ptr<Model>(new Model());
  model->config_ = std::move(config);
  model->token_embd_ = token_embd;
  model->output_ = output;
  model->output_norm_ = std::move(output_norm);
  model->layers_ = std::move(layers);
  model->storage_ = std::move(storage);
  model->isa_ = options.isa;
  model->team_ = std::make_unique<WorkerTeam>(options.threads > 0 ? options.threads : DefaultThreads());
  if (options.quantize_q8_0) model->QuantizeLayersQ8_0();
  model->RepackWeights();
  return model;
}

void Model::QuantizeLayersQ8_0() {
  for (Layer& l : layers_) {
    for (WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      if ((m->type != DType::kF32 && m->type != DType::kF16 && m->type != DType::kBF16) || m->cols % 32 != 0) continue;
      const size_t row_bytes = RowBytes(DType::kQ8_0, m->cols);
      uint8_t* dst = storage_.emplace_back(static_cast<size_t>(m->rows) * row_bytes).data();
      const WeightMatrix src = *m;
      team_->ParallelFor((src.rows + 63) / 64, [&](int64_t chunk) {
        std::vector<float> row(static_cast<size_t>(src.cols));
        for (int64_t r = chunk * 64; r < std::min(src.rows, (chunk + 1) * 64); ++r) {
          DequantizeRow(src.type, src.data + static_cast<size_t>(r) * src.row_bytes, row.data(), src.cols);
          QuantizeRowQ8_0(row.data(), dst + static_cast<size_t>(r) * row_bytes, src.cols);
        }
      });
      *m = WeightMatrix{DType::kQ8_0, src.rows, src.cols, dst, row_bytes};
    }
  }
}

void Model::RepackWeights() {
  if (isa_ == Isa::kScalar) return;  // the scalar kernels gain nothing from the layout
  std::vector<WeightMatrix*> matrices{&token_embd_, &output_};
  for (Layer& l : layers_)
    for (WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) matrices.push_back(m);
  std::map<const uint8_t*, const uint8_t*> repacked;  // a matrix's Q5_0 bytes -> its Q5_0R bytes
  for (WeightMatrix* m : matrices) {
    if (m->type != DType::kQ5_0) continue;
    auto done = repacked.find(m->data);  // tied embeddings: one matrix in two roles
    if (done == repacked.end()) {
      const size_t bytes = static_cast<size_t>(m->rows) * m->row_bytes;
      uint8_t* dst = nullptr;
      const auto at = reinterpret_cast<uintptr_t>(m->data);
      for (std::vector<uint8_t>& s : storage_) {
        const auto begin = reinterpret_cast<uintptr_t>(s.data());
        if (at >= begin && at + bytes <= begin + s.size()) dst = s.data() + (at - begin);
      }
      const bool in_place = dst != nullptr;
      if (!in_place) dst = storage_.emplace_back(bytes).data();
      const int64_t blocks = m->cols / 32, rows_per_chunk = 64;
      team_->ParallelFor((m->rows + rows_per_chunk - 1) / rows_per_chunk, [&](int64_t chunk) {
        std::vector<uint8_t> row(m->row_bytes);
        for (int64_t r = chunk * rows_per_chunk; r < std::min(m->rows, (chunk + 1) * rows_per_chunk); ++r) {
          const size_t at = static_cast<size_t>(r) * m->row_bytes;
          std::memcpy(row.data(), m->data + at, m->row_bytes);
          RepackQ5_0Row(row.data(), dst + at, blocks);
        }
      });
      if (!in_place && gguf_) gguf_->Release(m->data, bytes);
      done = repacked.emplace(m->data, dst).first;
    }
    m->data = done->second;
    m->type = DType::kQ5_0R;
  }
}

size_t Model::WeightBytes() const {
  size_t total = static_cast<size_t>(output_.rows) * output_.row_bytes;
  for (const Layer& l : layers_)
    for (const WeightMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      total += static_cast<size_t>(m->rows) * m->row_bytes;
  return total;
}

size_t Model::DecodeBytes(int context_tokens) const {
  const ModelConfig& c = config_;
  size_t small = output_norm_.size();
  for (const Layer& l : layers_) small += l.attn_norm.size() + l.ffn_norm.size() + l.bq.size() + l.bk.size() + l.bv.size();
  const size_t kv = size_t{2} * static_cast<size_t>(c.n_layer) * static_cast<size_t>(std::max(context_tokens, 0)) *
                    static_cast<size_t>(c.n_head_kv) * static_cast<size_t>(c.head_dim) * sizeof(float);
  return WeightBytes() + token_embd_.row_bytes + small * sizeof(float) + kv;
}

Sequence::Sequence(const Model& model, int max_tokens) : model_(model) {
  const ModelConfig& c = model.config();
  capacity_ = max_tokens > 0 ? max_tokens : std::min(c.context_length > 0 ? c.context_length : 4096, 8192);
  kv_dim_ = static_cast<size_t>(c.n_head_kv) * c.head_dim;
}

void Sequence::Reserve(int tokens) {
  if (tokens <= reserved_) return;
  const int n_layer = model_.config().n_layer;
  const int grown = std::min(capacity_, std::max({tokens, 2 * reserved_, 64}));
  const size_t old_stride = static_cast<size_t>(reserved_) * kv_dim_, new_stride = static_cast<size_t>(grown) * kv_dim_;
  for (std::vector<float>* cache : {&k_cache_, &v_cache_}) {
    std::vector<float> next(new_stride * n_layer);
    const size_t used = static_cast<size_t>(size()) * kv_dim_;
    for (int li = 0; li < n_layer && used > 0; ++li)
      std::copy_n(cache->data() + li * old_stride, used, next.data() + li * new_stride);
    cache->swap(next);
  }
  reserved_ = grown;
}

void Sequence::Truncate(int n) {
  if (n < size()) tokens_.resize(static_cast<size_t>(std::max(n, 0)));
}

void Sequence::CopyPrefix(const Sequence& other, int n) {
  n = std::clamp(n, 0, std::min(other.size(), capacity_));
  tokens_.clear();  // nothing of ours to keep when growing
  Reserve(n);
  tokens_.assign(other.tokens_.begin(), other.tokens_.begin() + n);
  const size_t used = static_cast<size_t>(n) * kv_dim_;
  for (int li = 0; li < model_.config().n_layer && used > 0; ++li) {
    std::copy_n(other.k_cache_.data() + static_cast<size_t>(li) * other.reserved_ * kv_dim_, used, LayerKeys(li));
    std::copy_n(other.v_cache_.data() + static_cast<size_t>(li) * other.reserved_ * kv_dim_, used, LayerValues(li));
  }
}

Status Sequence::Check(const std::vector<TokenId>& tokens, bool check_ids) const {
  if (size() + static_cast<int>(tokens.size()) > capacity_)
    return Status::OutOfRange("sequence: " + std::to_string(size() + tokens.size()) + " tokens exceed the KV cache of " +
                              std::to_string(capacity_) + "; shorten the history or raise the context");
  if (!check_ids) return Status::Ok();
  for (TokenId t : tokens)
    if (t < 0 || t >= model_.config().n_vocab)
      return Status::InvalidArgument("sequence: token id " + std::to_string(t) + " is outside the vocabulary (" +
                                     std::to_string(model_.config().n_vocab) + ")");
  return Status::Ok();
}

Status Sequence::Append(const std::vector<TokenId>& tokens, std::vector<float>* logits, const CancelToken* cancel,
                        std::vector<float>* all_logits) {
  if (tokens.empty()) return Status::Ok();
  BatchEntry entry{this, tokens, logits, all_logits};
  return ForwardBatch(std::span<BatchEntry>(&entry, 1), cancel);
}

Status Sequence::AppendEmbeddings(const std::vector<TokenId>& ids, std::span<const float> embeddings,
                                  std::vector<float>* logits, const CancelToken* cancel) {
  if (ids.empty()) return Status::Ok();
  BatchEntry entry{this, ids, logits, nullptr, embeddings};
  return ForwardBatch(std::span<BatchEntry>(&entry, 1), cancel);
}

Result<int> Sequence::Prefill(const std::vector<TokenId>& prompt, std::vector<float>* logits, const CancelToken* cancel) {
  size_t common = 0;
  while (common < tokens_.size() && common < prompt.size() && tokens_[common] == prompt[common]) ++common;
  // Re-evaluate at least the last prompt token so the logits are fresh.
  if (common == prompt.size() && common > 0) --common;
  Truncate(static_cast<int>(common));
  std::vector<TokenId> rest(prompt.begin() + static_cast<std::ptrdiff_t>(common), prompt.end());
  CADENCE_RETURN_IF_ERROR(Append(rest, logits, cancel));
  return static_cast<int>(common);
}

namespace {

void RmsNorm(const float* x, const float* w, float* out, int n, float eps) {
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / n + eps));
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// cos/sin of every rotation angle of one position (head_dim / 2 each), shared by all layers and
// heads: the transcendental functions run once per token instead of once per layer.
void RopeTable(int pos, int head_dim, float theta, float* cos_out, float* sin_out) {
  for (int i = 0; i < head_dim / 2; ++i) {
    const double angle = pos * std::pow(static_cast<double>(theta), -2.0 * i / head_dim);
    cos_out[i] = static_cast<float>(std::cos(angle));
    sin_out[i] = static_cast<float>(std::sin(angle));
  }
}

void Rope(float* v, int n_heads, int head_dim, const float* cos_t, const float* sin_t, bool neox) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* p = v + h * head_dim;
    for (int i = 0; i < half; ++i) {
      const int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
      const float x0 = p[a], x1 = p[b];
      p[a] = x0 * cos_t[i] - x1 * sin_t[i];
      p[b] = x0 * sin_t[i] + x1 * cos_t[i];
    }
  }
}

}  // namespace

Status ForwardBatch(std::span<BatchEntry> entries, const CancelToken* cancel) {
  if (entries.empty()) return Status::Ok();
  const Model& model = entries[0].sequence->model();
  for (const BatchEntry& e : entries) {
    if (&e.sequence->model() != &model) return Status::InvalidArgument("forward batch: sequences of different models");
    if (e.all_logits && entries.size() > 1) return Status::InvalidArgument("forward batch: all_logits needs one entry");
    if (e.tokens.empty()) return Status::InvalidArgument("forward batch: an entry has no tokens");
    if (!e.embeddings.empty() &&
        e.embeddings.size() != e.tokens.size() * static_cast<size_t>(model.config().n_embd))
      return Status::InvalidArgument("forward batch: " + std::to_string(e.embeddings.size()) +
                                     " embedding values for " + std::to_string(e.tokens.size()) + " rows of " +
                                     std::to_string(model.config().n_embd));
    CADENCE_RETURN_IF_ERROR(e.sequence->Check(e.tokens, e.embeddings.empty()));
    for (const BatchEntry& other : entries)
      if (&other != &e && other.sequence == e.sequence)
        return Status::InvalidArgument("forward batch: one sequence appears twice");
  }
  std::lock_guard<std::mutex> lock(model.forward_mu_);
  const ModelConfig& c = model.config();
  // Row r of the activations is token `row_token[r]` of entry `row_entry[r]`, at position `row_pos[r]`.
  std::vector<TokenId> row_token;
  std::vector<int> row_pos, entry_row;
  for (BatchEntry& e : entries) {
    entry_row.push_back(static_cast<int>(row_token.size()));
    e.sequence->Reserve(e.sequence->size() + static_cast<int>(e.tokens.size()));
    for (size_t i = 0; i < e.tokens.size(); ++i) {
      row_token.push_back(e.tokens[i]);
      row_pos.push_back(e.sequence->size() + static_cast<int>(i));
    }
  }
  const int T = static_cast<int>(row_token.size());
  const int E = c.n_embd, hd = c.head_dim, q_dim = c.n_head * hd, kv_dim = c.n_head_kv * hd, F = c.n_ff;
  WorkerTeam* team = model.team_.get();
  const Isa isa = model.isa_;
  MatMulScratch* scratch = &model.scratch_;
  std::vector<float> x(static_cast<size_t>(T) * E), xn(x.size()), q(static_cast<size_t>(T) * q_dim),
      k(static_cast<size_t>(T) * kv_dim), v(k.size()), attn(q.size()), proj(x.size()),
      gate(static_cast<size_t>(T) * F), up(gate.size());
  const int half_dim = hd / 2;
  std::vector<float> rope_cos(static_cast<size_t>(T) * half_dim), rope_sin(rope_cos.size());
  for (int t = 0; t < T; ++t)
    RopeTable(row_pos[t], hd, c.rope_theta, rope_cos.data() + t * half_dim, rope_sin.data() + t * half_dim);
  std::vector<const float*> row_embedding;  // a row given as an input embedding, else null
  for (const BatchEntry& e : entries)
    for (size_t i = 0; i < e.tokens.size(); ++i)
      row_embedding.push_back(e.embeddings.empty() ? nullptr : e.embeddings.data() + i * static_cast<size_t>(c.n_embd));
  for (int t = 0; t < T; ++t) {
    if (row_embedding[t] != nullptr) {
      std::copy_n(row_embedding[t], c.n_embd, x.data() + static_cast<size_t>(t) * c.n_embd);
      continue;
    }
    // Rows past the vocabulary's live in the appended tables (AppendInputRows), in order.
    const WeightMatrix* embd = &model.token_embd_;
    int64_t row = row_token[t];
    for (size_t s = 0; row >= embd->rows && s < model.extra_embd_.size(); ++s) {
      row -= embd->rows;
      embd = &model.extra_embd_[s];
    }
    DequantizeRow(embd->type, embd->data + static_cast<size_t>(row) * embd->row_bytes, x.data() + t * E, E);
  }

  const float attn_scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int li = 0; li < c.n_layer; ++li) {
    if (cancel && cancel->cancelled()) return Status::Cancelled("generation cancelled");
    const Model::Layer& L = model.layers_[static_cast<size_t>(li)];
    for (int t = 0; t < T; ++t) RmsNorm(x.data() + t * E, L.attn_norm.data(), xn.data() + t * E, E, c.rms_eps);
    const MatMulTarget qkv[] = {{&L.wq, q.data()}, {&L.wk, k.data()}, {&L.wv, v.data()}};
    MatMulMany(qkv, xn.data(), T, team, isa, scratch);
    for (size_t ei = 0; ei < entries.size(); ++ei) {
      Sequence& seq = *entries[ei].sequence;
      float* kc = seq.LayerKeys(li);
      float* vc = seq.LayerValues(li);
      const int r0 = entry_row[ei], n = static_cast<int>(entries[ei].tokens.size());
      for (int t = r0; t < r0 + n; ++t) {
        float* qt = q.data() + static_cast<size_t>(t) * q_dim;
        float* kt = k.data() + static_cast<size_t>(t) * kv_dim;
        float* vt = v.data() + static_cast<size_t>(t) * kv_dim;
        if (!L.bq.empty()) {
          for (int i = 0; i < q_dim; ++i) qt[i] += L.bq[i];
          for (int i = 0; i < kv_dim; ++i) kt[i] += L.bk[i], vt[i] += L.bv[i];
        }
        const float* cos_t = rope_cos.data() + t * half_dim;
        const float* sin_t = rope_sin.data() + t * half_dim;
        Rope(qt, c.n_head, hd, cos_t, sin_t, c.rope_neox);
        Rope(kt, c.n_head_kv, hd, cos_t, sin_t, c.rope_neox);
        std::copy(kt, kt + kv_dim, kc + static_cast<size_t>(row_pos[t]) * kv_dim);
        std::copy(vt, vt + kv_dim, vc + static_cast<size_t>(row_pos[t]) * kv_dim);
      }
      CausalAttention(q.data() + static_cast<size_t>(r0) * q_dim, n, row_pos[r0], kc, vc,
                      {c.n_head, c.n_head_kv, hd}, attn_scale, attn.data() + static_cast<size_t>(r0) * q_dim, team,
                      isa);
    }
    MatMul(L.wo, attn.data(), T, proj.data(), team, isa, scratch);
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
    for (int t = 0; t < T; ++t) RmsNorm(x.data() + t * E, L.ffn_norm.data(), xn.data() + t * E, E, c.rms_eps);
    const MatMulTarget gate_up[] = {{&L.w_gate, gate.data()}, {&L.w_up, up.data()}};
    MatMulMany(gate_up, xn.data(), T, team, isa, scratch);
    // SwiGLU on the team: n_ff exponentials per token per layer are worth a fork/join.
    const int64_t swiglu_chunk = 1024;
    team->ParallelFor((static_cast<int64_t>(gate.size()) + swiglu_chunk - 1) / swiglu_chunk, [&](int64_t ch) {
      const int64_t i0 = ch * swiglu_chunk, i1 = std::min<int64_t>(static_cast<int64_t>(gate.size()), i0 + swiglu_chunk);
      SiluMul(gate.data() + i0, up.data() + i0, i1 - i0, isa);
    });
    MatMul(L.w_down, gate.data(), T, proj.data(), team, isa, scratch);
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
  }
  // The output rows: every token's for all_logits, else each entry's last token that wants logits.
  std::vector<int> out_rows;
  if (entries[0].all_logits) {
    for (int t = 0; t < T; ++t) out_rows.push_back(t);
  } else {
    for (size_t ei = 0; ei < entries.size(); ++ei)
      if (entries[ei].logits) out_rows.push_back(entry_row[ei] + static_cast<int>(entries[ei].tokens.size()) - 1);
  }
  const int n_out = static_cast<int>(out_rows.size()), n_logits = model.n_logits();
  std::vector<float> out(static_cast<size_t>(n_out) * n_logits);
  if (n_out > 0) {
    for (int o = 0; o < n_out; ++o)
      RmsNorm(x.data() + static_cast<size_t>(out_rows[o]) * E, model.output_norm_.data(), xn.data() + o * E, E,
              c.rms_eps);
    MatMul(model.output_, xn.data(), n_out, out.data(), team, isa, scratch);
    if (!model.output_bias_.empty())
      for (int o = 0; o < n_out; ++o)
        for (int i = 0; i < n_logits; ++i) out[static_cast<size_t>(o) * n_logits + i] += model.output_bias_[i];
  }
  int o = 0;
  for (BatchEntry& e : entries) {
    e.sequence->tokens_.insert(e.sequence->tokens_.end(), e.tokens.begin(), e.tokens.end());
    if (e.all_logits) {
      if (e.logits) e.logits->assign(out.end() - n_logits, out.end());
      *e.all_logits = std::move(out);
      break;
    }
    if (e.logits) {
      e.logits->assign(out.begin() + static_cast<std::ptrdiff_t>(o) * n_logits,
                       out.begin() + static_cast<std::ptrdiff_t>(o + 1) * n_logits);
      ++o;
    }
  }
  return Status::Ok();
}

}  // namespace cadence::engine
