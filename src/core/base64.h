// Base64 (RFC 4648 §4, standard alphabet): the one codec for audio payloads in Realtime events and
// card payloads in PNG tEXt chunks.
//
// Pure functions; thread-safe; no allocation beyond the output. Encoding always pads. Decoding is
// strict by default (so corrupt audio is reported, not played as noise): only the alphabet, at most
// two trailing '=', no whitespace. Missing trailing padding is accepted because some clients omit
// it. Base64DecodeOptions relaxes the rest for sources that need it (wrapped card payloads, the
// URL-safe alphabet). Errors are InvalidArgument and name the byte offset at fault in the input as
// given (whitespace included).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cadence {

// Appends the encoding of `bytes` to `out` (whose earlier contents are kept).
void Base64Encode(std::span<const uint8_t> bytes, std::string* out);
void Base64Encode(std::string_view bytes, std::string* out);
std::string Base64Encode(std::span<const uint8_t> bytes);
std::string Base64Encode(std::string_view bytes);

// Exact decoded size of a valid strict encoding of `text` (0 for an impossible length).
size_t Base64DecodedSize(std::string_view text);

struct Base64DecodeOptions {
  // Skip ' ', '\t', '\r', '\n' anywhere (MIME-style 76-column wrapping in card files).
  bool skip_whitespace = false;
  // Also accept '-' for 62 and '_' for 63 (RFC 4648 §5), mixed with the standard alphabet.
  bool accept_url_safe = false;
};

// Replaces `out` with the decoding of `text`. InvalidArgument naming the first offending offset for
// a character outside the alphabet, misplaced padding or an impossible length (4n+1 characters).
Status Base64Decode(std::string_view text, std::vector<uint8_t>* out, const Base64DecodeOptions& options = {});
Status Base64Decode(std::string_view text, std::string* out, const Base64DecodeOptions& options = {});

}  // namespace cadence
