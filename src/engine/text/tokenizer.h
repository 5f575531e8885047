// Tokenizer: byte-level BPE (GPT-2 / Llama 3 / Qwen2 style) read from a GGUF file's metadata
// (tokenizer.ggml.tokens, .merges, .token_type, .pre, special token ids), or from a Hugging Face
// tokenizer folder (vocab.json + merges.txt + tokenizer_config.json, the files of a "slow"
// Qwen2Tokenizer / GPT2Tokenizer) plus added tokens given by the caller.
//
// Encode() splits out special tokens (control tokens only when parse_special is set; user-defined
// tokens always, as the reference does), pre-tokenizes, maps bytes to the GPT-2 byte alphabet and
// applies merges by rank. Decode() maps back to bytes; control tokens decode to nothing.
// Immutable after construction; safe to call from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/formats/gguf.h"
#include "engine/text/pre_tokenizer.h"

namespace cadence::engine {

using TokenId = int32_t;

class Tokenizer {
 public:
  enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

  // Reads a "gpt2" (byte-level BPE) vocabulary; errors name the file and the metadata key.
  static Result<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& gguf);
  // Reads `dir`/vocab.json, merges.txt and tokenizer_config.json (added_tokens_decoder: id ->
  // content, special; tokenizer_class picks the pre-tokenizer: Qwen2Tokenizer -> qwen2,
  // GPT2Tokenizer -> gpt-2; eos_token / bos_token). `extra_special` are then added as Hugging
  // Face's add_special_tokens does: each one not yet in the vocabulary gets the next free id, in
  // order. Special added tokens are control tokens (Encode splits them out with parse_special),
  // others user-defined. Not read: tokenizer.json and its normalizer (Qwen2's NFC is not applied).
  // Errors name the file and the key at fault.
  static Result<std::unique_ptr<Tokenizer>> FromHuggingFace(const std::string& dir,
                                                            const std::vector<std::string>& extra_special = {});

  std::vector<TokenId> Encode(std::string_view text, bool add_bos, bool parse_special) const;
  // Raw bytes of one token (may be an incomplete UTF-8 sequence); "" for control tokens.
  std::string TokenBytes(TokenId id) const;
  std::string Decode(const std::vector<TokenId>& ids) const;

  int vocab_size() const { return static_cast<int>(tokens_.size()); }
  const std::string& TokenText(TokenId id) const { return tokens_[static_cast<size_t>(id)]; }
  TokenType Type(TokenId id) const { return types_[static_cast<size_t>(id)]; }
  // -1 when absent.
  TokenId Find(std::string_view text) const;
  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  bool add_bos() const { return add_bos_; }
  // End-of-generation tokens: eos, eot, and control tokens such as <|im_end|> / <|eot_id|>.
  bool IsEndOfGeneration(TokenId id) const;
  PreTokenizer pre_tokenizer() const { return pre_; }

 private:
  void EncodeWord(std::string_view word, std::vector<TokenId>* out) const;
  // Builds what both readers share from tokens_, types_, bos_ and eos_: the index, the byte
  // alphabet, the special-token list and the end-of-generation set.
  void Finish();

  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  std::unordered_map<std::string, TokenId> index_;
  std::unordered_map<std::string, int> merge_rank_;  // "left right" -> rank
  std::vector<TokenId> specials_;                    // sorted longest text first
  std::vector<bool> end_of_generation_;
  std::string byte_to_unicode_[256];
  std::unordered_map<char32_t, uint8_t> unicode_to_byte_;
  PreTokenizer pre_ = PreTokenizer::kGpt2;
  bool ignore_merges_ = false;
  TokenId bos_ = -1, eos_ = -1;
  bool add_bos_ = false;
};

}  // namespace cadence::engine
