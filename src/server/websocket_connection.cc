#include "server/websocket_connection.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/log.h"
#include "realtime/http_api.h"

namespace cadence::server {
namespace {

constexpr size_t kReadChunkBytes = 64u << 10;
// Enough of an oversized frame to find its event_id in.
constexpr size_t kOversizedPrefixBytes = 4096;
constexpr auto kShutdownGrace = std::chrono::milliseconds(1000);

// The Session's view of the connection. Holds the connection weakly: the connection owns the
// Session, so a strong pointer here would be a cycle.
class ConnectionIo : public realtime::SessionIo {
 public:
  explicit ConnectionIo(std::weak_ptr<WebSocketConnection> connection) : connection_(std::move(connection)) {}
  void Send(std::string json) override {
    if (auto c = connection_.lock()) c->Send(std::move(json));
  }
  void Post(std::function<void()> fn) override {
    if (auto c = connection_.lock()) c->Post(std::move(fn));
  }
  void PostAfter(int delay_ms, std::function<void()> fn) override {
    if (auto c = connection_.lock()) c->PostAfter(delay_ms, std::move(fn));
  }
  void Close(std::string reason) override {
    if (auto c = connection_.lock()) c->CloseAfterFlush(reason);
  }

 private:
  std::weak_ptr<WebSocketConnection> connection_;
};

std::string FormatMiB(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

}  // namespace

WebSocketConnection::WebSocketConnection(beast::tcp_stream stream, Strand strand,
                                         std::shared_ptr<ServerState> state, realtime::SessionOptions options,
                                         std::string answer_protocol, std::string address)
    : ws_(std::move(stream)),
      strand_(std::move(strand)),
      state_(std::move(state)),
      options_(std::move(options)),
      answer_protocol_(std::move(answer_protocol)),
      address_(std::move(address)),
      read_resume_(strand_) {}

WebSocketConnection::~WebSocketConnection() {
  state_->peers.CloseSession(address_);
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->connections.erase(registry_id_);
}

void WebSocketConnection::Start(http::request<http::string_body> request) {
  asio::co_spawn(strand_, Run(std::move(request)), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    // Exceptions stop here: one connection's failure never takes the process down.
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      CADENCE_LOG(kError, "server", "session %s: internal error: %s", self->options_.session_id.c_str(), ex.what());
    } catch (...) {
      CADENCE_LOG(kError, "server", "session %s: internal error", self->options_.session_id.c_str());
    }
    self->Abort("internal error");
    self->Finish();
  });
}

asio::awaitable<void> WebSocketConnection::Run(http::request<http::string_body> request) {
  auto self = shared_from_this();
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.set_option(websocket::stream_base::decorator([protocol = answer_protocol_](websocket::response_type& res) {
    res.set(http::field::server, "cadence/0.1");
    if (!protocol.empty()) res.set(http::field::sec_websocket_protocol, protocol);
  }));
  // Size is enforced per message in ReadLoop (discard and report, not fail the connection).
  ws_.read_message_max(0);
  ws_.auto_fragment(false);

  auto [ec] = co_await ws_.async_accept(request, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    CADENCE_LOG(kWarn, "server", "upgrade failed peer=%s: %s", options_.peer.c_str(), ec.message().c_str());
    closed_ = true;
    finished_ = true;
    co_return;
  }
  state_->active_sessions.fetch_add(1);
  state_->total_sessions.fetch_add(1);
  counted_ = true;
  CADENCE_LOG(kInfo, "session", "connect id=%s peer=%s model=%s names=%s protocol=%s", options_.session_id.c_str(),
              options_.peer.c_str(), options_.model.c_str(), options_.beta ? "beta" : "ga",
              answer_protocol_.empty() ? "-" : RedactedProtocol(answer_protocol_).c_str());

  session_ = state_->config.session_factory(state_->config.engines, options_,
                                            std::make_shared<ConnectionIo>(weak_from_this()));
  if (!session_) {
    Send(realtime::TransportErrorEventJson("server_error", "could not create a session", "", ""));
    BeginClose(websocket::close_code::internal_error, "could not create a session");
  } else {
    session_->Start();
  }
  co_await ReadLoop();
  Finish();
}

