// Base64 (RFC 4648, standard alphabet) for card payloads in PNG tEXt chunks and avatar data URLs.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace cadence::persona {

std::string Base64Encode(std::string_view bytes);
// Whitespace is skipped and padding is optional; any other non-alphabet byte is an error naming
// its offset.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace cadence::persona
