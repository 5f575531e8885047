// Base64 (RFC 4648, standard alphabet) for audio payloads in Realtime events.
//
// Pure functions; thread-safe; no allocation beyond the output. Decoding is strict about the
// alphabet (so corrupt audio is reported, not played as noise) but accepts missing trailing
// padding, which some clients omit. Errors name the byte offset at fault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cadence::realtime {

// Appends the encoding of `bytes` to `out`.
void Base64Encode(std::span<const uint8_t> bytes, std::string* out);
std::string Base64Encode(std::span<const uint8_t> bytes);

// Exact decoded size of a valid encoding of `text` (0 for an invalid length).
size_t Base64DecodedSize(std::string_view text);

// Replaces `out` with the decoding of `text`. InvalidArgument naming the first offending offset for
// characters outside the alphabet, misplaced padding or an impossible length (4n+1 characters).
Status Base64Decode(std::string_view text, std::vector<uint8_t>* out);

}  // namespace cadence::realtime
