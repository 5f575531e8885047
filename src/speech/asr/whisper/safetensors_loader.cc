// Hugging Face openai/whisper-* checkpoints: model.safetensors (read with the engine's mapped
// reader), config.json for the hparams, generation_config.json (optional) for the special ids.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/dtype.h"
#include "engine/formats/safetensors.h"
#include "speech/asr/whisper/model.h"

namespace cadence::speech::whisper {
namespace {

Result<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  return j;
}

Status ReadInt(const nlohmann::json& j, const std::string& path, const char* key, int* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return Status::InvalidArgument(path + ": field \"" + key + "\" is missing or not an integer");
  }
  *out = it->get<int>();
  return Status::Ok();
}

// GPT-2's byte-level alphabet, reversed: vocab.json spells byte b as itself when it is printable
// ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) and as U+0100 + k for the k-th other byte.
std::vector<int> UnicodeToByte() {
  std::vector<int> table(512, -1);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[keep ? b : 256 + extra++] = b;
  }
  return table;
}

// False when `token` holds a character outside the byte alphabet (e.g. a special token).
bool TokenBytes(const std::string& token, const std::vector<int>& table, std::string* out) {
  out->clear();
  for (size_t i = 0; i < token.size();) {
    const unsigned char c = token[i];
    int cp = 0, len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0 && i + 1 < token.size()) {
      cp = ((c & 0x1F) << 6) | (token[i + 1] & 0x3F);
      len = 2;
    } else {
      return false;
    }
    if (cp >= static_cast<int>(table.size()) || table[cp] < 0) return false;
    out->push_back(static_cast<char>(table[cp]));
    i += len;
  }
  return true;
}

// Fills model->vocab (id -> raw bytes) from vocab.json; missing file: no texts, not an error.
Status ReadVocab(const std::string& path, Model* model) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::Ok();
  auto vocab = ReadJson(path);
  if (!vocab.ok()) return vocab.status();
  const std::vector<int> table = UnicodeToByte();
  std::string bytes;
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int>() < 0 || id.get<int>() >= model->hparams.n_vocab) {
      return Status::InvalidArgument(path + ": token \"" + token + "\" has an id outside [0, vocab_size)");
    }
    const int i = id.get<int>();
    if (static_cast<int>(model->vocab.size()) <= i) model->vocab.resize(i + 1);
    model->vocab[i] = TokenBytes(token, table, &bytes) ? bytes : token;
  }
  return Status::Ok();
}

int IntOr(const nlohmann::json& j, const char* key, int fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

}  // namespace

Result<std::unique_ptr<Model>> LoadSafetensorsModel(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  const fs::path dir = is_dir ? fs::path(path) : fs::path(path).parent_path();
  const std::string weights = is_dir ? (dir / "model.safetensors").string() : path;
  const std::string config_path = (dir / "config.json").string();

  auto config = ReadJson(config_path);
  if (!config.ok()) {
    return config.status().WithContext("Whisper safetensors models need config.json beside the weights");
  }
  auto model = std::make_unique<Model>();
  model->path = weights;
  model->format = "safetensors";
  HParams& h = model->hparams;
  const nlohmann::json& c = *config;
  for (const auto& [key, out] : {std::pair{"vocab_size", &h.n_vocab}, {"max_source_positions", &h.n_audio_ctx},
                                 {"d_model", &h.n_audio_state}, {"encoder_attention_heads", &h.n_audio_head},
                                 {"encoder_layers", &h.n_audio_layer}, {"max_target_positions", &h.n_text_ctx},
                                 {"decoder_attention_heads", &h.n_text_head}, {"decoder_layers", &h.n_text_layer},
                                 {"num_mel_bins", &h.n_mels}}) {
    if (Status s = ReadInt(c, config_path, key, out); !s.ok()) return s;
  }
  h.n_text_state = h.n_audio_state;

  SpecialTokens& sp = model->specials;
  sp.start_of_transcript = IntOr(c, "decoder_start_token_id", -1);
  sp.end_of_text = IntOr(c, "eos_token_id", -1);
  const std::string gen_path = (dir / "generation_config.json").string();
  if (fs::exists(gen_path, ec)) {
    auto gen = ReadJson(gen_path);
    if (!gen.ok()) return gen.status();
    const nlohmann::json& g = *gen;
    sp.start_of_transcript = IntOr(g, "decoder_start_token_id", sp.start_of_transcript);
    sp.end_of_text = IntOr(g, "eos_token_id", sp.end_of_text);
    sp.no_timestamps = IntOr(g, "no_timestamps_token_id", -1);
    if (auto t = g.find("task_to_id"); t != g.end() && t->is_object()) {
      sp.transcribe = IntOr(*t, "transcribe", -1);
      sp.translate = IntOr(*t, "translate", -1);
    }
    for (auto [key, out] : {std::pair{"suppress_tokens", &sp.suppress}, std::pair{"begin_suppress_tokens", &sp.begin_suppress}}) {
      if (auto list = g.find(key); list != g.end() && list->is_array()) {
        for (const auto& id : *list)
          if (id.is_number_integer()) out->push_back(id.get<int>());
      }
    }
    if (auto l = g.find("lang_to_id"); l != g.end() && l->is_object()) {
      for (const auto& [token, id] : l->items()) {
        // "<|en|>" -> "en"
        if (id.is_number_integer() && token.size() > 4) sp.languages[token.substr(2, token.size() - 4)] = id.get<int>();
      }
    }
  }

  if (Status s = ReadVocab((dir / "vocab.json").string(), model.get()); !s.ok()) return s;

  auto file = engine::SafetensorsFile::Open(weights);
  if (!file.ok()) return file.status();
  for (const auto& [hf_name, t] : (*file)->tensors()) {
    const std::string name = OpenaiNameFromHf(hf_name);
    if (name.empty()) continue;
    if (t.type != engine::DType::kF32 && t.type != engine::DType::kF16 && t.type != engine::DType::kBF16) {
      return Status::InvalidArgument(weights + ": tensor " + hf_name + " has dtype " +
                                     std::string(engine::DTypeName(t.type)) + "; Whisper needs F32, F16 or BF16");
    }
    Tensor out;
    out.shape = t.shape;
    int64_t count = 1;
    for (int64_t d : t.shape) count *= d;
    out.data.resize(count);
    engine::DequantizeRow(t.type, t.data, out.data.data(), count);
    if (t.type != engine::DType::kF32 && t.shape.size() >= 2) {
      out.stored_type = t.type;
      const auto* bytes = static_cast<const uint8_t*>(t.data);
      out.raw.assign(bytes, bytes + engine::RowBytes(t.type, count));
    }
    model->tensors[name] = std::move(out);
  }
  if (Status s = ValidateModel(*model); !s.ok()) return s;
  return model;
}

}  // namespace cadence::speech::whisper
