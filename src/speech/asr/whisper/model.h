// WhisperModel: the weights and hyper-parameters of a Whisper-architecture model, loaded from a
// Hugging Face checkpoint (model.safetensors + config.json [+ generation_config.json]) or a
// whisper.cpp ggml .bin file.
//
// Tensors are held as float32 under openai/whisper's names ("encoder.blocks.0.attn.query.weight")
// in PyTorch shape order ([out, in] for a Linear, [out, in, 3] for a conv). Loading maps the file
// once and widens every tensor to f32 (`data`); matrices stored as F16/BF16 or quantized (ggml
// Q8_0, Q4_0, Q4_K, Q6_K) also keep their stored bytes (`raw`) so the matmuls run on the engine's
// kernels for that type at the file's own memory footprint. The model is immutable afterwards and
// safe to share between threads. Every load error names the file and the field or tensor at fault.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "engine/dtype.h"
#include "engine/kernels.h"

namespace cadence::speech::whisper {

struct HParams {
  int n_vocab = 0;
  int n_audio_ctx = 0;    // encoder positions (1500 for released models: 30 s)
  int n_audio_state = 0;  // encoder width
  int n_audio_head = 0;
  int n_audio_layer = 0;
  int n_text_ctx = 0;  // decoder positions (448)
  int n_text_state = 0;
  int n_text_head = 0;
  int n_text_layer = 0;
  int n_mels = 0;  // 80 or 128
};

// Ids of the special tokens of the decoding prompt; -1 where the model has none.
struct SpecialTokens {
  int end_of_text = -1;
  int start_of_transcript = -1;
  int transcribe = -1;
  int translate = -1;
  int no_timestamps = -1;
  int no_speech = -1;  // <|nospeech|> (<|nocaptions|> in older vocabularies)
  int blank = -1;  // the token " " (looked up in the vocabulary)
  std::map<std::string, int> languages;  // "en" -> id of <|en|>
  // From a Hugging Face generation_config.json when it lists them: tokens never generated
  // ("suppress_tokens": openai-whisper's non-speech symbols) and tokens not generated first
  // ("begin_suppress_tokens": " " and <|endoftext|>). See SuppressLogits in transformer.h.
  std::vector<int> suppress;
  std::vector<int> begin_suppress;
};

struct Tensor {
  std::vector<int64_t> shape;  // PyTorch order
  std::vector<float> data;     // always present, widened to f32
  engine::DType stored_type = engine::DType::kF32;
  std::vector<uint8_t> raw;  // the stored rows when stored_type is not F32 and the tensor has >= 2 dims

  // The tensor as a row-major matrix of shape[0] rows: the stored bytes when they form whole
  // kernel rows, else the f32 data. Points into this Tensor.
  engine::WeightMatrix Matrix() const;
};

struct Model {
  std::string path;
  std::string format;  // "ggml" | "safetensors"
  HParams hparams;
  SpecialTokens specials;
  std::vector<std::string> vocab;  // token strings where the file carries them (ggml)
  std::vector<float> mel_filters;  // [n_mels][201] from a ggml file; empty otherwise
  std::map<std::string, Tensor> tensors;

  // nullptr when absent.
  const Tensor* Find(const std::string& name) const;
};

// Codes of Whisper's language tokens in id order after <|startoftranscript|> ("en", "zh", "de", ...;
// 100 for large-v3 vocabularies, 99 before).
const std::vector<std::string>& WhisperLanguageCodes();

// Text of token ids: the raw bytes of every id below <|endoftext|> that the vocabulary holds.
std::string DecodeText(const Model& model, const std::vector<int>& ids);

// Dispatches on the file: a directory or *.safetensors loads the Hugging Face form; anything else
// must start with the ggml magic 0x67676d6c. Validates every tensor the forward pass needs.
Result<std::unique_ptr<Model>> LoadModel(const std::string& path);
Result<std::unique_ptr<Model>> LoadGgmlModel(const std::string& path);
// `path` is the directory holding model.safetensors and config.json, or the .safetensors file
// itself with config.json beside it.
Result<std::unique_ptr<Model>> LoadSafetensorsModel(const std::string& path);

// Every tensor the forward pass reads, with the shape the hparams imply (openai/whisper names).
std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedTensorShapes(const HParams& h);

// Checks that every tensor of the architecture exists with the shape the hparams imply.
Status ValidateModel(const Model& model);

// openai/whisper name of a Hugging Face tensor name ("model.encoder.layers.0.fc1.weight" ->
// "encoder.blocks.0.mlp.0.weight"); empty for tensors the forward pass does not use (proj_out).
std::string OpenaiNameFromHf(const std::string& hf_name);

}  // namespace cadence::speech::whisper
