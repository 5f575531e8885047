// ProtocolError: what becomes a Realtime `error` event — {type, code, message, param, event_id}.
//
// Plain data. An empty `code` means no error. `param` names the field at fault ("session.voice"),
// `event_id` echoes the client event at fault. Codes follow OpenAI's where one exists
// (invalid_value, missing_required_parameter, ...).
#pragma once

#include <string>

namespace cadence::realtime {

struct ProtocolError {
  std::string type;     // "invalid_request_error" | "server_error"
  std::string code;     // empty: no error
  std::string message;  // names what is at fault and what to do
  std::string param;    // "" is sent as null
  std::string event_id; // the client's event_id, "" is sent as null

  bool ok() const { return code.empty(); }
  static ProtocolError None() { return {}; }
  static ProtocolError Invalid(std::string code, std::string message, std::string param = {}) {
    return {"invalid_request_error", std::move(code), std::move(message), std::move(param), {}};
  }
  static ProtocolError Server(std::string code, std::string message) {
    return {"server_error", std::move(code), std::move(message), {}, {}};
  }
};

}  // namespace cadence::realtime
