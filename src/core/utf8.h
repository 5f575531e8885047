// UTF-8 decoding and encoding, and the Han test that English/Mandarin handling needs.
//
// Pure functions; thread-safe. Decoding never fails: a byte that does not start a complete,
// well-formed sequence decodes as U+FFFD and decoding resumes at the next byte, so text from models
// and clients (which may be cut mid-character) is handled without an error path. Overlong forms
// and surrogates are not rejected (nothing here is a security boundary).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cadence {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Decodes the code point at `*pos` and advances `*pos` past it (by one byte when invalid).
char32_t NextCodePoint(std::string_view text, size_t* pos);
std::u32string DecodeUtf8(std::string_view text);

void AppendUtf8(char32_t code_point, std::string* out);
std::string EncodeUtf8(std::u32string_view text);

// Length of the longest prefix of `bytes` that does not end inside a multi-byte sequence (where a
// stream of text may be cut).
size_t CompleteUtf8Prefix(std::string_view bytes);

// Han ideographs: CJK Unified Ideographs, Extensions A and B, and the compatibility block.
bool IsHan(char32_t c);

}  // namespace cadence
