// SSE client: one streaming HTTP POST of a JSON body (an OpenAI-style chat-completions request)
// whose server-sent events are handed, one `data:` payload at a time, to a handler — the libcurl
// plumbing shared by the remote brain and the Step-Audio 2 vLLM client.
//
// StreamSse returns when the stream ends, the handler stops it, the CancelToken fires (within one
// libcurl progress tick, well under 100 ms) or a timeout passes. Its Status tells these apart:
//   Ok                 `data: [DONE]` arrived, or the handler said kStop, or it said kComplete
//                      earlier (a finish_reason) and the connection then closed;
//   Cancelled          the token fired;
//   Unavailable        the server could not be reached, went silent past a timeout, answered
//                      HTTP 429 / 5xx, or closed the stream before [DONE] / kComplete (a cut
//                      stream: the payloads already handed over stay handed over);
//   Unauthenticated, PermissionDenied, NotFound, InvalidArgument   HTTP 401, 403, 404, other 4xx;
// every message starts with the URL; HTTP errors carry the status and the server's message.
// A handler that throws ends the transfer with Unavailable carrying the exception's text.
// Thread-safe: each call uses its own curl handle.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/status.h"

namespace cadence::brain {

struct SseRequest {
  std::string url;
  std::string body;        // JSON, sent as application/json
  std::string api_key;     // "Authorization: Bearer KEY" when not empty
  int connect_timeout_ms = 3000;
  int first_byte_timeout_ms = 20000;  // waiting for the first data payload
  int idle_timeout_ms = 15000;        // silence between payloads once streaming
  std::string unreachable_hint = "is the server running?";  // appended to connection errors
};

enum class SseControl {
  kContinue,  // keep reading
  kComplete,  // the answer is complete (a finish_reason): keep reading, but an end now is fine
  kStop,      // stop the transfer now (the consumer has what it wants, or found an error)
};

// Called with each `data:` payload except the final [DONE].
using SseHandler = std::function<SseControl(std::string_view payload)>;

struct SseResult {
  Status status;
  bool retryable = false;   // connection failure, timeout, HTTP 429/5xx, a stream without any data
  bool got_data = false;    // at least one payload reached the handler
  bool complete = false;    // [DONE] arrived or the handler said kComplete
  bool stopped = false;     // the handler said kStop
  bool ended_early = false; // the connection closed before [DONE] / kComplete
  long http_status = 0;
};

SseResult StreamSse(const SseRequest& request, const CancelToken& cancel, const SseHandler& handler);

// The human-readable text of an OpenAI-style `error` value, read without throwing whatever its
// shape: {"message": "..."} (message may be missing, null, a number or an object), a string, or
// anything else (its JSON, cut to a readable length).
std::string ErrorMessageOf(const nlohmann::json& error);

}  // namespace cadence::brain