asio::awaitable<void> WebSocketConnection::ReadLoop() {
  beast::flat_buffer buffer;
  std::string oversized_prefix;
  size_t message_bytes = 0;
  bool oversized = false;
  const size_t max_frame = state_->config.max_frame_bytes;
  for (;;) {
    // Back-pressure: read no more client events while the client has not read what they made.
    while (!closed_ && waiting_bytes() > state_->config.max_write_queue_bytes / 2) {
      read_paused_ = true;
      read_resume_.expires_at(asio::steady_timer::time_point::max());
      co_await read_resume_.async_wait(asio::as_tuple(asio::use_awaitable));
      read_paused_ = false;
    }
    auto [ec, n] = co_await ws_.async_read_some(buffer, kReadChunkBytes, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (close_reason_.empty()) {
        if (ec == websocket::error::closed) {
          const auto& reason = ws_.reason();
          close_reason_ = "client closed code=" + std::to_string(reason.code) +
                          (reason.reason.empty() ? "" : " reason=" + std::string(reason.reason.c_str()));
        } else {
          close_reason_ = ec.message();
        }
      }
      co_return;
    }
    message_bytes += n;
    if (!oversized && message_bytes > max_frame) {
      oversized = true;
      const auto data = buffer.cdata();
      oversized_prefix.assign(static_cast<const char*>(data.data()), std::min(data.size(), kOversizedPrefixBytes));
      buffer.clear();
    } else if (oversized) {
      buffer.clear();
    }
    if (!ws_.is_message_done()) continue;

    ++frames_in_;
    if (oversized) {
      CADENCE_LOG(kWarn, "session", "id=%s dropped a frame of %zu bytes (limit %zu)", options_.session_id.c_str(),
                  message_bytes, max_frame);
      Send(realtime::TransportErrorEventJson(
          "frame_too_large",
          "frame of " + std::to_string(message_bytes) + " bytes exceeds the limit of " + std::to_string(max_frame) +
              " bytes; send audio in smaller input_audio_buffer.append events",
          "", realtime::ScanEventId(oversized_prefix)));
    } else if (!ws_.got_text()) {
      Send(realtime::TransportErrorEventJson(
          "invalid_frame", "binary frames are not part of the Realtime protocol: send JSON events as text frames",
          "", ""));
    } else if (session_) {
      const auto data = buffer.cdata();
      session_->OnClientFrame(std::string_view(static_cast<const char*>(data.data()), data.size()));
    }
    buffer.clear();
    // A big append leaves a big buffer behind; give it back rather than keep it per idle session.
    if (buffer.capacity() > (1u << 20)) buffer.shrink_to_fit();
    oversized_prefix.clear();
    message_bytes = 0;
    oversized = false;
  }
}

void WebSocketConnection::Send(std::string json) {
  if (!strand_.running_in_this_thread()) {
    asio::post(strand_, [self = shared_from_this(), json = std::move(json)]() mutable { self->Send(std::move(json)); });
    return;
  }
  if (closed_) return;
  queued_bytes_ += json.size();
  queue_.push_back(std::move(json));
  if (waiting_bytes() > state_->config.max_write_queue_bytes) {
    CloseNotReading();
    return;
  }
  if (!writing_) DoWrite();
}

void WebSocketConnection::CloseNotReading() {
  state_->closed_slow_clients.fetch_add(1);
  CADENCE_LOG(kWarn, "session", "id=%s peer=%s is not reading: %s of events unsent (limit %s), closing",
              options_.session_id.c_str(), options_.peer.c_str(), FormatMiB(waiting_bytes()).c_str(),
              FormatMiB(state_->config.max_write_queue_bytes).c_str());
  // Keep only the write in flight (its buffer is in use), then the reason, then the close.
  while (queue_.size() > (writing_ ? 1u : 0u)) {
    queued_bytes_ -= queue_.back().size();
    queue_.pop_back();
  }
  std::string error = realtime::TransportErrorEventJson(
      "client_not_reading",
      "the client did not read " + FormatMiB(state_->config.max_write_queue_bytes) +
          " of events sent to it; the session is closed",
      "", "");
  queued_bytes_ += error.size();
  queue_.push_back(std::move(error));
  BeginClose(websocket::close_code::policy_error, "client not reading");
  // A client that reads nothing will not read the close either.
  shutdown_timer_ = std::make_unique<asio::steady_timer>(strand_, kShutdownGrace * 5);
  shutdown_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec && !self->finished_) self->Abort("client not reading");
  });
}

