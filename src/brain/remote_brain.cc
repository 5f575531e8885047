#include "brain/remote_brain.h"

#include <curl/curl.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "brain/engine_brain.h"
#include "core/json_depth.h"
#include "core/log.h"

namespace cadence::brain {

namespace {

using Clock = std::chrono::steady_clock;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One streaming attempt's state, shared with libcurl's callbacks.
struct Transfer {
  const TextSink* on_text = nullptr;
  const CancelToken* cancel = nullptr;
  std::string line_buffer;
  std::string error_body;   // non-SSE body (an HTTP error's JSON)
  bool streamed = false;    // any text passed on
  bool done = false;        // saw [DONE] or finish_reason
  bool sink_stopped = false;
  bool stream_error = false;
  std::string stream_error_message;
  Clock::time_point start, last_data;
  int first_byte_timeout_ms = 0, idle_timeout_ms = 0;
  bool timed_out = false;
  long http_status = 0;
};

// The human-readable text of an OpenAI-style `error` value, read without throwing whatever its
// shape: {"message": "..."} (message may be missing, null, a number or an object), a string, or
// anything else (its JSON, cut to a readable length).
std::string ErrorMessageOf(const nlohmann::json& error) {
  auto shorten = [](std::string text) {
    constexpr size_t kMaxChars = 500;
    if (text.size() > kMaxChars) text = text.substr(0, kMaxChars) + "...";
    return text;
  };
  const auto dump = [](const nlohmann::json& v) { return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
  if (error.is_string()) return shorten(error.get<std::string>());
  if (error.is_object()) {
    auto it = error.find("message");
    if (it != error.end() && it->is_string() && !it->get_ref<const std::string&>().empty())
      return shorten(it->get<std::string>());
  }
  return shorten(dump(error));
}

void HandleLine(Transfer& t, const std::string& line) {
  if (line.rfind("data:", 0) != 0) {
    if (!line.empty() && line[0] != ':' && line.rfind("event:", 0) != 0 && line.rfind("id:", 0) != 0 &&
        line.rfind("retry:", 0) != 0)
      if (t.error_body.size() < (64u << 10)) t.error_body += line;
    return;
  }
  std::string payload = line.substr(5);
  if (!payload.empty() && payload[0] == ' ') payload.erase(0, 1);
  if (payload == "[DONE]") {
    t.done = true;
    return;
  }
  if (JsonNestingDepth(payload) > kMaxJsonDepth) return;  // no chat-completions chunk nests this deep
  nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) return;
  if (!j.is_object()) return;
  if (auto error = j.find("error"); error != j.end() && !error->is_null()) {
    t.stream_error = true;
    t.stream_error_message = ErrorMessageOf(*error);
    return;
  }
  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object()) return;
  const auto& choice = (*choices)[0];
  auto delta = choice.find("delta");
  if (delta != choice.end() && delta->is_object() && delta->contains("content") && (*delta)["content"].is_string()) {
    const std::string& text = (*delta)["content"].get_ref<const std::string&>();
    if (!text.empty() && !t.sink_stopped) {
      t.streamed = true;
      if (!(*t.on_text)(text)) t.sink_stopped = true;
    }
  }
  if (auto finish = choice.find("finish_reason"); finish != choice.end() && finish->is_string()) t.done = true;
}

size_t OnWriteUnguarded(Transfer& t, const char* data, size_t bytes);

// libcurl calls this from C: nothing may throw through it. Any exception (the text sink's, a
// JSON accessor's) ends the transfer with an error instead of terminating the process.
size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  Transfer& t = *static_cast<Transfer*>(user);
  try {
    return OnWriteUnguarded(t, data, size * n);
  } catch (const std::exception& e) {
    t.stream_error = true;
    t.stream_error_message = std::string("could not read the reply: ") + e.what();
    return 0;  // tells libcurl to abort the transfer
  }
}

