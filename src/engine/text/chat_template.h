// Chat templates, implemented in C++ (no Jinja): Qwen2.5 ChatML and Llama 3.1, producing exactly
// what the models' shipped templates (../shared/data/chat-templates) render for plain text
// conversations (no tools). The output contains special-token text; encode it with
// parse_special = true and without adding another BOS. Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/gguf.h"
#include "engine/text/tokenizer.h"

namespace cadence::engine {

enum class ChatFormat { kChatMl, kLlama3 };

struct ChatMessage {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

// From the GGUF's tokenizer.chat_template when present, else from the vocabulary's special tokens.
// FailedPrecondition when neither identifies a supported format.
Result<ChatFormat> DetectChatFormat(const GgufFile* gguf, const Tokenizer& tokenizer);

// `llama3_date`: the "Today Date" line of Llama 3.1's system header (its template's default).
std::string FormatChat(ChatFormat format, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                       const std::string& llama3_date = "26 Jul 2024");

// Text that ends an assistant turn in `format` (a stop string for generation).
std::string EndOfTurn(ChatFormat format);

}  // namespace cadence::engine
