// Server: the HTTP + WebSocket front door of Cadence (Boost.Beast on one Asio io_context).
//
// Routes: GET /v1/realtime?model=M upgraded to a WebSocket that carries one realtime::Session;
// GET /healthz, /v1/models, /v1/personas (JSON, CORS); everything else from the web root.
// Threading: `io_threads` threads run the io_context; each connection lives on its own strand and
// its Session is only touched there. Outgoing events go through a bounded write queue with one
// write in flight; a client that stops reading is closed when its queue passes the limit.
// Ownership: the Server owns its threads and sockets; Engines pointers in the config must outlive
// it. Start() returns once listening; Stop() (or the destructor) closes every session and joins.
// This header is Asio-free so that the CLI need not include Asio.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "realtime/http_api.h"
#include "realtime/session.h"
#include "server/auth.h"
#include "server/peer_limits.h"

namespace cadence::server {

using SessionFactory = std::function<std::shared_ptr<realtime::Session>(
    const realtime::Engines&, realtime::SessionOptions, std::shared_ptr<realtime::SessionIo>)>;

// realtime::Session::Create when the realtime library provides it (empty while it does not, and
// upgrades are then answered 503).
SessionFactory DefaultSessionFactory();

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;          // 0: any free port (see Server::port())
  int io_threads = 2;
  ApiKeys keys;
  bool auth_required = false;    // true: every upgrade needs one of `keys`
  std::string web_dir;           // static files; "" serves none
  std::vector<std::string> allowed_origins;  // browser Origins beyond the server's own page ("*": any)
  size_t max_frame_bytes = 15u << 20;        // a bigger client frame is dropped with an error event
  // Unsent events (not counting the one being written). Past half of it the connection stops
  // reading client events until the client has read what it was sent (back-pressure); past all of
  // it (only server-made events can get there) the client is sent `client_not_reading` and closed.
  size_t max_write_queue_bytes = 8u << 20;
  int max_sessions = 256;                    // further upgrades get HTTP 503
  realtime::SessionLimits session_limits;    // passed to each Session
  PeerLimitsConfig peer_limits;
  realtime::Engines engines;
  SessionFactory session_factory = DefaultSessionFactory();
  realtime::HealthInfo health;               // engine names and version for /healthz
  std::string personas_json;                 // body of /v1/personas ("" = empty list)
  std::string voices_json;                   // body of /v1/voices ("" = empty list)
};

struct ServerStats {
  int64_t active_sessions = 0;
  int64_t total_sessions = 0;
  int64_t closed_slow_clients = 0;  // closed because their write queue passed the limit
  int64_t refused_connections = 0;  // over a per-peer limit, a bad Origin or failed auth
};

class Server {
 public:
  // Binds and starts listening. InvalidArgument for a bad config (bad host, auth without keys),
  // Unavailable when the address cannot be bound (port in use), naming host:port.
  static Result<std::unique_ptr<Server>> Start(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  ServerStats stats() const;
  // Blocks SIGINT and SIGTERM in the calling thread and every thread it creates afterwards, so
  // that they wait for WaitForShutdownSignal. Call first thing, before any thread is started.
  static void BlockShutdownSignals();
  // Blocks until SIGINT or SIGTERM arrives; returns the signal number.
  static int WaitForShutdownSignal();
  // Closes the listener, closes every session (going away), waits up to `grace_ms` for them to
  // finish, then stops and joins the IO threads. Idempotent.
  void Stop(int grace_ms = 2000);

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadence::server
