#include "brain/sse_client.h"

#include <curl/curl.h>

#include <chrono>
#include <mutex>

#include "core/json_depth.h"

namespace cadence::brain {

namespace {

using Clock = std::chrono::steady_clock;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One transfer's state, shared with libcurl's callbacks.
struct Transfer {
  const SseHandler* handler = nullptr;
  const CancelToken* cancel = nullptr;
  std::string line_buffer;
  std::string error_body;  // non-SSE body (an HTTP error's JSON)
  bool got_data = false;
  bool complete = false;
  bool stopped = false;
  bool failed = false;     // our callback ended the transfer
  std::string failure;
  Clock::time_point start, last_data;
  int first_byte_timeout_ms = 0, idle_timeout_ms = 0;
  bool timed_out = false;
};

void HandleLine(Transfer& t, const std::string& line) {
  if (t.stopped) return;
  if (line.rfind("data:", 0) != 0) {
    if (!line.empty() && line[0] != ':' && line.rfind("event:", 0) != 0 && line.rfind("id:", 0) != 0 &&
        line.rfind("retry:", 0) != 0)
      if (t.error_body.size() < (64u << 10)) t.error_body += line;
    return;
  }
  std::string_view payload(line);
  payload.remove_prefix(5);
  if (!payload.empty() && payload[0] == ' ') payload.remove_prefix(1);
  if (payload == "[DONE]") {
    t.complete = true;
    return;
  }
  t.got_data = true;
  t.last_data = Clock::now();
  switch ((*t.handler)(payload)) {
    case SseControl::kContinue: break;
    case SseControl::kComplete: t.complete = true; break;
    case SseControl::kStop: t.stopped = true; break;
  }
}

size_t OnWriteUnguarded(Transfer& t, const char* data, size_t bytes) {
  // A line longer than this is no chat-completions chunk: stop rather than buffer it.
  constexpr size_t kMaxLineBytes = 4u << 20;
  t.line_buffer.append(data, bytes);
  if (t.line_buffer.size() > kMaxLineBytes && t.line_buffer.find('\n') == std::string::npos) {
    t.failed = true;
    t.failure = "a reply line passed " + std::to_string(kMaxLineBytes >> 20) + " MiB without a newline";
    return 0;
  }
  size_t pos;
  while ((pos = t.line_buffer.find('\n')) != std::string::npos) {
    std::string line = t.line_buffer.substr(0, pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    t.line_buffer.erase(0, pos + 1);
    HandleLine(t, line);
    if (t.stopped) return 0;  // ends the transfer
  }
  return bytes;
}

// libcurl calls this from C: nothing may throw through it. Any exception (the handler's, a JSON
// accessor's) ends the transfer with an error instead of terminating the process.
size_t OnWrite(char* data, size_t size, size_t n, void* user) {
  Transfer& t = *static_cast<Transfer*>(user);
  try {
    return OnWriteUnguarded(t, data, size * n);
  } catch (const std::exception& e) {
    t.failed = true;
    t.failure = std::string("could not read the reply: ") + e.what();
    return 0;  // tells libcurl to abort the transfer
  }
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  Transfer& t = *static_cast<Transfer*>(user);
  if (t.cancel->cancelled() || t.stopped) return 1;
  const auto now = Clock::now();
  auto ms = [&](Clock::time_point since) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count();
  };
  if (!t.got_data && ms(t.start) > t.first_byte_timeout_ms) t.timed_out = true;
  if (t.got_data && ms(t.last_data) > t.idle_timeout_ms) t.timed_out = true;
  return t.timed_out ? 1 : 0;
}

}  // namespace

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

SseResult StreamSse(const SseRequest& request, const CancelToken& cancel, const SseHandler& handler) {
  GlobalInitOnce();
  SseResult r;
  const std::string& url = request.url;
  CURL* curl = curl_easy_init();
  if (!curl) {
    r.status = Status::Internal(url + ": curl_easy_init failed");
    return r;
  }
  Transfer t;
  t.handler = &handler;
  t.cancel = &cancel;
  t.start = t.last_data = Clock::now();
  t.first_byte_timeout_ms = request.first_byte_timeout_ms;
  t.idle_timeout_ms = request.idle_timeout_ms;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  // No "Expect: 100-continue" for large bodies (a request with audio passes 1 MB): it would cost
  // a round trip, or a whole second with a server that does not answer it.
  headers = curl_slist_append(headers, "Expect:");
  const std::string auth = "Authorization: Bearer " + request.api_key;
  if (!request.api_key.empty()) headers = curl_slist_append(headers, auth.c_str());
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout_ms));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  // Driven through a multi handle rather than curl_easy_perform: while the server is silent (a
  // stalled or busy model) libcurl calls OnProgress only about once a second, so a cancel (a
  // barge-in) could wait that long. Polling at most kPollMs at a time checks it promptly.
  constexpr int kPollMs = 20;
  CURLcode rc = CURLE_OK;
  CURLM* multi = curl_multi_init();
  if (!multi) {
    rc = CURLE_OUT_OF_MEMORY;
  } else {
    curl_multi_add_handle(multi, curl);
    int running = 1;
    while (running > 0) {
      if (curl_multi_perform(multi, &running) != CURLM_OK) {
        rc = CURLE_RECV_ERROR;
        break;
      }
      if (running == 0) break;
      if (cancel.cancelled()) {
        rc = CURLE_ABORTED_BY_CALLBACK;
        break;
      }
      if (curl_multi_poll(multi, nullptr, 0, kPollMs, nullptr) != CURLM_OK) {
        rc = CURLE_RECV_ERROR;
        break;
      }
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == curl) rc = msg->data.result;
    }
    curl_multi_remove_handle(multi, curl);
    curl_multi_cleanup(multi);
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.http_status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (!t.line_buffer.empty() && !t.failed && !t.stopped && !cancel.cancelled()) {
    try {
      HandleLine(t, t.line_buffer);  // a last line without its newline
    } catch (const std::exception& e) {
      t.failed = true;
      t.failure = std::string("could not read the reply: ") + e.what();
    }
  }
  r.got_data = t.got_data;
  r.complete = t.complete;
  r.stopped = t.stopped;

  if (cancel.cancelled()) {
    r.status = Status::Cancelled(url + ": cancelled");
    return r;
  }
  if (t.failed) {
    r.status = Status::Unavailable(url + ": " + t.failure);
    return r;
  }
  if (t.stopped) return r;  // Ok: the handler has what it wants (or its own error)
  if (t.timed_out) {
    r.retryable = true;
    r.status = Status::Unavailable(url + ": no reply within " +
                                   std::to_string(t.got_data ? request.idle_timeout_ms : request.first_byte_timeout_ms) +
                                   " ms; is the model server overloaded?");
    return r;
  }
  if (rc != CURLE_OK && !(t.complete && rc == CURLE_PARTIAL_FILE)) {
    r.retryable = !t.got_data;
    r.ended_early = t.got_data;
    r.status = Status::Unavailable(url + ": " + (error[0] ? std::string(error) : curl_easy_strerror(rc)) +
                                   (t.got_data ? "; the stream was cut" : "; " + request.unreachable_hint));
    return r;
  }
  if (r.http_status >= 400) {
    std::string msg = t.error_body.substr(0, 500);
    nlohmann::json j = JsonNestingDepth(t.error_body) > kMaxJsonDepth ? nlohmann::json(nullptr)
                                                                       : nlohmann::json::parse(t.error_body, nullptr, false);
    if (j.is_object() && j.contains("error") && !j["error"].is_null()) msg = ErrorMessageOf(j["error"]);
    const std::string where = url + ": HTTP " + std::to_string(r.http_status) + (msg.empty() ? "" : ": " + msg);
    if (r.http_status == 429 || r.http_status >= 500) {
      r.retryable = true;
      r.status = Status::Unavailable(where);
    } else if (r.http_status == 401) {
      r.status = Status::Unauthenticated(where + " (check the API key)");
    } else if (r.http_status == 403) {
      r.status = Status::PermissionDenied(where);
    } else if (r.http_status == 404) {
      r.status = Status::NotFound(where + " (check the URL, which should end in /v1, and the model name)");
    } else {
      r.status = Status::InvalidArgument(where);
    }
    return r;
  }
  if (!t.complete) {
    r.ended_early = true;
    r.retryable = !t.got_data;
    r.status = Status::Unavailable(
        url + (t.got_data ? ": the stream ended before [DONE] (cut mid-answer)"
                          : ": the response ended without any data or [DONE]; is this an OpenAI-compatible endpoint?"));
    return r;
  }
  return r;
}

}  // namespace cadence::brain
