#include "engine/text/chat_template.h"

#include <gtest/gtest.h>

namespace cadence::engine {
namespace {

// Expected strings are what the shipped Jinja templates (../shared/data/chat-templates) render
// for this conversation, written out by hand from the templates' text.
const std::vector<ChatMessage> kConversation = {
    {"system", "You are Ada, a calm guide. "},
    {"user", "Hello! 你好"},
    {"assistant", "Hi there."},
    {"user", "  What time is it?\n"},
};

TEST(ChatTemplateTest, Qwen25ChatMl) {
  EXPECT_EQ(FormatChat(ChatFormat::kChatMl, kConversation, true),
            "<|im_start|>system\nYou are Ada, a calm guide. <|im_end|>\n"
            "<|im_start|>user\nHello! 你好<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n"
            "<|im_start|>user\n  What time is it?\n<|im_end|>\n"
            "<|im_start|>assistant\n");
  // Without a system message the template supplies Qwen's default one.
  EXPECT_EQ(FormatChat(ChatFormat::kChatMl, {{"user", "hi"}}, false),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nhi<|im_end|>\n");
}

TEST(ChatTemplateTest, Llama31) {
  EXPECT_EQ(FormatChat(ChatFormat::kLlama3, kConversation, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            "You are Ada, a calm guide.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello! 你好<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat time is it?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, DetectsFormatFromVocabularyAndEncodesSpecials) {
  for (auto [name, format] : {std::pair{"qwen2", ChatFormat::kChatMl}, std::pair{"llama-bpe", ChatFormat::kLlama3}}) {
    auto gguf = GgufFile::Open(std::string(CADENCE_SHARED_DATA) + "/tokenizer/ggml-vocab-" + name + ".gguf");
    ASSERT_TRUE(gguf.ok());
    auto tok = Tokenizer::FromGguf(**gguf);
    ASSERT_TRUE(tok.ok());
    auto detected = DetectChatFormat(gguf->get(), **tok);
    ASSERT_TRUE(detected.ok());
    EXPECT_EQ(*detected, format) << name;
    const auto ids = (*tok)->Encode(FormatChat(format, {{"user", "hi"}}, true), false, true);
    const std::string first = format == ChatFormat::kChatMl ? "<|im_start|>" : "<|begin_of_text|>";
    EXPECT_EQ(ids.front(), (*tok)->Find(first));
    EXPECT_TRUE((*tok)->IsEndOfGeneration((*tok)->Find(EndOfTurn(format))));
  }
}

}  // namespace
}  // namespace cadence::engine
