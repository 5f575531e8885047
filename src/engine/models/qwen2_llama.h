// Model: a decoder-only transformer (Qwen2 / Qwen2.5 with q/k/v biases, Llama 2/3) loaded from
// GGUF, from Hugging Face safetensors + config.json, or from a PyTorch state dict (torch.save) whose
// Hugging Face names carry a prefix; weights used in place from the memory map or the checkpoint's
// buffers (but Q5_0 matrices, regrouped once at load into Q5_0R, the SIMD kernels' layout:
// RepackWeights).
//
// Models that put a transformer body between their own embeddings and head (CosyVoice 2's speech
// LM) extend it before first use: AppendInputRows adds input-embedding rows after the vocabulary
// (token ids n_vocab.. of the extended model), SetOutput replaces the output matrix (with an
// optional bias); the logits are as wide as the output matrix has rows (n_logits()).
//
// Forward passes run on the model's own WorkerTeam; a mutex serializes them, so one Model may be
// shared by many sessions (each owns a Sequence: its KV cache). A Sequence must not be used from two
// threads at once. ForwardBatch runs several sequences' new tokens in one pass, so the weights are
// read once for all of them (decode is bound by that read). Units: positions and lengths in tokens;
// RoPE theta in radians base.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/cancel.h"
#include "core/status.h"
#include "engine/formats/gguf.h"
#include "engine/formats/safetensors.h"
#include "engine/formats/torch_checkpoint.h"
#include "engine/kernels.h"
#include "engine/parallel.h"
#include "engine/text/tokenizer.h"

namespace cadence::engine {

class SafetensorsShards;
struct BatchEntry;
// Defined below (after Sequence).
Status ForwardBatch(std::span<BatchEntry> entries, const CancelToken* cancel = nullptr);

struct ModelConfig {
  std::string arch;  // "qwen2" | "llama"
  int n_vocab = 0, n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, head_dim = 0;
  int context_length = 4096;
  float rope_theta = 10000.0f;
  float rms_eps = 1e-6f;
  // NeoX rotation pairs (i, i + head_dim/2) as in Hugging Face; the other mode pairs (2i, 2i+1),
  // which GGUF Llama files need because llama.cpp's converter permutes their q/k rows.
  bool rope_neox = true;
  bool tied_embeddings = false;
};

// Hyperparameters from a Hugging Face config object (config.json, or a multimodal model's
// "text_config"): hidden_size, num_hidden_layers, ... `arch` ("qwen2" | "llama") overrides the
// object's model_type (a text_config may carry its own). Errors name `source` and the field.
Status ModelConfigFromJson(const nlohmann::json& config, const std::string& source, const std::string& arch,
                           ModelConfig* out);

struct LoadOptions {
  int threads = 0;  // 0: DefaultThreads()
  Isa isa = BestIsa();
  // Float (F32/F16/BF16) layer matrices become Q8_0 at load: a quarter of F32's bytes per decode
  // step (decode is bandwidth-bound), at Q8_0's fidelity (mean KL ~0.007 on a 0.5B model).
  bool quantize_q8_0 = false;
};

class Model {
 public:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv;  // biases empty when absent
    WeightMatrix wq, wk, wv, wo, w_gate, w_up, w_down;
  };

