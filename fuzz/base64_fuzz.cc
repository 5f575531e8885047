// Fuzzes Base64Decode (strict and relaxed) and checks the round trip: whatever decodes must
// re-encode to a string that decodes to the same bytes, and Base64DecodedSize must agree with a
// strict decode.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<uint8_t> strict;
  if (cadence::Base64Decode(text, &strict).ok()) {
    if (text.size() % 4 == 0 && cadence::Base64DecodedSize(text) != strict.size()) std::abort();
    std::vector<uint8_t> again;
    if (!cadence::Base64Decode(cadence::Base64Encode(strict), &again).ok() || again != strict) std::abort();
  }
  std::string relaxed;
  cadence::Base64DecodeOptions options;
  options.skip_whitespace = true;
  options.accept_url_safe = true;
  if (cadence::Base64Decode(text, &relaxed, options).ok()) {
    std::string again;
    if (!cadence::Base64Decode(cadence::Base64Encode(relaxed), &again).ok() || again != relaxed) std::abort();
  }
  return 0;
}
