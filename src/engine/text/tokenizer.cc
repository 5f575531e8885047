#include "engine/text/tokenizer.h"

#include <algorithm>
#include <climits>

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
  for (size_t i = 0; i < n; ++i) t->index_.emplace(t->tokens_[i], static_cast<TokenId>(i));
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

  // GPT-2's byte alphabet: printable bytes map to themselves, the rest to U+0100 onwards.
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
    AppendUtf8(cp, &t->byte_to_unicode_[b]);
    t->unicode_to_byte_[cp] = static_cast<uint8_t>(b);
  }

  for (size_t i = 0; i < n; ++i)
    if ((t->types_[i] == kControl || t->types_[i] == kUserDefined) && !t->tokens_[i].empty())
      t->specials_.push_back(static_cast<TokenId>(i));
  std::sort(t->specials_.begin(), t->specials_.end(), [&](TokenId a, TokenId b) {
    return t->tokens_[a].size() > t->tokens_[b].size();
  });

  t->end_of_generation_.assign(n, false);
  if (t->eos_ >= 0) t->end_of_generation_[t->eos_] = true;
  if (TokenId eot = id_or("tokenizer.ggml.eot_token_id"); eot >= 0) t->end_of_generation_[eot] = true;
  for (const char* text : {"<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<|eom_id|>"})
    if (TokenId id = t->Find(text); id >= 0) t->end_of_generation_[id] = true;
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
