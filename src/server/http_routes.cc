#include "server/http_routes.h"

#include "core/log.h"
#include "realtime/http_api.h"
#include "server/http_target.h"
#include "server/static_files.h"

namespace cadence::server {
namespace {

namespace http = boost::beast::http;

void AddCors(HttpResponse& res) {
  res.set(http::field::access_control_allow_origin, "*");
  res.set(http::field::access_control_allow_methods, "GET, HEAD, OPTIONS");
  res.set(http::field::access_control_allow_headers, "Authorization, Content-Type, OpenAI-Beta");
  res.set(http::field::access_control_max_age, "600");
}

HttpResponse Respond(const HttpRequest& request, http::status status, std::string body, std::string_view type) {
  HttpResponse res(status, request.version());
  res.set(http::field::server, "cadence/0.1");
  res.set(http::field::content_type, type);
  res.keep_alive(request.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  if (request.method() == http::verb::head) res.body().clear();  // Content-Length stays that of GET
  return res;
}

HttpResponse Json(const HttpRequest& request, std::string body) {
  HttpResponse res = Respond(request, http::status::ok, std::move(body), "application/json");
  res.set(http::field::cache_control, "no-store");
  AddCors(res);
  return res;
}

}  // namespace

HttpResponse JsonError(const HttpRequest& request, http::status status, std::string_view type, std::string_view code,
                       std::string_view message, std::string_view param) {
  HttpResponse res = Respond(request, status, realtime::HttpErrorJson(type, code, message, param), "application/json");
  res.set(http::field::cache_control, "no-store");
  AddCors(res);
  return res;
}

HttpResponse HandleHttpRequest(const HttpRequest& request, ServerState& state) {
  const auto target = ParseTarget(request.target());
  if (!target)
    return JsonError(request, http::status::bad_request, "invalid_request_error", "invalid_target",
                     "malformed request target '" + std::string(request.target()) + "'");
  const std::string& path = target->path;
  const bool api = path == "/healthz" || path.rfind("/v1/", 0) == 0;

  if (request.method() == http::verb::options) {
    HttpResponse res(http::status::no_content, request.version());
    res.set(http::field::server, "cadence/0.1");
    res.keep_alive(request.keep_alive());
    AddCors(res);
    res.prepare_payload();
    return res;
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    HttpResponse res = JsonError(request, http::status::method_not_allowed, "invalid_request_error",
                                 "method_not_allowed",
                                 std::string(request.method_string()) + " " + path + " is not supported: use GET");
    res.set(http::field::allow, "GET, HEAD, OPTIONS");
    return res;
  }

  if (path == "/healthz") {
    realtime::HealthInfo info = state.config.health;
    info.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - state.started).count();
    info.active_sessions = state.active_sessions.load();
    info.total_sessions = state.total_sessions.load();
    info.auth_required = state.config.auth_required;
    return Json(request, realtime::HealthJson(info));
  }
  // With keys configured, the API routes need one as the WebSocket does; /healthz (for load
  // balancers and probes) and the web page (which asks for a key itself) stay public.
  if (state.config.auth_required && (path == "/v1/models" || path == "/v1/personas" || path == "/v1/voices")) {
    const std::string_view key = BearerToken(request[http::field::authorization]);
    if (!state.config.keys.Contains(key)) {
      return JsonError(request, http::status::unauthorized, "invalid_request_error",
                       key.empty() ? "missing_api_key" : "invalid_api_key",
                       key.empty() ? "no API key: send `Authorization: Bearer KEY`" : "incorrect API key provided");
    }
  }
  if (path == "/v1/models") return Json(request, realtime::ModelsJson(state.started_unix_s));
  if (path == "/v1/personas") {
    return Json(request, state.config.personas_json.empty() ? realtime::PersonasJson({}, "")
                                                            : state.config.personas_json);
  }
  if (path == "/v1/voices")
    return Json(request, state.config.voices_json.empty() ? realtime::VoicesJson({}, "") : state.config.voices_json);
  if (path == "/v1/realtime") {
    HttpResponse res = JsonError(request, http::status::upgrade_required, "invalid_request_error",
                                 "websocket_required",
                                 "/v1/realtime is a WebSocket endpoint: connect with ws://HOST:PORT/v1/realtime?model=step-2.5-realtime");
    res.set(http::field::upgrade, "websocket");
    return res;
  }
  if (api)
    return JsonError(request, http::status::not_found, "invalid_request_error", "not_found",
                     "no route " + path + " (routes: /v1/realtime, /v1/models, /v1/personas, /v1/voices, /healthz)");

  if (state.config.web_dir.empty())
    return JsonError(request, http::status::not_found, "invalid_request_error", "not_found",
                     "no web page is served (start with --web-dir DIR)");
  auto file = LoadStaticFile(state.config.web_dir, path);
  if (!file.ok()) {
    const auto code = file.status().code();
    if (code == StatusCode::kPermissionDenied) {
      CADENCE_LOG(kWarn, "server", "refused static path '%s': %s", path.c_str(), file.status().message().c_str());
      return JsonError(request, http::status::forbidden, "invalid_request_error", "forbidden",
                       file.status().message());
    }
    return JsonError(request, http::status::not_found, "invalid_request_error", "not_found", file.status().message());
  }
  HttpResponse res = Respond(request, http::status::ok, std::move(file->body), file->content_type);
  res.set(http::field::cache_control, file->cache_control);
  res.set("X-Content-Type-Options", "nosniff");
  return res;
}

}  // namespace cadence::server
