#include "persona/png_card.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "core/base64.h"

namespace cadence::persona {

namespace {

constexpr unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

uint32_t Crc32(std::string_view a, std::string_view b) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (std::string_view part : {a, b})
    for (unsigned char byte : part) c = kTable[(c ^ byte) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t ReadBe32(std::string_view s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
         (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

void AppendBe32(std::string* out, uint32_t v) {
  out->push_back(char(v >> 24));
  out->push_back(char(v >> 16));
  out->push_back(char(v >> 8));
  out->push_back(char(v));
}

struct Chunk {
  std::string_view type;
  std::string_view data;
  size_t offset = 0;  // of the length field
  size_t size = 0;    // whole chunk incl. length, type and CRC
};

// Walks every chunk, verifying bounds and CRCs. `visit` returns false to stop early.
template <typename Visit>
Status WalkChunks(std::string_view png, Visit visit) {
  if (!LooksLikePng(png)) return Status::InvalidArgument("png: not a PNG file (signature missing)");
  size_t at = 8;
  bool saw_iend = false;
  while (at < png.size()) {
    if (png.size() - at < 12)
      return Status::DataLoss("png: truncated chunk header at offset " + std::to_string(at));
    uint32_t length = ReadBe32(png, at);
    std::string_view type = png.substr(at + 4, 4);
    for (char c : type)
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return Status::DataLoss("png: invalid chunk type at offset " + std::to_string(at));
    if (length > png.size() - at - 12)
      return Status::DataLoss("png: chunk '" + std::string(type) + "' at offset " + std::to_string(at) +
                              " claims " + std::to_string(length) + " bytes, past the end of the file");
    std::string_view data = png.substr(at + 8, length);
    uint32_t crc = ReadBe32(png, at + 8 + length);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    crc = Crc32(type, data);  // fuzz builds take every CRC as right, so that mutations reach the parser
#endif
    if (crc != Crc32(type, data))
      return Status::DataLoss("png: CRC mismatch in chunk '" + std::string(type) + "' at offset " +
                              std::to_string(at) + " (the file is corrupt)");
    Chunk chunk{type, data, at, size_t(length) + 12};
    at += chunk.size;
    if (!visit(chunk)) return Status::Ok();
    if (type == "IEND") {
      saw_iend = true;
      break;
    }
  }
  if (!saw_iend) return Status::DataLoss("png: no IEND chunk (the file is truncated)");
  return Status::Ok();
}

// Keyword and text of a tEXt or uncompressed iTXt chunk; false for anything else.
bool TextChunk(const Chunk& chunk, std::string_view* keyword, std::string_view* text) {
  size_t nul = chunk.data.find('\0');
  if (nul == std::string_view::npos) return false;
  *keyword = chunk.data.substr(0, nul);
  if (chunk.type == "tEXt") {
    *text = chunk.data.substr(nul + 1);
    return true;
  }
  if (chunk.type == "iTXt") {
    std::string_view rest = chunk.data.substr(nul + 1);
    if (rest.size() < 2 || rest[0] != 0) return false;  // compressed iTXt is not used by card tools
    rest.remove_prefix(2);
    size_t lang_end = rest.find('\0');
    if (lang_end == std::string_view::npos) return false;
    rest.remove_prefix(lang_end + 1);
    size_t translated_end = rest.find('\0');
    if (translated_end == std::string_view::npos) return false;
    *text = rest.substr(translated_end + 1);
    return true;
  }
  return false;
}

}  // namespace

bool LooksLikePng(std::string_view bytes) {
  return bytes.size() >= 8 && std::memcmp(bytes.data(), kSignature, 8) == 0;
}

Result<std::string> ExtractCardJsonFromPng(std::string_view png_bytes) {
  std::string_view ccv3, chara;
  bool has_ccv3 = false, has_chara = false;
  Status walked = WalkChunks(png_bytes, [&](const Chunk& chunk) {
    std::string_view keyword, text;
    if (!TextChunk(chunk, &keyword, &text)) return true;
    if (keyword == "ccv3") {
      ccv3 = text;
      has_ccv3 = true;
    } else if (keyword == "chara") {
      chara = text;
      has_chara = true;
    }
    return true;
  });
  if (!walked.ok()) return walked;
  if (!has_ccv3 && !has_chara)
    return Status::NotFound("png: no character card inside (no tEXt chunk named 'ccv3' or 'chara')");
  std::string_view payload = has_ccv3 ? ccv3 : chara;
  // Card tools in the wild wrap the payload and some use the URL-safe alphabet.
  std::string decoded;
  if (Status s = Base64Decode(payload, &decoded, {.skip_whitespace = true, .accept_url_safe = true}); !s.ok())
    return s.WithContext(std::string("png: tEXt chunk '") + (has_ccv3 ? "ccv3" : "chara") + "'");
  return decoded;
}

Result<std::string> EmbedCardJsonInPng(std::string_view png_bytes, std::string_view card_json, bool also_v2) {
  std::string out(reinterpret_cast<const char*>(kSignature), 8);
  std::string encoded = Base64Encode(card_json);
  auto append_text = [&](std::string_view keyword) {
    std::string data(keyword);
    data.push_back('\0');
    data += encoded;
    AppendBe32(&out, static_cast<uint32_t>(data.size()));
    out += "tEXt";
    out += data;
    AppendBe32(&out, Crc32("tEXt", data));
  };
  Status walked = WalkChunks(png_bytes, [&](const Chunk& chunk) {
    std::string_view keyword, text;
    if (TextChunk(chunk, &keyword, &text) && (keyword == "ccv3" || keyword == "chara")) return true;
    if (chunk.type == "IEND") {
      if (also_v2) append_text("chara");
      append_text("ccv3");
    }
    out.append(png_bytes.substr(chunk.offset, chunk.size));
    return true;
  });
  if (!walked.ok()) return walked;
  return out;
}

}  // namespace cadence::persona
