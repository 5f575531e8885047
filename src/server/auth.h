// API-key authentication for the HTTP upgrade: keys from a file (one per line, `#` comments) and/or
// the CADENCE_API_KEYS environment variable (comma- or whitespace-separated), presented by the
// client as `Authorization: Bearer KEY` or, from browsers, the subprotocol `openai-insecure-api-key.KEY`.
//
// Also the subprotocol negotiation that browsers need answered. Plain data and pure functions:
// an ApiKeys is immutable after Load and safe to share between IO threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cadence::server {

class ApiKeys {
 public:
  ApiKeys() = default;
  // Reads `keys_file` (may be "" for none) and the value of CADENCE_API_KEYS (`env_value`, may be
  // ""). NotFound / InvalidArgument name the file and line at fault (an unreadable file, a key with
  // spaces inside, a file with no key at all).
  static Result<ApiKeys> Load(const std::string& keys_file, std::string_view env_value);
  // For tests and the in-process benchmark.
  static ApiKeys FromList(std::vector<std::string> keys);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  // Constant-time per key, so response timing does not reveal how much of a key matched.
  bool Contains(std::string_view key) const;

 private:
  std::vector<std::string> keys_;
};

// The token of `Authorization: Bearer TOKEN` ("" if the header is absent or another scheme).
std::string_view BearerToken(std::string_view authorization_header);

// Splits a Sec-WebSocket-Protocol header ("a, b,c") into trimmed, non-empty names.
std::vector<std::string> ParseSubprotocols(std::string_view header);

inline constexpr std::string_view kRealtimeSubprotocol = "realtime";
inline constexpr std::string_view kBetaSubprotocol = "openai-beta.realtime-v1";
inline constexpr std::string_view kKeySubprotocolPrefix = "openai-insecure-api-key.";

struct Handshake {
  std::string api_key;         // from Bearer, else from the key subprotocol; "" if none
  bool beta = false;           // OpenAI-Beta: realtime=v1 or the beta subprotocol
  std::string answer_protocol; // what to answer in Sec-WebSocket-Protocol ("" = none offered)
};

// Reads what the upgrade request says about auth, beta names and subprotocols. The answer is
// `realtime` when offered (what OpenAI answers), else the beta protocol, else the first offered
// protocol that is not a key: a browser fails a connection whose offer goes unanswered.
Handshake ReadHandshake(std::string_view authorization, std::string_view openai_beta,
                        std::string_view subprotocols);

// A subprotocol as it may be logged: the key in `openai-insecure-api-key.KEY` is replaced by "***".
std::string RedactedProtocol(std::string_view protocol);

// RFC 6455 4.2.1: Sec-WebSocket-Key is the base64 of 16 bytes (24 characters).
bool IsValidWebSocketKey(std::string_view key);

// Whether a WebSocket upgrade's Origin may drive the server. No Origin (not a browser): yes. A
// browser page: yes when `allowed` holds "*" or that exact origin ("https://app.example.com"), or
// when the Origin is the server's own page (scheme "http" or "https", and host[:port] equal to the
// request's Host header, case-insensitive). Everything else, including "null": no.
bool IsOriginAllowed(std::string_view origin, std::string_view host_header, const std::vector<std::string>& allowed);

}  // namespace cadence::server
