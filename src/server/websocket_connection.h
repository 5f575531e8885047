// WebSocketConnection: one upgraded /v1/realtime socket carrying one realtime::Session.
//
// Internal to src/server/. Lives on its own strand: the read loop, the write queue and every
// Session call run there. The object lives as long as its pending operations (shared_from_this).
// Reads are taken in pieces so a frame over max_frame_bytes is discarded while it arrives (memory
// stays bounded) and answered with an error event; the session keeps working. Writes go through a
// queue with one write in flight. Back-pressure: while the unsent bytes (not counting the one
// being written) are over half of max_write_queue_bytes, no client event is read, so a client that
// sends faster than it reads is slowed down, not dropped. Past the whole limit (only events the
// server makes on its own, such as audio, can get there) the client is sent a `client_not_reading`
// error and closed with 1008.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "realtime/session.h"
#include "server/server_state.h"

namespace cadence::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

using Strand = asio::strand<asio::io_context::executor_type>;

class WebSocketConnection : public std::enable_shared_from_this<WebSocketConnection> {
 public:
  // `address` is the peer's IP address, whose session slot (PeerLimits) this connection holds.
  WebSocketConnection(beast::tcp_stream stream, Strand strand, std::shared_ptr<ServerState> state,
                      realtime::SessionOptions options, std::string answer_protocol, std::string address);
  ~WebSocketConnection();

  // Completes the upgrade for `request` and runs the connection until it closes. Call once.
  void Start(http::request<http::string_body> request);

  // SessionIo, on the strand (Send also accepts other threads by posting).
  void Send(std::string json);
  void Post(std::function<void()> fn);
  void PostAfter(int delay_ms, std::function<void()> fn);
  // The session ended itself: close (1000) once what is queued has been sent.
  void CloseAfterFlush(const std::string& reason);

  // From any thread: close with 1001 (going away); the socket is cut after a short grace period.
  void Shutdown();

  void set_registry_id(uint64_t id) { registry_id_ = id; }

 private:
  asio::awaitable<void> Run(http::request<http::string_body> request);
  asio::awaitable<void> ReadLoop();
  void DoWrite();
  void OnWrite(beast::error_code ec);
  void Abort(const std::string& reason);
  // The client stopped reading: drop what it has not read, tell it why, close with 1008.
  void CloseNotReading();
  size_t waiting_bytes() const { return queued_bytes_ - (writing_ ? queue_.front().size() : 0); }
  void BeginClose(websocket::close_code code, const std::string& reason);
  void Finish();

  websocket::stream<beast::tcp_stream> ws_;
  Strand strand_;
  std::shared_ptr<ServerState> state_;
  realtime::SessionOptions options_;
  std::string answer_protocol_;
  std::string address_;
  std::shared_ptr<realtime::Session> session_;
  uint64_t registry_id_ = 0;

  // All below: touched on the strand only.
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;         // no more sends: aborted, closing or finished
  bool close_pending_ = false;  // close once the in-flight write completes
  websocket::close_reason pending_close_;
  std::string close_reason_;
  bool finished_ = false;
  bool counted_ = false;        // counted in active_sessions
  int64_t frames_in_ = 0;
  int64_t events_out_ = 0;
  std::unique_ptr<asio::steady_timer> shutdown_timer_;
  // Back-pressure: the read loop waits on this while the write queue is over half its limit.
  asio::steady_timer read_resume_;
  bool read_paused_ = false;
  std::list<std::shared_ptr<asio::steady_timer>> timers_;  // PostAfter's, cancelled by Finish
  std::chrono::steady_clock::time_point opened_ = std::chrono::steady_clock::now();
};

}  // namespace cadence::server
