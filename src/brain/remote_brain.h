// Remote brain: an OpenAI-compatible streaming chat-completions endpoint (vLLM, llama-server,
// Ollama, StepFun, OpenAI) as a Brain — how a deployment outgrows one machine.
//
// POST {base_url}/chat/completions with "stream": true; parses the server-sent events
// (`data: {...choices[0].delta.content...}` until `data: [DONE]`) and streams each delta.
// Connection failures, timeouts before any text, HTTP 429 and 5xx are retried (with backoff)
// while nothing has been streamed; then Reply returns Unavailable naming the URL. HTTP 401/403
// map to Unauthenticated/PermissionDenied, other 4xx to InvalidArgument with the server's message.
// Cancellation aborts the transfer within one libcurl progress tick (well under 100 ms).
// Const and thread-safe: each Reply uses its own curl handle.
#pragma once

#include <memory>
#include <string>

#include "brain/brain.h"

namespace cadence::brain {

struct RemoteBrainOptions {
  std::string base_url;   // e.g. http://127.0.0.1:8000/v1
  std::string model;      // e.g. Qwen/Qwen2.5-7B-Instruct
  std::string api_key;    // sent as "Authorization: Bearer KEY" when not empty
  int connect_timeout_ms = 3000;
  int first_byte_timeout_ms = 20000;  // waiting for the first streamed text
  int idle_timeout_ms = 15000;        // silence between chunks once streaming
  int retries = 2;                    // extra attempts before any text arrived
  int retry_backoff_ms = 200;         // doubles per attempt
  int max_output_tokens = 300;        // when the request says 0
};

std::unique_ptr<Brain> CreateRemoteBrain(RemoteBrainOptions options);

}  // namespace cadence::brain
