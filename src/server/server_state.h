// ServerState: what the listener, the HTTP routes and every WebSocket connection share.
//
// Internal to src/server/. The config is immutable after Start; counters are atomics; the
// connection registry (for shutdown and /healthz) is guarded by `mu`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "server/server.h"

namespace cadence::server {

class WebSocketConnection;

struct ServerState {
  explicit ServerState(ServerConfig c) : config(std::move(c)), peers(config.peer_limits) {}
  ServerConfig config;
  PeerLimits peers;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int64_t started_unix_s = 0;
  std::atomic<int64_t> active_sessions{0};
  std::atomic<int64_t> total_sessions{0};
  std::atomic<int64_t> closed_slow_clients{0};
  std::atomic<int64_t> refused_connections{0};
  std::atomic<bool> stopping{false};

  std::mutex mu;
  std::unordered_map<uint64_t, std::weak_ptr<WebSocketConnection>> connections;  // guarded by mu
  uint64_t next_connection_id = 1;                                               // guarded by mu
};

}  // namespace cadence::server
