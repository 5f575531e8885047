#include "brain/remote_brain.h"

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "brain/engine_brain.h"
#include "brain/sse_client.h"
#include "core/json_depth.h"
#include "core/log.h"

namespace cadence::brain {

namespace {

// Reads one chat-completions chunk: passes choices[0].delta.content on, notes a finish_reason and
// an in-stream `error`.
struct ChunkReader {
  const TextSink* on_text = nullptr;
  bool streamed = false;  // any text passed on
  bool sink_stopped = false;
  bool stream_error = false;
  std::string stream_error_message;

  SseControl operator()(std::string_view payload) {
    if (JsonNestingDepth(payload) > kMaxJsonDepth) return SseControl::kContinue;  // no chunk nests this deep
    nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return SseControl::kContinue;
    if (auto error = j.find("error"); error != j.end() && !error->is_null()) {
      stream_error = true;
      stream_error_message = ErrorMessageOf(*error);
      return SseControl::kContinue;
    }
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
      return SseControl::kContinue;
    const auto& choice = (*choices)[0];
    auto delta = choice.find("delta");
    if (delta != choice.end() && delta->is_object() && delta->contains("content") && (*delta)["content"].is_string()) {
      const std::string& text = (*delta)["content"].get_ref<const std::string&>();
      if (!text.empty()) {
        streamed = true;
        if (!(*on_text)(text)) {
          sink_stopped = true;
          return SseControl::kStop;
        }
      }
    }
    if (auto finish = choice.find("finish_reason"); finish != choice.end() && finish->is_string())
      return SseControl::kComplete;
    return SseControl::kContinue;
  }
};

class RemoteBrain : public Brain {
 public:
  explicit RemoteBrain(RemoteBrainOptions o) : o_(std::move(o)) {
    while (!o_.base_url.empty() && o_.base_url.back() == '/') o_.base_url.pop_back();
  }
  std::string_view kind() const override { return "remote"; }

  Status Reply(const ReplyRequest& request, const CancelToken& cancel, const TextSink& on_text) const override {
    nlohmann::json body;
    body["model"] = o_.model;
    body["stream"] = true;
    body["temperature"] = request.temperature;
    body["max_tokens"] = request.max_output_tokens > 0 ? request.max_output_tokens : o_.max_output_tokens;
    body["messages"] = nlohmann::json::array();
    for (const Message& m : ComposeLlmMessages(request))
      body["messages"].push_back({{"role", std::string(RoleName(m.role))}, {"content", m.text}});
    SseRequest sse;
    sse.url = o_.base_url + "/chat/completions";
    sse.body = body.dump();
    sse.api_key = o_.api_key;
    sse.connect_timeout_ms = o_.connect_timeout_ms;
    sse.first_byte_timeout_ms = o_.first_byte_timeout_ms;
    sse.idle_timeout_ms = o_.idle_timeout_ms;
    sse.unreachable_hint = "is the LLM server running? (check --llm-url)";

    Status last = Status::Unavailable(sse.url + ": not tried");
    int backoff_ms = o_.retry_backoff_ms;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
      if (cancel.cancelled()) return Status::Cancelled("remote brain: cancelled");
      bool retryable = false, streamed = false;
      last = Attempt(sse, cancel, on_text, &retryable, &streamed);
      if (last.ok() || !retryable || streamed) return last;
      CADENCE_LOG(kWarn, "brain", "remote attempt %d/%d failed: %s", attempt + 1, o_.retries + 1,
                  last.message().c_str());
      if (attempt < o_.retries) {
        // Sleep in small steps so a cancel is still honoured promptly.
        for (int slept = 0; slept < backoff_ms && !cancel.cancelled(); slept += 10)
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        backoff_ms *= 2;
      }
    }
    return last;
  }

 private:
  Status Attempt(const SseRequest& sse, const CancelToken& cancel, const TextSink& on_text, bool* retryable,
                 bool* streamed) const {
    ChunkReader reader;
    reader.on_text = &on_text;
    const SseResult r = StreamSse(sse, cancel, [&reader](std::string_view payload) { return reader(payload); });
    *streamed = reader.streamed;
    if (r.status.code() == StatusCode::kCancelled) return Status::Cancelled("remote brain: cancelled");
    if (reader.sink_stopped) return Status::Ok();
    if (r.status.ok() || r.ended_early) {
      if (reader.stream_error)
        return Status::Unavailable(sse.url + ": the server reported an error mid-stream: " + reader.stream_error_message);
      // A stream cut after some text is kept as the reply (the listener has heard it already).
      if (r.ended_early && reader.streamed) return Status::Ok();
    }
    *retryable = r.retryable;
    if (r.status.code() == StatusCode::kNotFound) return Status::NotFound(r.status.message() + " (see --llm-url, --llm-model)");
    return r.status;
  }

  RemoteBrainOptions o_;
};

}  // namespace

std::unique_ptr<Brain> CreateRemoteBrain(RemoteBrainOptions options) {
  return std::make_unique<RemoteBrain>(std::move(options));
}

}  // namespace cadence::brain
