#include "core/base64.h"

#include <array>
#include <cstdio>

namespace cadence {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xff;

constexpr std::array<uint8_t, 256> MakeDecodeTable(bool url_safe) {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  if (url_safe) {
    table[static_cast<uint8_t>('-')] = 62;
    table[static_cast<uint8_t>('_')] = 63;
  }
  return table;
}
constexpr std::array<uint8_t, 256> kDecodeStandard = MakeDecodeTable(false);
constexpr std::array<uint8_t, 256> kDecodeUrlSafe = MakeDecodeTable(true);

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The characters to decode and, when whitespace was removed, where each one stood in the input, so
// that errors name offsets the caller can find.
struct Compacted {
  std::string_view text;
  std::string storage;
  std::vector<size_t> original_offset;

  size_t Original(size_t pos) const { return original_offset.empty() ? pos : original_offset[pos]; }
};

void Compact(std::string_view text, bool skip_whitespace, Compacted* c) {
  c->text = text;
  if (!skip_whitespace) return;
  size_t first = 0;
  while (first < text.size() && !IsWhitespace(text[first])) ++first;
  if (first == text.size()) return;
  c->storage.reserve(text.size());
  c->original_offset.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsWhitespace(text[i])) continue;
    c->storage.push_back(text[i]);
    c->original_offset.push_back(i);
  }
  c->text = c->storage;
}

Status BadChar(std::string_view original, size_t pos) {
  const auto c = static_cast<unsigned char>(original[pos]);
  char shown[16];
  if (c >= 0x20 && c < 0x7f) {
    std::snprintf(shown, sizeof(shown), "'%c'", c);
  } else {
    std::snprintf(shown, sizeof(shown), "0x%02x", c);
  }
  return Status::InvalidArgument("invalid base64: character " + std::string(shown) + " at offset " +
                                 std::to_string(pos) + " is not in the base64 alphabet");
}

// Number of trailing '=' (at most two) and the length without them.
size_t StripPadding(std::string_view text, size_t* pad) {
  size_t n = text.size();
  *pad = 0;
  while (n > 0 && *pad < 2 && text[n - 1] == '=') {
    --n;
    ++*pad;
  }
  return n;
}

size_t DecodedSizeOfUnpadded(size_t n) { return n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1); }

template <typename Buffer>
Status DecodeInto(std::string_view original, const Base64DecodeOptions& options, Buffer* out) {
  out->clear();
  Compacted compacted;
  Compact(original, options.skip_whitespace, &compacted);
  const std::string_view text = compacted.text;
  size_t pad = 0;
  const size_t n = StripPadding(text, &pad);
  if (n % 4 == 1) {
    return Status::InvalidArgument("invalid base64: " + std::to_string(text.size()) +
                                   " characters cannot be a base64 encoding (truncated payload?)");
  }
  if (pad > 0 && (n + pad) % 4 != 0) {
    return Status::InvalidArgument("invalid base64: padding at offset " + std::to_string(compacted.Original(n)) +
                                   " does not complete a 4-character group");
  }
  const auto& table = options.accept_url_safe ? kDecodeUrlSafe : kDecodeStandard;
  out->resize(DecodedSizeOfUnpadded(n));
  auto* dst = reinterpret_cast<uint8_t*>(out->data());
  const auto* src = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint8_t a = table[src[i]], b = table[src[i + 1]], c = table[src[i + 2]], d = table[src[i + 3]];
    if ((a | b | c | d) & 0xc0) {
      for (size_t k = i; k < i + 4; ++k) {
        if (table[src[k]] >= 64) return BadChar(original, compacted.Original(k));
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
      const uint8_t x = table[src[i + k]];
      if (x >= 64) return BadChar(original, compacted.Original(i + k));
      v |= uint32_t{x} << (18 - 6 * k);
    }
    dst[0] = static_cast<uint8_t>(v >> 16);
    if (rest == 3) dst[1] = static_cast<uint8_t>(v >> 8);
  }
  return Status::Ok();
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

void Base64Encode(std::string_view bytes, std::string* out) {
  Base64Encode(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), out);
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out;
  Base64Encode(bytes, &out);
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  Base64Encode(bytes, &out);
  return out;
}

size_t Base64DecodedSize(std::string_view text) {
  size_t pad = 0;
  const size_t n = StripPadding(text, &pad);
  if (n % 4 == 1) return 0;
  return DecodedSizeOfUnpadded(n);
}

Status Base64Decode(std::string_view text, std::vector<uint8_t>* out, const Base64DecodeOptions& options) {
  return DecodeInto(text, options, out);
}

Status Base64Decode(std::string_view text, std::string* out, const Base64DecodeOptions& options) {
  return DecodeInto(text, options, out);
}

}  // namespace cadence