size_t OnWriteUnguarded(Transfer& t, const char* data, size_t bytes) {
  t.last_data = Clock::now();
  // A reply line longer than this is no chat-completions chunk: stop rather than buffer it.
  constexpr size_t kMaxLineBytes = 4u << 20;
  t.line_buffer.append(data, bytes);
  if (t.line_buffer.size() > kMaxLineBytes && t.line_buffer.find('\n') == std::string::npos) {
    t.stream_error = true;
    t.stream_error_message = "a reply line passed " + std::to_string(kMaxLineBytes >> 20) + " MiB without a newline";
    return 0;
  }
  size_t pos;
  while ((pos = t.line_buffer.find('\n')) != std::string::npos) {
    std::string line = t.line_buffer.substr(0, pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    t.line_buffer.erase(0, pos + 1);
    HandleLine(t, line);
  }
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  Transfer& t = *static_cast<Transfer*>(user);
  if (t.cancel->cancelled() || t.sink_stopped) return 1;
  const auto now = Clock::now();
  auto ms = [&](Clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
  };
  if (!t.streamed && ms(t.start) > t.first_byte_timeout_ms) t.timed_out = true;
  if (t.streamed && ms(t.last_data) > t.idle_timeout_ms) t.timed_out = true;
  return t.timed_out ? 1 : 0;
}

class RemoteBrain : public Brain {
 public:
  explicit RemoteBrain(RemoteBrainOptions o) : o_(std::move(o)) {
    while (!o_.base_url.empty() && o_.base_url.back() == '/') o_.base_url.pop_back();
    GlobalInitOnce();
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
    const std::string payload = body.dump();
    const std::string url = o_.base_url + "/chat/completions";

    Status last = Status::Unavailable(url + ": not tried");
    int backoff_ms = o_.retry_backoff_ms;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
      if (cancel.cancelled()) return Status::Cancelled("remote brain: cancelled");
      bool retryable = false, streamed = false;
      last = Attempt(url, payload, cancel, on_text, &retryable, &streamed);
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
  Status Attempt(const std::string& url, const std::string& payload, const CancelToken& cancel, const TextSink& on_text,
                 bool* retryable, bool* streamed) const {
    CURL* curl = curl_easy_init();
    if (!curl) return Status::Internal("remote brain: curl_easy_init failed");
    Transfer t;
    t.on_text = &on_text;
    t.cancel = &cancel;
    t.start = t.last_data = Clock::now();
    t.first_byte_timeout_ms = o_.first_byte_timeout_ms;
    t.idle_timeout_ms = o_.idle_timeout_ms;
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    const std::string auth = "Authorization: Bearer " + o_.api_key;
    if (!o_.api_key.empty()) headers = curl_slist_append(headers, auth.c_str());
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(o_.connect_timeout_ms));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    const CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.http_status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (!t.line_buffer.empty()) HandleLine(t, t.line_buffer);
    *streamed = t.streamed;

    if (cancel.cancelled()) return Status::Cancelled("remote brain: cancelled");
    if (t.sink_stopped) return Status::Ok();
    if (t.timed_out) {
      *retryable = true;
      return Status::Unavailable(url + ": no reply within " +
                                 std::to_string(t.streamed ? o_.idle_timeout_ms : o_.first_byte_timeout_ms) +
                                 " ms; is the model server overloaded?");
    }
    if (rc != CURLE_OK && t.stream_error) {  // our callback ended the transfer: say why
      return Status::Unavailable(url + ": " + t.stream_error_message);
    }
    if (rc != CURLE_OK) {
      *retryable = true;
      return Status::Unavailable(url + ": " + (error[0] ? std::string(error) : curl_easy_strerror(rc)) +
                                 "; is the LLM server running? (check --llm-url)");
    }
    if (t.http_status >= 400) {
      std::string msg = t.error_body.substr(0, 500);
      nlohmann::json j = JsonNestingDepth(t.error_body) > kMaxJsonDepth
                             ? nlohmann::json(nullptr)
                             : nlohmann::json::parse(t.error_body, nullptr, false);
      if (j.is_object() && j.contains("error") && !j["error"].is_null()) msg = ErrorMessageOf(j["error"]);
      const std::string where = url + ": HTTP " + std::to_string(t.http_status) + (msg.empty() ? "" : ": " + msg);
      if (t.http_status == 429 || t.http_status >= 500) {
        *retryable = true;
        return Status::Unavailable(where);
      }
      if (t.http_status == 401) return Status::Unauthenticated(where + " (check the API key)");
      if (t.http_status == 403) return Status::PermissionDenied(where);
      if (t.http_status == 404) return Status::NotFound(where + " (check --llm-url, which should end in /v1, and --llm-model)");
      return Status::InvalidArgument(where);
    }
    if (t.stream_error) return Status::Unavailable(url + ": the server reported an error mid-stream: " + t.stream_error_message);
    if (!t.done && !t.streamed) {
      *retryable = true;
      return Status::Unavailable(url + ": the response ended without any text or [DONE]; is this an OpenAI-compatible endpoint?");
    }
    return Status::Ok();
  }

  RemoteBrainOptions o_;
};

}  // namespace

std::unique_ptr<Brain> CreateRemoteBrain(RemoteBrainOptions options) {
  return std::make_unique<RemoteBrain>(std::move(options));
}

}  // namespace cadence::brain