void WebSocketConnection::PostAfter(int delay_ms, std::function<void()> fn) {
  if (finished_) return;
  auto timer = std::make_shared<asio::steady_timer>(strand_, std::chrono::milliseconds(delay_ms));
  timers_.push_back(timer);
  // Weakly held: a session's hour-long expiry timer must not keep a closed connection alive.
  timer->async_wait([weak = weak_from_this(), timer, fn = std::move(fn)](beast::error_code ec) {
    auto self = weak.lock();
    if (!self) return;
    self->timers_.remove(timer);
    if (!ec && !self->finished_) fn();
  });
}

void WebSocketConnection::CloseAfterFlush(const std::string& reason) {
  BeginClose(websocket::close_code::normal, reason);
  if (!shutdown_timer_) {
    shutdown_timer_ = std::make_unique<asio::steady_timer>(strand_, kShutdownGrace * 5);
    shutdown_timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->finished_) self->Abort("closed by the session");
    });
  }
}

void WebSocketConnection::Post(std::function<void()> fn) {
  asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)]() {
    if (!self->finished_) fn();
  });
}

void WebSocketConnection::DoWrite() {
  writing_ = true;
  ws_.text(true);
  ws_.async_write(asio::buffer(queue_.front()),
                  asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code ec, size_t) {
                    self->OnWrite(ec);
                  }));
}

void WebSocketConnection::OnWrite(beast::error_code ec) {
  writing_ = false;
  if (ec) {
    Abort("write failed: " + ec.message());
    return;
  }
  ++events_out_;
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  if (read_paused_ && waiting_bytes() <= state_->config.max_write_queue_bytes / 4) read_resume_.cancel();
  if (!queue_.empty() && !(closed_ && !close_pending_)) {
    DoWrite();
    return;
  }
  if (close_pending_ && queue_.empty()) {
    close_pending_ = false;
    ws_.async_close(pending_close_, asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code) {
                      // The read loop sees the close and finishes the connection.
                    }));
  }
}

void WebSocketConnection::BeginClose(websocket::close_code code, const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  read_resume_.cancel();  // a paused read loop goes on to read the client's close
  if (close_reason_.empty()) close_reason_ = reason;
  pending_close_ = websocket::close_reason(code, reason);
  if (writing_ || !queue_.empty()) {
    close_pending_ = true;  // flush what is queued first, then close
    if (!writing_) DoWrite();
    return;
  }
  ws_.async_close(pending_close_, asio::bind_executor(strand_, [self = shared_from_this()](beast::error_code) {}));
}

void WebSocketConnection::Abort(const std::string& reason) {
  if (close_reason_.empty()) close_reason_ = reason;
  closed_ = true;
  close_pending_ = false;
  read_resume_.cancel();
  beast::error_code ignored;
  // Cutting the socket fails the pending read and write; ReadLoop then finishes the connection.
  // The queue stays until the in-flight write has returned its buffer.
  beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

void WebSocketConnection::Shutdown() {
  asio::post(strand_, [self = shared_from_this()]() {
    if (self->finished_) return;
    self->BeginClose(websocket::close_code::going_away, "server shutting down");
    self->shutdown_timer_ = std::make_unique<asio::steady_timer>(self->strand_, kShutdownGrace);
    self->shutdown_timer_->async_wait([self](beast::error_code ec) {
      if (!ec && !self->finished_) self->Abort("server shutting down");
    });
  });
}

void WebSocketConnection::Finish() {
  if (finished_) return;
  finished_ = true;
  closed_ = true;
  if (shutdown_timer_) shutdown_timer_->cancel();
  read_resume_.cancel();
  for (auto& timer : timers_) timer->cancel();
  timers_.clear();
  if (session_) {
    session_->OnClose();
    session_.reset();
  }
  if (counted_) state_->active_sessions.fetch_sub(1);
  const double duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - opened_).count();
  CADENCE_LOG(kInfo, "session", "close id=%s peer=%s duration_s=%.1f frames_in=%lld events_out=%lld reason=%s",
              options_.session_id.c_str(), options_.peer.c_str(), duration_s, static_cast<long long>(frames_in_),
              static_cast<long long>(events_out_), close_reason_.empty() ? "-" : close_reason_.c_str());
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
}

}  // namespace cadence::server
