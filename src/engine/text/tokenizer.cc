#include "engine/text/tokenizer.h"

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/utf8.h"

namespace cadence::engine {

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  auto model = gguf.GetString("tokenizer.ggml.model");
  if (!model.ok()) return model.status();
  if (*model != "gpt2")
    return Status::Unimplemented(path + ": metadata.tokenizer.ggml.model: '" + *model +
                                 "' is not supported (byte-level BPE 'gpt2' is)");
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer());
  std::string pre_name = "default";
  if (auto pre = gguf.GetString("tokenizer.ggml.pre"); pre.ok()) pre_name = *pre;
  auto pre = PreTokenizerFromName(pre_name);
  if (!pre.ok()) return pre.status().WithContext(path);
  t->pre_ = *pre;
  t->ignore_merges_ = t->pre_ == PreTokenizer::kLlama3;

  const GgufValue* tokens = gguf.Find("tokenizer.ggml.tokens");
  if (!tokens || tokens->type != GgufValue::kArray || tokens->array_type != GgufValue::kString || tokens->strings.empty())
    return Status::InvalidArgument(path + ": metadata.tokenizer.ggml.tokens: missing or not a string array");
  t->tokens_ = tokens->strings;
  const size_t n = t->tokens_.size();
  t->types_.assign(n, kNormal);
  if (const GgufValue* types = gguf.Find("tokenizer.ggml.token_type")) {
    if (types->ints.size() != n)
      return Status::InvalidArgument(path + ": metadata.tokenizer.ggml.token_type: length " +
                                     std::to_string(types->ints.size()) + " differs from tokens (" + std::to_string(n) + ")");
    for (size_t i = 0; i < n; ++i) t->types_[i] = static_cast<TokenType>(types->ints[i]);
  }
  const GgufValue* merges = gguf.Find("tokenizer.ggml.merges");
  if (!merges || merges->array_type != GgufValue::kString)
    return Status::InvalidArgument(path + ": metadata.tokenizer.ggml.merges: missing or not a string array");
  for (size_t i = 0; i < merges->strings.size(); ++i) t->merge_rank_.emplace(merges->strings[i], static_cast<int>(i));

  auto id_or = [&](const char* key) -> TokenId {
    const int64_t v = gguf.GetIntOr(key, -1);
    return (v >= 0 && static_cast<size_t>(v) < n) ? static_cast<TokenId>(v) : -1;
  };
  t->bos_ = id_or("tokenizer.ggml.bos_token_id");
  t->eos_ = id_or("tokenizer.ggml.eos_token_id");
  t->add_bos_ = gguf.GetIntOr("tokenizer.ggml.add_bos_token", 0) != 0;

  t->Finish();
  if (TokenId eot = id_or("tokenizer.ggml.eot_token_id"); eot >= 0) t->end_of_generation_[eot] = true;
  return t;
}

void Tokenizer::Finish() {
  const size_t n = tokens_.size();
  for (size_t i = 0; i < n; ++i)
    if (!tokens_[i].empty()) index_.emplace(tokens_[i], static_cast<TokenId>(i));
  // GPT-2's byte alphabet: printable bytes map to themselves, the rest to U+0100 onwards.
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
    AppendUtf8(cp, &byte_to_unicode_[b]);
    unicode_to_byte_[cp] = static_cast<uint8_t>(b);
  }

  for (size_t i = 0; i < n; ++i)
    if ((types_[i] == kControl || types_[i] == kUserDefined) && !tokens_[i].empty())
      specials_.push_back(static_cast<TokenId>(i));
  std::sort(specials_.begin(), specials_.end(), [&](TokenId a, TokenId b) {
    return tokens_[a].size() > tokens_[b].size();
  });

  end_of_generation_.assign(n, false);
  if (eos_ >= 0) end_of_generation_[eos_] = true;
  for (const char* text : {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<|eom_id|>"})
    if (TokenId id = Find(text); id >= 0) end_of_generation_[id] = true;
}

namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open; a Hugging Face tokenizer folder needs it");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<nlohmann::json> ReadJson(const std::string& path) {
  CADENCE_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  return j;
}