  // `path`: a .gguf file, a .safetensors file (config.json beside it), or a directory holding
  // model.safetensors + config.json. Errors name the file and the tensor or key at fault.
  static Result<std::unique_ptr<Model>> Load(const std::string& path, const LoadOptions& options = {});
  // The decoder held in `checkpoint` under Hugging Face names prefixed by `prefix` (e.g.
  // "llm.model." for "llm.model.model.embed_tokens.weight"), hyperparameters from the Hugging Face
  // `config_json` file. The model keeps the checkpoint alive. Errors name the file and the tensor
  // or key at fault.
  static Result<std::unique_ptr<Model>> FromTorch(std::shared_ptr<const TorchCheckpoint> checkpoint,
                                                  const std::string& prefix, const std::string& config_json,
                                                  const LoadOptions& options = {});
  // The decoder held in a checkpoint folder's safetensors shards under Hugging Face names
  // (model.layers.N..., lm_head.weight), hyperparameters given (a multimodal config's text_config:
  // ModelConfigFromJson). The model keeps the shards alive.
  static Result<std::unique_ptr<Model>> FromShards(std::shared_ptr<const SafetensorsShards> weights, ModelConfig config,
                                                   const LoadOptions& options = {});
  // Assembles a model from parts (used by the benchmark's synthetic models). `storage` keeps the
  // weight bytes alive.
  static std::unique_ptr<Model> FromParts(ModelConfig config, WeightMatrix token_embd, WeightMatrix output,
                                          std::vector<float> output_norm, std::vector<Layer> layers,
                                          std::vector<std::vector<uint8_t>> storage, const LoadOptions& options);

  const ModelConfig& config() const { return config_; }
  // Width of the logits: the output matrix's rows (n_vocab unless SetOutput changed it).
  int n_logits() const { return static_cast<int>(output_.rows); }

  // Before the model is shared or used: appends `rows` (n_embd columns) to the input embeddings and
  // returns the token id of its first row; config().n_vocab grows by rows.rows. The bytes must
  // outlive the model (e.g. in the checkpoint it keeps).
  Result<TokenId> AppendInputRows(const WeightMatrix& rows);
  // Before the model is shared or used: replaces the output matrix (n_embd columns; its rows are
  // the logits) and adds `bias` (empty or output.rows values) to the logits. Same lifetime rule.
  Status SetOutput(const WeightMatrix& output, std::vector<float> bias);
  // The GGUF's tokenizer; null for safetensors models (use a GGUF tokenizer with them).
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  const GgufFile* gguf() const { return gguf_.get(); }
  Isa isa() const { return isa_; }
  int threads() const { return team_->threads(); }
  // Bytes of weights one decode step reads (every matrix once, the output matrix included).
  size_t WeightBytes() const;
  // Bytes one decode step reads from memory at a context of `context_tokens`: WeightBytes, one
  // embedding row, norms and biases, and the f32 keys and values of every layer — the numerator of
  // the memory-bandwidth bound.
  size_t DecodeBytes(int context_tokens) const;

 private:
  friend class Sequence;
  friend Status ForwardBatch(std::span<BatchEntry> entries, const CancelToken* cancel);
  Model() = default;
  Status Validate(const std::string& source) const;
  // Rewrites the Q5_0 matrices as Q5_0R (dtype.h), the SIMD kernels' layout: in place when the
  // bytes are the model's own storage, else into new storage (the file's pages are released).
  void RepackWeights();
  // LoadOptions::quantize_q8_0: the layers' float matrices re-encoded into new storage.
  void QuantizeLayersQ8_0();

  ModelConfig config_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<SafetensorsFile> safetensors_;
  std::shared_ptr<const TorchCheckpoint> torch_;
  std::shared_ptr<const SafetensorsShards> shards_;
  std::unique_ptr<Tokenizer> tokenizer_;
  WeightMatrix token_embd_, output_;
  std::vector<WeightMatrix> extra_embd_;  // input rows after token_embd_'s, in order (AppendInputRows)
  std::vector<float> output_norm_, output_bias_;
  std::vector<Layer> layers_;
  std::vector<std::vector<uint8_t>> storage_;
  Isa isa_ = Isa::kScalar;
  std::unique_ptr<WorkerTeam> team_;
  mutable std::mutex forward_mu_;  // one forward pass at a time on team_
  mutable MatMulScratch scratch_;  // guarded by forward_mu_
};

// Sequence: one conversation's state over a shared Model — the tokens evaluated so far and their
// keys/values (f32), so a new turn only evaluates what follows the common prefix. The KV memory
// grows with the tokens held (doubling, up to the capacity), so an idle or short sequence is small.
class Sequence {
 public:
  // `max_tokens`: KV capacity; 0 means the model's context length (capped at 8192).
  Sequence(const Model& model, int max_tokens = 0);

