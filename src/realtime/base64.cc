#include "realtime/base64.h"

#include <array>
#include <cstdio>
#include <string>

namespace cadence::realtime {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xff;
constexpr uint8_t kPad = 0xfe;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  table[static_cast<uint8_t>('=')] = kPad;
  return table;
}
constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

Status BadChar(std::string_view text, size_t pos) {
  const auto c = static_cast<unsigned char>(text[pos]);
  char shown[16];
  if (c >= 0x20 && c < 0x7f) {
    std::snprintf(shown, sizeof(shown), "'%c'", c);
  } else {
    std::snprintf(shown, sizeof(shown), "0x%02x", c);
  }
  return Status::InvalidArgument("invalid base64: character " + std::string(shown) + " at offset " +
                                 std::to_string(pos) + " is not in the base64 alphabet");
}

}  // namespace

void Base64Encode(std::span<const uint8_t> bytes, std::string* out) {
  const size_t n = bytes.size();
  const size_t start = out->size();
  out->resize(start + (n + 2) / 3 * 4);
  char* p = out->data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    p[0] = kAlphabet[(v >> 18) & 63];
    p[1] = kAlphabet[(v >> 12) & 63];
    p[2] = kAlphabet[(v >> 6) & 63];
    p[3] = kAlphabet[v & 63];
    p += 4;
  }
  if (i < n) {
    uint32_t v = uint32_t{bytes[i]} << 16;
    if (i + 1 < n) v |= uint32_t{bytes[i + 1]} << 8;
    p[0] = kAlphabet[(v >> 18) & 63];
    p[1] = kAlphabet[(v >> 12) & 63];
    p[2] = (i + 1 < n) ? kAlphabet[(v >> 6) & 63] : '=';
    p[3] = '=';
  }
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out;
  Base64Encode(bytes, &out);
  return out;
}

size_t Base64DecodedSize(std::string_view text) {
  size_t n = text.size();
  size_t pad = 0;
  while (n > 0 && pad < 2 && text[n - 1] == '=') {
    --n;
    ++pad;
  }
  if (n % 4 == 1) return 0;
  return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
}

Status Base64Decode(std::string_view text, std::vector<uint8_t>* out) {
  out->clear();
  // Strip up to two trailing '='; any other '=' is misplaced.
  size_t n = text.size();
  size_t pad = 0;
  while (n > 0 && pad < 2 && text[n - 1] == '=') {
    --n;
    ++pad;
  }
  if (n % 4 == 1) {
    return Status::InvalidArgument("invalid base64: length " + std::to_string(text.size()) +
                                   " cannot be a base64 encoding (truncated payload?)");
  }
  if (pad > 0 && (n + pad) % 4 != 0) {
    return Status::InvalidArgument("invalid base64: padding at offset " + std::to_string(n) +
                                   " does not complete a 4-character group");
  }
  out->resize(n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1));
  uint8_t* dst = out->data();
  const auto* src = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint8_t a = kDecode[src[i]], b = kDecode[src[i + 1]], c = kDecode[src[i + 2]],
                  d = kDecode[src[i + 3]];
    if ((a | b | c | d) & 0xc0) {
      for (size_t k = i; k < i + 4; ++k) {
        if (kDecode[src[k]] >= 64) return BadChar(text, k);
      }
    }
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    dst[0] = static_cast<uint8_t>(v >> 16);
    dst[1] = static_cast<uint8_t>(v >> 8);
    dst[2] = static_cast<uint8_t>(v);
    dst += 3;
  }
  const size_t rest = n - i;
  if (rest > 0) {
    uint32_t v = 0;
    for (size_t k = 0; k < rest; ++k) {
      const uint8_t x = kDecode[src[i + k]];
      if (x >= 64) return BadChar(text, i + k);
      v |= uint32_t{x} << (18 - 6 * k);
    }
    dst[0] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) dst[1] = static_cast<uint8_t>(v >> 8);
  }
  return Status::Ok();
}

}  // namespace cadence::realtime