// A special-token field: a string, an AddedToken object ({"content": ...}) or null ("").
std::string TokenField(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return {};
  const nlohmann::json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromHuggingFace(const std::string& dir,
                                                              const std::vector<std::string>& extra_special) {
  const std::string vocab_path = dir + "/vocab.json", merges_path = dir + "/merges.txt",
                    config_path = dir + "/tokenizer_config.json";
  CADENCE_ASSIGN_OR_RETURN(nlohmann::json vocab, ReadJson(vocab_path));
  CADENCE_ASSIGN_OR_RETURN(std::string merges, ReadFile(merges_path));
  CADENCE_ASSIGN_OR_RETURN(nlohmann::json config, ReadJson(config_path));
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer());

  const std::string cls = config.value("tokenizer_class", "");
  if (cls == "Qwen2Tokenizer" || cls == "Qwen2TokenizerFast") {
    t->pre_ = PreTokenizer::kQwen2;
  } else if (cls == "GPT2Tokenizer" || cls == "GPT2TokenizerFast") {
    t->pre_ = PreTokenizer::kGpt2;
  } else {
    return Status::Unimplemented(config_path + ": field tokenizer_class: '" + cls +
                                 "' is not supported (Qwen2Tokenizer, GPT2Tokenizer are)");
  }

  auto put = [&](int64_t id, const std::string& text, TokenType type) -> Status {
    if (id < 0 || id > (int64_t{1} << 24))
      return Status::InvalidArgument("token '" + text + "': id " + std::to_string(id) + " is out of range");
    if (static_cast<size_t>(id) >= t->tokens_.size()) {
      t->tokens_.resize(static_cast<size_t>(id) + 1);
      t->types_.resize(static_cast<size_t>(id) + 1, kUnused);
    }
    t->tokens_[static_cast<size_t>(id)] = text;
    t->types_[static_cast<size_t>(id)] = type;
    return Status::Ok();
  };
  for (const auto& [text, id] : vocab.items()) {
    if (!id.is_number_integer()) return Status::InvalidArgument(vocab_path + ": token '" + text + "': id is not an integer");
    CADENCE_RETURN_IF_ERROR(put(id.get<int64_t>(), text, kNormal).WithContext(vocab_path));
  }
  if (config.contains("added_tokens_decoder")) {
    const nlohmann::json& added = config["added_tokens_decoder"];
    if (!added.is_object()) return Status::InvalidArgument(config_path + ": field added_tokens_decoder: not an object");
    for (const auto& [key, value] : added.items()) {
      int64_t id = -1;
      try {
        id = std::stoll(key);
      } catch (...) {
        return Status::InvalidArgument(config_path + ": field added_tokens_decoder." + key + ": not a token id");
      }
      if (!value.is_object() || !value.contains("content") || !value["content"].is_string())
        return Status::InvalidArgument(config_path + ": field added_tokens_decoder." + key + ".content: missing");
      const bool special = value.value("special", false);
      CADENCE_RETURN_IF_ERROR(
          put(id, value["content"].get<std::string>(), special ? kControl : kUserDefined).WithContext(config_path));
    }
  }
  if (t->tokens_.empty()) return Status::InvalidArgument(vocab_path + ": no tokens");
  // Hugging Face gives a new added token the id after every token it knows.
  std::unordered_map<std::string, TokenId> known;
  for (size_t i = 0; i < t->tokens_.size(); ++i)
    if (!t->tokens_[i].empty()) known.emplace(t->tokens_[i], static_cast<TokenId>(i));
  for (const std::string& s : extra_special) {
    auto it = known.find(s);
    if (it != known.end()) {
      if (t->types_[it->second] == kNormal) t->types_[it->second] = kControl;
      continue;
    }
    const TokenId id = static_cast<TokenId>(t->tokens_.size());
    CADENCE_RETURN_IF_ERROR(put(id, s, kControl));
    known.emplace(s, id);
  }

  std::istringstream lines(merges);
  std::string line;
  int rank = 0;
  bool first = true;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first && line.rfind("#version", 0) == 0) {
      first = false;
      continue;
    }
    first = false;
    if (line.empty()) continue;
    if (line.find(' ') == std::string::npos)
      return Status::InvalidArgument(merges_path + ": line " + std::to_string(rank + 1) + ": '" + line +
                                     "' is not a pair 'left right'");
    t->merge_rank_.emplace(line, rank++);
  }

  auto id_of = [&](const std::string& text) -> TokenId {
    auto it = known.find(text);
    return text.empty() || it == known.end() ? -1 : it->second;
  };
  t->bos_ = id_of(TokenField(config, "bos_token"));
  t->eos_ = id_of(TokenField(config, "eos_token"));
  t->add_bos_ = config.value("add_bos_token", false) && t->bos_ >= 0;
  t->Finish();
  return t;
}