  // Appends `tokens`, runs the model over them and, if `logits` is not null, fills it with the
  // last token's logits (n_logits()). `all_logits` (optional) receives every new token's logits.
  // Cancelled between layers if `cancel` fires; OutOfRange when the KV cache is full.
  Status Append(const std::vector<TokenId>& tokens, std::vector<float>* logits, const CancelToken* cancel = nullptr,
                std::vector<float>* all_logits = nullptr);
  // Appends rows given as input embeddings ([ids.size()][n_embd]) instead of token ids; `ids` are
  // recorded for prefix matching only (see BatchEntry::embeddings).
  Status AppendEmbeddings(const std::vector<TokenId>& ids, std::span<const float> embeddings,
                          std::vector<float>* logits, const CancelToken* cancel = nullptr);
  // Makes the sequence equal `prompt`: keeps the longest common prefix already evaluated, drops
  // the rest, evaluates the remainder (at least the last token, for fresh logits). Returns the
  // number of reused tokens.
  Result<int> Prefill(const std::vector<TokenId>& prompt, std::vector<float>* logits, const CancelToken* cancel = nullptr);
  // Drops everything after the first `n` tokens.
  void Truncate(int n);
  // Makes this sequence hold the first `n` tokens of `other` (same model), keys and values copied:
  // a shared prompt head computed once serves every sequence that starts with it.
  void CopyPrefix(const Sequence& other, int n);
  // Bytes of KV memory held now.
  size_t KvBytes() const { return (k_cache_.capacity() + v_cache_.capacity()) * sizeof(float); }

  const std::vector<TokenId>& tokens() const { return tokens_; }
  int size() const { return static_cast<int>(tokens_.size()); }
  int capacity() const { return capacity_; }
  const Model& model() const { return model_; }

 private:
  friend Status ForwardBatch(std::span<BatchEntry> entries, const CancelToken* cancel);
  Status Check(const std::vector<TokenId>& tokens, bool check_ids = true) const;
  // Grows the KV memory to hold `tokens` positions (at most capacity()).
  void Reserve(int tokens);
  float* LayerKeys(int layer) { return k_cache_.data() + static_cast<size_t>(layer) * reserved_ * kv_dim_; }
  float* LayerValues(int layer) { return v_cache_.data() + static_cast<size_t>(layer) * reserved_ * kv_dim_; }

  const Model& model_;
  int capacity_ = 0;
  int reserved_ = 0;  // positions the KV memory holds per layer
  size_t kv_dim_ = 0;
  std::vector<TokenId> tokens_;
  std::vector<float> k_cache_, v_cache_;  // [layer][pos < reserved_][n_head_kv * head_dim]
};

// One sequence's share of a batched forward pass: `tokens` are appended to `sequence` (evaluated at
// its next positions). `logits`, if set, receives the logits of the entry's last token; with
// `all_logits` (one entry only) every new token's.
//
// `embeddings` (optional, tokens.size() rows of n_embd floats) replaces the embedding lookup: the
// rows go into the body as they are (audio features projected into the model's input space), and
// `tokens` are only recorded as the sequence's ids for prefix matching — any int32 values, e.g.
// ids that name the audio the rows came from.
struct BatchEntry {
  Sequence* sequence = nullptr;
  std::vector<TokenId> tokens;
  std::vector<float>* logits = nullptr;
  std::vector<float>* all_logits = nullptr;
  std::span<const float> embeddings{};
};

// Evaluates every entry's tokens in one pass over the weights: the projections and the FFN run on
// all entries' rows at once, attention on each sequence's own keys and values. Each entry gets the
// logits it would get alone (up to float summation order in kernels that tile rows). All entries'
// sequences must share one Model and be distinct. On error (a full KV cache, a bad token id,
// cancellation) no sequence changes.
Status ForwardBatch(std::span<BatchEntry> entries, const CancelToken* cancel);

}  // namespace cadence::engine
