// Character cards embedded in PNG images: the card JSON, base64-encoded, in a tEXt (or uncompressed
// iTXt) chunk keyed `ccv3` (Character Card V3) or `chara` (V2). `ccv3` wins when both are present.
//
// Pure functions over bytes; thread-safe. Malformed images give a DataLoss/InvalidArgument Status
// naming the chunk or offset at fault; nothing is trusted (lengths are bounds-checked, CRCs verified).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace cadence::persona {

bool LooksLikePng(std::string_view bytes);

// The decoded card JSON text of a PNG card.
Result<std::string> ExtractCardJsonFromPng(std::string_view png_bytes);

// A copy of `png_bytes` with any `chara`/`ccv3` text chunks replaced by `card_json` (as `ccv3`,
// and as `chara` too when `also_v2`), inserted before IEND.
Result<std::string> EmbedCardJsonInPng(std::string_view png_bytes, std::string_view card_json, bool also_v2);

}  // namespace cadence::persona
