// Typed field access for client JSON: each getter checks presence and type and reports the
// dotted path at fault ("session.audio.input.format.rate") as a ProtocolError.
//
// Pure helpers on nlohmann::json; thread-safe. Absent optional fields leave the output untouched.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "realtime/protocol_error.h"

namespace cadence::realtime {

using Json = nlohmann::json;

// Joins a parent path and a key: Path("session", "voice") == "session.voice".
std::string Path(std::string_view parent, std::string_view key);

// Optional fields: absent or null (when `null_ok`) keeps *out; wrong type is an error.
ProtocolError GetString(const Json& obj, std::string_view key, std::string_view parent, std::string* out);
ProtocolError GetBool(const Json& obj, std::string_view key, std::string_view parent, bool* out);
ProtocolError GetNumber(const Json& obj, std::string_view key, std::string_view parent, double* out);
ProtocolError GetInt(const Json& obj, std::string_view key, std::string_view parent, int64_t* out);
// Required string (present, a string, non-empty unless `allow_empty`).
ProtocolError RequireString(const Json& obj, std::string_view key, std::string_view parent, std::string* out,
                            bool allow_empty = false);
ProtocolError RequireInt(const Json& obj, std::string_view key, std::string_view parent, int64_t* out);

// What an error event quotes of the client's input, at most: an error never grows with its input.
inline constexpr size_t kMaxQuotedBytes = 128;
inline constexpr size_t kMaxErrorMessageBytes = 1024;
// `text` cut to at most `max_bytes` at a UTF-8 boundary, "..." marking a cut.
std::string Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace cadence::realtime
