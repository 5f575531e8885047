// JsonNestingDepth: how deeply a JSON text nests arrays and objects, read without parsing it.
//
// Untrusted JSON (client events, upstream replies) is checked with this before it is parsed:
// copying or printing a parsed value recurses once per level, so tens of thousands of levels
// would overflow a thread's stack. One linear pass over the bytes, no allocation; brackets inside
// strings (with their escapes) do not count. Malformed text gets a depth all the same, and the
// parser then rejects it.
#pragma once

#include <cstddef>
#include <string_view>

namespace cadence {

// The deepest nesting of `[` and `{` in `json_text` (0 for a scalar).
size_t JsonNestingDepth(std::string_view json_text);

// Nesting depth that Cadence accepts in any JSON from outside (the deepest JSON schema a tool
// definition needs is far below this).
inline constexpr size_t kMaxJsonDepth = 64;

}  // namespace cadence
