#include "speech/asr/whisper/model.h"
#include "engine/formats/stored_tensor.h"

#include <algorithm>
#include <filesystem>
#include <utility>

namespace cadence::speech::whisper {
namespace {

bool ReplaceOnce(std::string* s, const std::string& from, const std::string& to) {
  const size_t at = s->find(from);
  if (at == std::string::npos) return false;
  s->replace(at, from.size(), to);
  return true;
}

}  // namespace

engine::WeightMatrix Tensor::Matrix() const {
  engine::WeightMatrix m;
  m.rows = shape.empty() ? 0 : shape[0];
  m.cols = m.rows > 0 ? static_cast<int64_t>(data.size()) / m.rows : 0;
  if (!raw.empty() && m.cols % engine::BlockElems(stored_type) == 0 &&
      raw.size() == static_cast<size_t>(m.rows) * engine::RowBytes(stored_type, m.cols)) {
    m.type = stored_type;
    m.data = raw.data();
    m.row_bytes = engine::RowBytes(stored_type, m.cols);
  } else {
    m.type = engine::DType::kF32;
    m.data = reinterpret_cast<const uint8_t*>(data.data());
    m.row_bytes = static_cast<size_t>(m.cols) * sizeof(float);
  }
  return m;
}

std::string DecodeText(const Model& model, const std::vector<int>& ids) {
  std::string text;
  for (int id : ids) {
    if (id < 0 || id >= model.specials.end_of_text || id >= static_cast<int>(model.vocab.size())) continue;
    text += model.vocab[id];
  }
  return text;
}

const std::vector<std::string>& WhisperLanguageCodes() {
  // openai/whisper tokenizer.py LANGUAGES, in token order.
  static const std::vector<std::string> kCodes = {
      "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id",
      "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg",
      "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br",
      "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so",
      "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt",
      "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln", "ha", "ba", "jw", "su", "yue"};
  return kCodes;
}

const Tensor* Model::Find(const std::string& name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

std::string OpenaiNameFromHf(const std::string& hf_name) {
  std::string n = hf_name;
  if (n.rfind("model.", 0) == 0) n = n.substr(6);
  if (n == "encoder.embed_positions.weight") return "encoder.positional_embedding";
  if (n == "decoder.embed_positions.weight") return "decoder.positional_embedding";
  if (n.rfind("encoder.", 0) != 0 && n.rfind("decoder.", 0) != 0) return "";  // proj_out: tied
  ReplaceOnce(&n, "decoder.embed_tokens.", "decoder.token_embedding.");
  ReplaceOnce(&n, ".layers.", ".blocks.");
  ReplaceOnce(&n, "encoder.layer_norm.", "encoder.ln_post.");
  ReplaceOnce(&n, "decoder.layer_norm.", "decoder.ln.");
  // Longer names first: "encoder_attn_layer_norm" contains "encoder_attn".
  const std::pair<const char*, const char*> kParts[] = {
      {".encoder_attn_layer_norm.", ".cross_attn_ln."}, {".self_attn_layer_norm.", ".attn_ln."},
      {".final_layer_norm.", ".mlp_ln."},               {".fc1.", ".mlp.0."},
      {".fc2.", ".mlp.2."},                             {".encoder_attn.", ".cross_attn."},
      {".self_attn.", ".attn."},                        {".q_proj.", ".query."},
      {".k_proj.", ".key."},                            {".v_proj.", ".value."},
      {".out_proj.", ".out."}};
  for (const auto& [from, to] : kParts) ReplaceOnce(&n, from, to);
  return n;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> ExpectedTensorShapes(const HParams& h) {
  const int64_t da = h.n_audio_state, dt = h.n_text_state;
  std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"encoder.conv1.weight", {da, h.n_mels, 3}}, {"encoder.conv1.bias", {da}},
      {"encoder.conv2.weight", {da, da, 3}},       {"encoder.conv2.bias", {da}},
      {"encoder.positional_embedding", {h.n_audio_ctx, da}},
      {"encoder.ln_post.weight", {da}},            {"encoder.ln_post.bias", {da}},
      {"decoder.token_embedding.weight", {h.n_vocab, dt}},
      {"decoder.positional_embedding", {h.n_text_ctx, dt}},
      {"decoder.ln.weight", {dt}},                 {"decoder.ln.bias", {dt}}};
  auto block = [&](const std::string& p, int64_t d, bool cross) {
    for (const std::string a : {"attn", "cross_attn"}) {
      if (a == "cross_attn" && !cross) continue;
      for (const std::string proj : {"query", "key", "value", "out"}) {
        want.push_back({p + "." + a + "." + proj + ".weight", {d, d}});
        if (proj != "key") want.push_back({p + "." + a + "." + proj + ".bias", {d}});
      }
      want.push_back({p + "." + a + "_ln.weight", {d}});
      want.push_back({p + "." + a + "_ln.bias", {d}});
    }
    want.push_back({p + ".mlp.0.weight", {4 * d, d}});
    want.push_back({p + ".mlp.0.bias", {4 * d}});
    want.push_back({p + ".mlp.2.weight", {d, 4 * d}});
    want.push_back({p + ".mlp.2.bias", {d}});
    want.push_back({p + ".mlp_ln.weight", {d}});
    want.push_back({p + ".mlp_ln.bias", {d}});
  };
  for (int i = 0; i < h.n_audio_layer; ++i) block("encoder.blocks." + std::to_string(i), da, false);
  for (int i = 0; i < h.n_text_layer; ++i) block("decoder.blocks." + std::to_string(i), dt, true);
  return want;
}

Status ValidateModel(const Model& m) {
  const HParams& h = m.hparams;
  auto fail = [&](const std::string& what) {
    return Status::InvalidArgument(m.path + ": " + what + "; is this a Whisper checkpoint?");
  };
  if (h.n_audio_state <= 0 || h.n_text_state <= 0 || h.n_audio_head <= 0 || h.n_text_head <= 0 ||
      h.n_audio_state % h.n_audio_head != 0 || h.n_text_state % h.n_text_head != 0) {
    return fail("widths/heads (" + std::to_string(h.n_audio_state) + "/" + std::to_string(h.n_audio_head) + ", " +
                std::to_string(h.n_text_state) + "/" + std::to_string(h.n_text_head) + ") are not positive multiples");
  }
  if (h.n_mels <= 0 || h.n_vocab <= 0 || h.n_audio_ctx <= 0 || h.n_text_ctx <= 0) {
    return fail("n_mels, n_vocab, n_audio_ctx and n_text_ctx must be positive");
  }
  if (!m.mel_filters.empty() && m.mel_filters.size() != static_cast<size_t>(h.n_mels) * 201) {
    return fail("mel filters hold " + std::to_string(m.mel_filters.size()) + " values, expected n_mels x 201");
  }
  const std::vector<std::pair<std::string, std::vector<int64_t>>> want = ExpectedTensorShapes(h);
  for (const auto& [name, shape] : want) {
    const Tensor* t = m.Find(name);
    if (t == nullptr) return fail("tensor " + name + " is missing");
    if (t->shape != shape) {
      return fail("tensor " + name + " has shape " + engine::ShapeString(t->shape) + ", expected " + engine::ShapeString(shape));
    }
  }
  if (m.specials.start_of_transcript < 0 || m.specials.end_of_text < 0) {
    return fail("no <|startoftranscript|>/<|endoftext|> token ids could be found");
  }
  return Status::Ok();
}

Result<std::unique_ptr<Model>> LoadModel(const std::string& path) {
  std::error_code ec;
  auto model = std::filesystem::is_directory(path, ec) ||
                       (path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0)
                   ? LoadSafetensorsModel(path)
                   : LoadGgmlModel(path);
  if (!model.ok()) return model;
  const std::vector<std::string>& vocab = (*model)->vocab;
  SpecialTokens& sp = (*model)->specials;
  for (int id = 0; id < static_cast<int>(vocab.size()); ++id) {
    if (vocab[id] == " " && sp.blank < 0) sp.blank = id;
    if ((vocab[id] == "<|nospeech|>" || vocab[id] == "<|nocaptions|>") && sp.no_speech < 0) sp.no_speech = id;
  }
  return model;
}

}  // namespace cadence::speech::whisper
