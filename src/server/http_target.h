// The request target of an HTTP request: path and query parameters, percent-decoded.
//
// Pure functions; safe from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace cadence::server {

struct HttpTarget {
  std::string path;                           // decoded, e.g. "/v1/realtime"
  std::map<std::string, std::string> query;   // decoded; a repeated name keeps the first value
};

// Percent-decodes `s` ('+' is a space only when `plus_is_space`). nullopt for a malformed escape
// or a decoded NUL byte.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);

// nullopt when the target is not an origin-form path ("/...") or has a malformed escape.
std::optional<HttpTarget> ParseTarget(std::string_view target);

}  // namespace cadence::server
