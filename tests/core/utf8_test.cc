#include "core/utf8.h"

#include <gtest/gtest.h>

namespace cadence {
namespace {

TEST(Utf8Test, DecodesEveryLengthAndEncodesBack) {
  // 'A' (1 byte), 'é' (2), '好' (3), '𠀀' U+20000 (4).
  const std::string text = "A\xC3\xA9\xE5\xA5\xBD\xF0\xA0\x80\x80";
  EXPECT_EQ(DecodeUtf8(text), (std::u32string{U'A', U'é', U'好', char32_t{0x20000}}));
  EXPECT_EQ(EncodeUtf8(DecodeUtf8(text)), text);
  size_t pos = 1;
  EXPECT_EQ(NextCodePoint(text, &pos), U'é');
  EXPECT_EQ(pos, 3u);
}

TEST(Utf8Test, InvalidBytesBecomeReplacementCharactersOneByteAtATime) {
  // A lone continuation byte, a lead byte cut short by ASCII, an invalid lead, a truncated tail.
  const std::string text = "a\x80" "b\xE5\xA5" "c\xFF" "d\xE5";
  EXPECT_EQ(DecodeUtf8(text), (std::u32string{U'a', kReplacementCharacter, U'b', kReplacementCharacter,
                                              kReplacementCharacter, U'c', kReplacementCharacter, U'd',
                                              kReplacementCharacter}));
}

TEST(Utf8Test, CompletePrefixCutsOnlyAnUnfinishedLastSequence) {
  const std::string hao = "\xE5\xA5\xBD";
  EXPECT_EQ(CompleteUtf8Prefix("ab" + hao), 5u);
  EXPECT_EQ(CompleteUtf8Prefix("ab" + hao.substr(0, 2)), 2u);
  EXPECT_EQ(CompleteUtf8Prefix("ab" + hao.substr(0, 1)), 2u);
  EXPECT_EQ(CompleteUtf8Prefix("\xF0\xA0\x80"), 0u);
  EXPECT_EQ(CompleteUtf8Prefix(""), 0u);
  EXPECT_EQ(CompleteUtf8Prefix("abc"), 3u);
}

TEST(Utf8Test, HanCoversTheIdeographBlocksOnly) {
  for (char32_t c : {U'好', U'㐀', char32_t{0x20000}, U'豈'}) EXPECT_TRUE(IsHan(c)) << static_cast<int>(c);
  for (char32_t c : {U'a', U'。', U'！', U'あ', U'한', U'é'}) EXPECT_FALSE(IsHan(c)) << static_cast<int>(c);
}

}  // namespace
}  // namespace cadence