TokenId Tokenizer::Find(std::string_view text) const {
  auto it = index_.find(std::string(text));
  return it == index_.end() ? -1 : it->second;
}

bool Tokenizer::IsEndOfGeneration(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < end_of_generation_.size() && end_of_generation_[id];
}

void Tokenizer::EncodeWord(std::string_view word, std::vector<TokenId>* out) const {
  std::string mapped;
  std::vector<std::string> symbols;
  for (unsigned char c : word) {
    mapped += byte_to_unicode_[c];
    symbols.push_back(byte_to_unicode_[c]);
  }
  if (ignore_merges_) {
    if (TokenId id = Find(mapped); id >= 0) {
      out->push_back(id);
      return;
    }
  }
  // Merge the adjacent pair of lowest rank (leftmost on ties) until none applies.
  std::string key;
  while (symbols.size() > 1) {
    int best_rank = INT_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      key.assign(symbols[i]).append(" ").append(symbols[i + 1]);
      auto it = merge_rank_.find(key);
      if (it != merge_rank_.end() && it->second < best_rank) {
        best_rank = it->second;
        best = i;
      }
    }
    if (best_rank == INT_MAX) break;
    symbols[best] += symbols[best + 1];
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
  for (const std::string& s : symbols) {
    if (TokenId id = Find(s); id >= 0) {
      out->push_back(id);
      continue;
    }
    // Not in the vocabulary: fall back to one token per byte symbol.
    for (char32_t cp : DecodeUtf8(s)) {
      std::string one;
      AppendUtf8(cp, &one);
      if (TokenId id = Find(one); id >= 0) out->push_back(id);
    }
  }
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<TokenId> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  size_t start = 0;
  auto encode_plain = [&](std::string_view plain) {
    for (const std::string& word : PreTokenize(pre_, plain)) EncodeWord(word, &out);
  };
  size_t i = 0;
  while (i < text.size()) {
    TokenId matched = -1;
    if (!specials_.empty()) {
      for (TokenId id : specials_) {
        if (types_[id] == kControl && !parse_special) continue;
        const std::string& s = tokens_[id];
        if (text.compare(i, s.size(), s) == 0) {
          matched = id;
          break;
        }
      }
    }
    if (matched >= 0) {
      if (i > start) encode_plain(text.substr(start, i - start));
      out.push_back(matched);
      i += tokens_[matched].size();
      start = i;
    } else {
      ++i;
    }
  }
  if (start < text.size()) encode_plain(text.substr(start));
  return out;
}

std::string Tokenizer::TokenBytes(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size()) return {};
  const TokenType type = types_[id];
  if (type == kControl || type == kUnused || type == kUnknown) return {};
  if (type == kUserDefined) return tokens_[id];
  std::string bytes;
  for (char32_t cp : DecodeUtf8(tokens_[id])) {
    auto it = unicode_to_byte_.find(cp);
    if (it != unicode_to_byte_.end()) bytes.push_back(static_cast<char>(it->second));
    else AppendUtf8(cp, &bytes);
  }
  return bytes;
}

std::string Tokenizer::Decode(const std::vector<TokenId>& ids) const {
  std::string out;
  for (TokenId id : ids) out += TokenBytes(id);
  return out;
}

}  // namespace cadence::engine
