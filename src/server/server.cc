#include "server/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <malloc.h>
#include <pthread.h>

#include <csignal>
#include <ctime>
#include <future>
#include <random>
#include <thread>
#include <vector>

#include "core/log.h"
#include "server/http_routes.h"
#include "server/http_target.h"
#include "server/websocket_connection.h"
#include "speech/asr/recognizer.h"

namespace cadence::server {
namespace {

using tcp = asio::ip::tcp;
using asio::use_awaitable;

constexpr auto kHttpTimeout = std::chrono::seconds(30);
constexpr size_t kHttpBodyLimit = 64u << 10;
constexpr const char* kDefaultModel = "step-2.5-realtime";

std::string NewSessionId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string id = "sess_";
  for (int i = 0; i < 20; ++i) id.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
  return id;
}

std::string PeerName(const tcp::socket& socket) {
  beast::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

template <typename Socket>
std::string PeerAddress(const Socket& socket) {
  beast::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? "?" : endpoint.address().to_string();
}

// At most one warning per `period` for floods (each refusal is also logged at debug level).
bool WarnNow(std::atomic<int64_t>& last_ms, int64_t period_ms) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t last = last_ms.load();
  return now - last >= period_ms && last_ms.compare_exchange_strong(last, now);
}

// Decides an upgrade request: nullopt to go ahead, else the HTTP response that refuses it.
std::optional<HttpResponse> CheckUpgrade(const HttpRequest& request, ServerState& state, const std::string& peer,
                                         const std::string& address, realtime::SessionOptions* options,
                                         std::string* answer_protocol) {
  const auto target = ParseTarget(request.target());
  if (!target)
    return JsonError(request, http::status::bad_request, "invalid_request_error", "invalid_target",
                     "malformed request target");
  if (target->path != "/v1/realtime")
    return JsonError(request, http::status::not_found, "invalid_request_error", "not_found",
                     "WebSocket upgrades are served at /v1/realtime only, not " + target->path);
  if (!IsValidWebSocketKey(request[http::field::sec_websocket_key])) {
    return JsonError(request, http::status::bad_request, "invalid_request_error", "invalid_websocket_key",
                     "Sec-WebSocket-Key must be the base64 of 16 bytes (RFC 6455 section 4.1)");
  }
  if (!IsOriginAllowed(request[http::field::origin], request[http::field::host], state.config.allowed_origins)) {
    CADENCE_LOG(kWarn, "server", "refused upgrade peer=%s: Origin '%s' is not allowed (--allowed-origins)",
                peer.c_str(), std::string(request[http::field::origin]).c_str());
    return JsonError(request, http::status::forbidden, "invalid_request_error", "origin_not_allowed",
                     "this server does not accept WebSocket connections from pages of origin '" +
                         std::string(request[http::field::origin]).substr(0, 128) +
                         "'; its operator can add it with --allowed-origins");
  }
  const Handshake handshake = ReadHandshake(request[http::field::authorization], request["OpenAI-Beta"],
                                            request[http::field::sec_websocket_protocol]);
  if (state.config.auth_required && state.peers.AuthBlocked(address)) {
    return JsonError(request, http::status::too_many_requests, "invalid_request_error", "too_many_failed_auth",
                     "too many failed API key attempts from this address; wait a minute");
  }
  if (state.config.auth_required && !state.config.keys.Contains(handshake.api_key)) {
    const bool missing = handshake.api_key.empty();
    CADENCE_LOG(kWarn, "server", "auth failed peer=%s: %s", peer.c_str(), missing ? "no API key" : "wrong API key");
    if (state.peers.AuthFailed(address))
      CADENCE_LOG(kWarn, "server", "peer %s: %d failed API key attempts in a minute; refusing it until the minute ends",
                  address.c_str(), state.config.peer_limits.failed_auth_per_min);
    return JsonError(request, http::status::unauthorized, "invalid_request_error",
                     missing ? "missing_api_key" : "invalid_api_key",
                     missing ? "no API key: send `Authorization: Bearer KEY` or the subprotocol "
                               "`openai-insecure-api-key.KEY`"
                             : "incorrect API key provided");
  }
  std::string model = kDefaultModel;
  if (auto it = target->query.find("model"); it != target->query.end()) model = it->second;
  if (!realtime::IsKnownModel(model)) {
    std::string known;
    for (const auto& m : realtime::KnownModels()) known += (known.empty() ? "" : ", ") + m;
    CADENCE_LOG(kWarn, "server", "refused upgrade peer=%s: unknown model '%s'", peer.c_str(), model.c_str());
    return JsonError(request, http::status::bad_request, "invalid_request_error", "model_not_found",
                     "unknown model '" + model + "'; known models: " + known, "model");
  }
  if (state.active_sessions.load() >= state.config.max_sessions) {
    CADENCE_LOG(kWarn, "server", "refused upgrade peer=%s: %d sessions already open (--max-sessions)", peer.c_str(),
                state.config.max_sessions);
    return JsonError(request, http::status::service_unavailable, "server_error", "too_many_sessions",
                     "the server holds its maximum of " + std::to_string(state.config.max_sessions) +
                         " sessions; try again later");
  }
  if (!state.config.session_factory) {
    return JsonError(request, http::status::service_unavailable, "server_error", "session_unavailable",
                     "this build has no realtime session");
  }
  if (!state.peers.OpenSession(address)) {
    CADENCE_LOG(kWarn, "server", "refused upgrade peer=%s: it holds %d sessions (--max-sessions-per-peer)",
                peer.c_str(), state.config.peer_limits.max_sessions);
    return JsonError(request, http::status::too_many_requests, "invalid_request_error", "too_many_sessions_for_peer",
                     "this address already holds " + std::to_string(state.config.peer_limits.max_sessions) +
                         " sessions; close one first");
  }
  options->session_id = NewSessionId();
  options->model = model;
  options->beta = handshake.beta;
  options->peer = peer;
  options->limits = state.config.session_limits;
  *answer_protocol = handshake.answer_protocol;
  return std::nullopt;
}

asio::awaitable<void> HandleHttpConnection(tcp::socket socket, Strand strand, std::shared_ptr<ServerState> state) {
  const std::string peer = PeerName(socket);
  const std::string address = PeerAddress(socket);
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    if (state->stopping.load()) break;
    stream.expires_after(kHttpTimeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(16u << 10);
    parser.body_limit(kHttpBodyLimit);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(use_awaitable));
    if (ec) {
      if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::operation_aborted &&
          ec != asio::error::connection_reset) {
        CADENCE_LOG(kDebug, "server", "http read from %s: %s", peer.c_str(), ec.message().c_str());
        HttpRequest empty;
        auto res = JsonError(empty, http::status::bad_request, "invalid_request_error", "bad_request",
                             "malformed HTTP request: " + ec.message());
        res.keep_alive(false);
        co_await http::async_write(stream, res, asio::as_tuple(use_awaitable));
      }
      break;
    }
    HttpRequest request = parser.release();
    if (websocket::is_upgrade(request)) {
      realtime::SessionOptions options;
      std::string answer_protocol;
      if (auto refusal = CheckUpgrade(request, *state, peer, address, &options, &answer_protocol)) {
        state->refused_connections.fetch_add(1);
        refusal->keep_alive(false);
        co_await http::async_write(stream, *refusal, asio::as_tuple(use_awaitable));
        break;
      }
      stream.expires_never();
      // The connection holds the peer's session slot that CheckUpgrade took.
      auto connection = std::make_shared<WebSocketConnection>(std::move(stream), strand, state, std::move(options),
                                                              std::move(answer_protocol), address);
      {
        std::lock_guard<std::mutex> lock(state->mu);
        const uint64_t id = state->next_connection_id++;
        connection->set_registry_id(id);
        state->connections.emplace(id, connection);
      }
      connection->Start(std::move(request));
      co_return;
    }
    HttpResponse response = HandleHttpRequest(request, *state);
    const bool keep_alive = response.keep_alive();
    auto [write_ec, written] = co_await http::async_write(stream, response, asio::as_tuple(use_awaitable));
    if (write_ec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

SessionFactory DefaultSessionFactory() { return &realtime::Session::Create; }

struct Server::Impl {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{io};
  std::shared_ptr<ServerState> state;
  std::atomic<int64_t> last_flood_warning_ms{0};
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;

  // Every few seconds: engines free what stayed idle (pooled decoders), and after sessions closed
  // the allocator gives their freed buffers back to the system (glibc keeps freed heap memory,
  // and raises its mmap threshold after big frees, so a closed session's megabytes would stay).
  asio::awaitable<void> Janitor() {
    asio::steady_timer timer(io);
    int64_t closed_seen = 0;
    for (;;) {
      timer.expires_after(std::chrono::seconds(5));
      auto [ec] = co_await timer.async_wait(asio::as_tuple(use_awaitable));
      if (ec || state->stopping.load()) co_return;
      const bool released = state->config.engines.asr != nullptr && state->config.engines.asr->ReleaseIdle();
      const int64_t closed = state->total_sessions.load() - state->active_sessions.load();
      if (closed != closed_seen || released) {
        closed_seen = closed;
        malloc_trim(0);
      }
    }
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      Strand strand = asio::make_strand(io);
      auto [ec, socket] = co_await acceptor.async_accept(strand, asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        // Out of file descriptors and the like: log, pause briefly, keep serving.
        CADENCE_LOG(kWarn, "server", "accept failed: %s", ec.message().c_str());
        asio::steady_timer pause(io, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(use_awaitable));
        continue;
      }
      beast::error_code ignored;
      if (const std::string address = PeerAddress(socket); !state->peers.AdmitConnection(address)) {
        state->refused_connections.fetch_add(1);
        CADENCE_LOG(kDebug, "server", "refused a connection from %s: over its connection rate", address.c_str());
        if (WarnNow(last_flood_warning_ms, 10000))
          CADENCE_LOG(kWarn, "server", "refusing connections from %s: more than %.0f new connections per second "
                      "(--max-connections-per-s-per-peer)", address.c_str(), state->config.peer_limits.connections_per_s);
        socket.close(ignored);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ignored);
      asio::co_spawn(strand, HandleHttpConnection(std::move(socket), strand, state), [](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          CADENCE_LOG(kError, "server", "http connection: internal error: %s", ex.what());
        } catch (...) {
        }
      });
    }
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(ServerConfig config) {
  if (config.io_threads < 1) return Status::InvalidArgument("--threads must be at least 1");
  if (config.auth_required && config.keys.empty())
    return Status::InvalidArgument("auth is required but no API key is configured: give --keys FILE or CADENCE_API_KEYS");
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec)
    return Status::InvalidArgument("--host '" + config.host + "' is not an IP address (use 127.0.0.1, 0.0.0.0 or ::1)");
  const tcp::endpoint endpoint(address, config.port);
  const std::string where = config.host + ":" + std::to_string(config.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message() + " (try another --port)");
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  impl->state = std::make_shared<ServerState>(std::move(config));
  impl->state->started_unix_s = static_cast<int64_t>(std::time(nullptr));
  impl->work.emplace(impl->io.get_executor());
  asio::co_spawn(impl->io, impl->AcceptLoop(), asio::detached);
  asio::co_spawn(impl->io, impl->Janitor(), asio::detached);
  const int threads = impl->state->config.io_threads;
  for (int i = 0; i < threads; ++i) impl->threads.emplace_back([io = &impl->io] { io->run(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }

ServerStats Server::stats() const {
  ServerStats s;
  s.active_sessions = impl_->state->active_sessions.load();
  s.total_sessions = impl_->state->total_sessions.load();
  s.closed_slow_clients = impl_->state->closed_slow_clients.load();
  s.refused_connections = impl_->state->refused_connections.load();
  return s;
}

namespace {
sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

void Server::BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int Server::WaitForShutdownSignal() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  int received = 0;
  while (sigwait(&set, &received) != 0) {
  }
  return received;
}

void Server::Stop(int grace_ms) {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  auto& state = *impl_->state;
  state.stopping.store(true);
  asio::post(impl_->io, [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<WebSocketConnection>> open;
  {
    std::lock_guard<std::mutex> lock(state.mu);
    for (auto& [id, weak] : state.connections)
      if (auto c = weak.lock()) open.push_back(std::move(c));
  }
  for (auto& c : open) c->Shutdown();
  open.clear();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (state.active_sessions.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (state.active_sessions.load() > 0)
    CADENCE_LOG(kWarn, "server", "%lld sessions still open after %d ms; stopping anyway",
                static_cast<long long>(state.active_sessions.load()), grace_ms);
  impl_->work.reset();
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
}

}  // namespace cadence::server
