// HTTP routes that are not the WebSocket upgrade: /healthz, /v1/models, /v1/personas (JSON with
// CORS), CORS preflight, and static files of the web page. Also the JSON error responses the
// upgrade path returns (400, 401, 404, 426, 503).
//
// Internal to src/server/. Pure functions of the request and the shared state; any IO thread.
#pragma once

#include <boost/beast/http.hpp>
#include <string_view>

#include "server/server_state.h"

namespace cadence::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// A JSON error response in OpenAI's shape, with CORS headers.
HttpResponse JsonError(const HttpRequest& request, boost::beast::http::status status, std::string_view type,
                       std::string_view code, std::string_view message, std::string_view param = {});

// Answers a plain (non-upgrade) HTTP request.
HttpResponse HandleHttpRequest(const HttpRequest& request, ServerState& state);

}  // namespace cadence::server
