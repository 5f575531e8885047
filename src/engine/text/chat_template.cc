#include "engine/text/chat_template.h"

namespace cadence::engine {

namespace {

std::string Trim(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

Result<ChatFormat> DetectChatFormat(const GgufFile* gguf, const Tokenizer& tokenizer) {
  if (gguf) {
    if (auto t = gguf->GetString("tokenizer.chat_template"); t.ok()) {
      if (t->find("<|im_start|>") != std::string::npos) return ChatFormat::kChatMl;
      if (t->find("<|start_header_id|>") != std::string::npos) return ChatFormat::kLlama3;
    }
  }
  if (tokenizer.Find("<|im_start|>") >= 0 && tokenizer.Find("<|im_end|>") >= 0) return ChatFormat::kChatMl;
  if (tokenizer.Find("<|start_header_id|>") >= 0 && tokenizer.Find("<|eot_id|>") >= 0) return ChatFormat::kLlama3;
  return Status::FailedPrecondition(
      "chat template: the model has neither ChatML (<|im_start|>) nor Llama 3 (<|start_header_id|>) tokens; "
      "use --raw to prompt it without a template");
}

std::string FormatChat(ChatFormat format, const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                       const std::string& llama3_date) {
  std::string out;
  if (format == ChatFormat::kChatMl) {
    size_t first = 0;
    if (!messages.empty() && messages[0].role == "system") {
      out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
      first = 1;
    } else {
      out += "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";
    }
    for (size_t i = first; i < messages.size(); ++i)
      out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
  out += "<|begin_of_text|>";
  size_t first = 0;
  std::string system;
  if (!messages.empty() && messages[0].role == "system") {
    system = Trim(messages[0].content);
    first = 1;
  }
  out += "<|start_header_id|>system<|end_header_id|>\n\n";
  out += "Cutting Knowledge Date: December 2023\nToday Date: " + llama3_date + "\n\n";
  out += system + "<|eot_id|>";
  for (size_t i = first; i < messages.size(); ++i)
    out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n" + Trim(messages[i].content) + "<|eot_id|>";
  if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string EndOfTurn(ChatFormat format) { return format == ChatFormat::kChatMl ? "<|im_end|>" : "<|eot_id|>"; }

}  // namespace cadence::engine
