// The server end to end over loopback, with a fake Session: routes, upgrade checks, auth, frame
// limits, the bounded write queue and shutdown. The real Session is tested in tests/realtime and
// black-box in tests/protocol.
#include "server/server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace cadence::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

struct FakeStats {
  std::atomic<int> started{0};
  std::atomic<int> closed{0};
  std::atomic<int> frames{0};
};

// Echoes each frame's size; "flood N BYTES" sends N events of BYTES each (to fill a write queue).
class FakeSession : public realtime::Session {
 public:
  FakeSession(realtime::SessionOptions options, std::shared_ptr<realtime::SessionIo> io, FakeStats* stats)
      : options_(std::move(options)), io_(std::move(io)), stats_(stats) {}
  void Start() override {
    ++stats_->started;
    io_->Send(R"({"type":"session.created","beta":)" + std::string(options_.beta ? "true" : "false") +
              R"(,"model":")" + options_.model + R"(","id":")" + options_.session_id + R"("})");
  }
  void OnClientFrame(std::string_view frame) override {
    ++stats_->frames;
    int count = 0, bytes = 0;
    if (std::sscanf(std::string(frame).c_str(), "flood %d %d", &count, &bytes) == 2) {
      for (int i = 0; i < count; ++i) io_->Send(std::string(static_cast<size_t>(bytes), 'x'));
      return;
    }
    if (frame == "close") {  // the session ends itself: its reason, then the close
      io_->Send(R"({"type":"error","error":{"code":"session_expired"}})");
      io_->Close("session_expired");
      return;
    }
    int delay_ms = 0;
    if (std::sscanf(std::string(frame).c_str(), "timer %d", &delay_ms) == 1) {
      io_->PostAfter(delay_ms, [io = io_] { io->Send(R"({"type":"tick"})"); });
      return;
    }
    io_->Send(R"({"type":"echo","bytes":)" + std::to_string(frame.size()) + "}");
  }
  void OnClose() override { ++stats_->closed; }

 private:
  realtime::SessionOptions options_;
  std::shared_ptr<realtime::SessionIo> io_;
  FakeStats* stats_;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerConfig config = {}) {
    config.port = 0;
    config.io_threads = 2;
    config.session_factory = [this](const realtime::Engines&, realtime::SessionOptions options,
                                    std::shared_ptr<realtime::SessionIo> io) {
      return std::make_shared<FakeSession>(std::move(options), std::move(io), &stats_);
    };
    config.health.version = "test";
    auto server = Server::Start(std::move(config));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  http::response<http::string_body> Get(const std::string& target, http::verb verb = http::verb::get) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::empty_body> req(verb, target, 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    if (verb == http::verb::head) parser.skip(true);
    http::read(stream, buffer, parser);
    return parser.release();
  }

  // Sends an upgrade request by hand so that a refusal's status and body can be read.
  http::response<http::string_body> RawUpgrade(const std::string& target, const std::string& authorization,
                                               const std::string& protocols, const std::string& origin = "",
                                               const std::string& key = "dGhlIHNhbXBsZSBub25jZQ==") {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::sec_websocket_key, key);
    if (!origin.empty()) req.set(http::field::origin, origin);
    if (!authorization.empty()) req.set(http::field::authorization, authorization);
    if (!protocols.empty()) req.set(http::field::sec_websocket_protocol, protocols);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    http::read_header(stream, buffer, parser);
    if (parser.get().result() != http::status::switching_protocols) http::read(stream, buffer, parser);
    return parser.release();
  }

  struct Client {
    asio::io_context io;
    websocket::stream<beast::tcp_stream> ws{io};
    std::string protocol_answer;
  };

  std::unique_ptr<Client> Connect(const std::string& target = "/v1/realtime?model=step-2.5-realtime",
                                  const std::string& authorization = "", const std::string& protocols = "",
                                  bool beta_header = false, const std::string& origin = "") {
    auto c = std::make_unique<Client>();
    beast::get_lowest_layer(c->ws).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
    c->ws.set_option(websocket::stream_base::decorator([=](websocket::request_type& req) {
      if (!authorization.empty()) req.set(http::field::authorization, authorization);
      if (!protocols.empty()) req.set(http::field::sec_websocket_protocol, protocols);
      if (beta_header) req.set("OpenAI-Beta", "realtime=v1");
      if (!origin.empty()) req.set(http::field::origin, origin);
    }));
    websocket::response_type res;
    c->ws.handshake(res, "127.0.0.1", target);
    c->protocol_answer = std::string(res[http::field::sec_websocket_protocol]);
    return c;
  }

  static std::string Read(Client& c) {
    beast::flat_buffer buffer;
    c.ws.read(buffer);
    return beast::buffers_to_string(buffer.cdata());
  }

  FakeStats stats_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, HealthAndModelsAreJsonWithCors) {
  StartServer();
  auto health = Get("/healthz");
  EXPECT_EQ(health.result(), http::status::ok);
  EXPECT_EQ(health[http::field::content_type], "application/json");
  EXPECT_EQ(health[http::field::access_control_allow_origin], "*");
  EXPECT_NE(health.body().find(R"("status":"ok")"), std::string::npos) << health.body();
  auto models = Get("/v1/models");
  EXPECT_EQ(models.result(), http::status::ok);
  EXPECT_NE(models.body().find(R"("id":"step-2.5-realtime")"), std::string::npos) << models.body();
  EXPECT_NE(models.body().find(R"("id":"gpt-realtime")"), std::string::npos);
  auto preflight = Get("/v1/models", http::verb::options);
  EXPECT_EQ(preflight.result(), http::status::no_content);
  EXPECT_NE(std::string(preflight[http::field::access_control_allow_headers]).find("Authorization"), std::string::npos);
  EXPECT_EQ(Get("/v1/nothing").result(), http::status::not_found);
  EXPECT_EQ(Get("/v1/realtime").result(), http::status::upgrade_required);
}

TEST_F(ServerTest, StaticFilesFromWebDir) {
  const auto root = std::filesystem::temp_directory_path() / ("cadence_server_web_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "assets");
  std::ofstream(root / "index.html") << "<!doctype html>hello";
  std::ofstream(root / "assets" / "main-a1b2c3d4e5.js") << "let x = 1;";
  ServerConfig config;
  config.web_dir = root.string();
  StartServer(config);
  auto index = Get("/");
  EXPECT_EQ(index.result(), http::status::ok);
  EXPECT_EQ(index.body(), "<!doctype html>hello");
  EXPECT_EQ(index[http::field::cache_control], "no-cache");
  EXPECT_EQ(index[http::field::content_type], "text/html; charset=utf-8");
  auto js = Get("/assets/main-a1b2c3d4e5.js");
  EXPECT_EQ(js.body(), "let x = 1;");
  EXPECT_EQ(js[http::field::cache_control], "public, max-age=31536000, immutable");
  auto head = Get("/assets/main-a1b2c3d4e5.js", http::verb::head);
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(head[http::field::content_length], "10");
  EXPECT_EQ(Get("/../../etc/passwd").result(), http::status::forbidden);
  EXPECT_EQ(Get("/%2e%2e/%2e%2e/etc/passwd").result(), http::status::forbidden);
  EXPECT_EQ(Get("/missing.css").result(), http::status::not_found);
  std::filesystem::remove_all(root);
}

TEST_F(ServerTest, UnknownModelIs400BeforeUpgrade) {
  StartServer();
  auto res = RawUpgrade("/v1/realtime?model=gpt-3", "", "");
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_NE(res.body().find(R"("code":"model_not_found")"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find(R"("param":"model")"), std::string::npos) << res.body();
  EXPECT_EQ(RawUpgrade("/v1/other", "", "").result(), http::status::not_found);
  EXPECT_EQ(stats_.started.load(), 0);
}

TEST_F(ServerTest, AuthByBearerOrSubprotocol) {
  ServerConfig config;
  config.keys = ApiKeys::FromList({"sk-right"});
  config.auth_required = true;
  StartServer(config);
  auto none = RawUpgrade("/v1/realtime?model=gpt-realtime", "", "");
  EXPECT_EQ(none.result(), http::status::unauthorized);
  EXPECT_NE(none.body().find("missing_api_key"), std::string::npos) << none.body();
  auto wrong = RawUpgrade("/v1/realtime?model=gpt-realtime", "Bearer sk-wrong", "");
  EXPECT_EQ(wrong.result(), http::status::unauthorized);
  EXPECT_NE(wrong.body().find("invalid_api_key"), std::string::npos) << wrong.body();
  auto wrong_protocol = RawUpgrade("/v1/realtime?model=gpt-realtime", "", "realtime, openai-insecure-api-key.sk-nope");
  EXPECT_EQ(wrong_protocol.result(), http::status::unauthorized);
  EXPECT_EQ(stats_.started.load(), 0);

  auto bearer = Connect("/v1/realtime?model=gpt-realtime", "Bearer sk-right");
  EXPECT_NE(Read(*bearer).find("session.created"), std::string::npos);
  auto browser = Connect("/v1/realtime?model=gpt-realtime", "",
                         "realtime, openai-insecure-api-key.sk-right, openai-beta.realtime-v1");
  EXPECT_EQ(browser->protocol_answer, "realtime");
  const std::string created = Read(*browser);
  EXPECT_NE(created.find(R"("beta":true)"), std::string::npos) << created;
}

TEST_F(ServerTest, BetaHeaderAndModelReachTheSession) {
  StartServer();
  auto ga = Connect("/v1/realtime?model=gpt-realtime");
  const std::string ga_created = Read(*ga);
  EXPECT_NE(ga_created.find(R"("beta":false)"), std::string::npos) << ga_created;
  EXPECT_NE(ga_created.find(R"("model":"gpt-realtime")"), std::string::npos) << ga_created;
  EXPECT_NE(ga_created.find(R"("id":"sess_)"), std::string::npos) << ga_created;
  auto beta = Connect("/v1/realtime?model=step-2.5-realtime", "", "", /*beta_header=*/true);
  EXPECT_NE(Read(*beta).find(R"("beta":true)"), std::string::npos);
}

TEST_F(ServerTest, OversizedAndBinaryFramesGetErrorsAndSessionKeepsWorking) {
  ServerConfig config;
  config.max_frame_bytes = 256 << 10;
  StartServer(config);
  auto c = Connect();
  Read(*c);  // session.created
  c->ws.text(true);
  c->ws.write(asio::buffer(std::string(R"({"type":"ping"})")));
  EXPECT_EQ(Read(*c), R"({"type":"echo","bytes":15})");

  std::string big = R"({"event_id":"evt_big","type":"input_audio_buffer.append","audio":")";
  big.append(1u << 20, 'A');
  big += "\"}";
  c->ws.write(asio::buffer(big));
  const std::string error = Read(*c);
  EXPECT_NE(error.find(R"("type":"error")"), std::string::npos) << error;
  EXPECT_NE(error.find(R"("code":"frame_too_large")"), std::string::npos) << error;
  EXPECT_NE(error.find(R"("event_id":"evt_big")"), std::string::npos) << error;

  c->ws.binary(true);
  c->ws.write(asio::buffer(std::string("\x01\x02\x03", 3)));
  const std::string binary_error = Read(*c);
  EXPECT_NE(binary_error.find(R"("code":"invalid_frame")"), std::string::npos) << binary_error;

  c->ws.text(true);
  c->ws.write(asio::buffer(std::string(R"({"type":"after"})")));
  EXPECT_EQ(Read(*c), R"({"type":"echo","bytes":16})");
  EXPECT_EQ(stats_.frames.load(), 2);  // the oversized and binary frames never reached the session
}

TEST_F(ServerTest, ClientThatStopsReadingIsClosed) {
  ServerConfig config;
  config.max_write_queue_bytes = 256 << 10;
  StartServer(config);
  auto c = Connect();
  Read(*c);
  c->ws.text(true);
  // 400 MiB asked for; the socket buffers take a few MiB, the queue 256 KiB, then the server cuts.
  c->ws.write(asio::buffer(std::string("flood 6400 65536")));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server_->stats().closed_slow_clients == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(server_->stats().closed_slow_clients, 1);
  while (stats_.closed.load() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(stats_.closed.load(), 1);
  // Reading now drains what the kernel held, then the reason, then the close: not 400 MiB.
  beast::error_code ec;
  size_t received = 0;
  std::string last;
  for (;;) {
    beast::flat_buffer buffer;
    received += c->ws.read(buffer, ec);
    if (ec) break;
    last = beast::buffers_to_string(buffer.cdata());
  }
  EXPECT_LT(received, 64u << 20);
  EXPECT_NE(last.find(R"("code":"client_not_reading")"), std::string::npos) << last.substr(0, 200);
  // The close frame (1008) follows; when the client read too late the grace period cut the socket.
  if (ec == websocket::error::closed) {
    EXPECT_EQ(c->ws.reason().code, websocket::close_code::policy_error);
  }
}

// A client that sends faster than it reads is slowed down (its events wait unread), not closed:
// 200 events each answered with 64 KiB, against a 256 KiB queue, all arrive once it reads.
TEST_F(ServerTest, ClientThatSendsFasterThanItReadsIsSlowedNotClosed) {
  ServerConfig config;
  config.max_write_queue_bytes = 256 << 10;
  StartServer(config);
  auto c = Connect();
  Read(*c);
  c->ws.text(true);
  for (int i = 0; i < 200; ++i) c->ws.write(asio::buffer(std::string("flood 1 65536")));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int received = 0;
  for (; received < 200; ++received) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    c->ws.read(buffer, ec);
    ASSERT_FALSE(ec) << "after " << received << " events: " << ec.message();
    ASSERT_EQ(buffer.size(), 65536u);
  }
  EXPECT_EQ(server_->stats().closed_slow_clients, 0);
  c->ws.write(asio::buffer(std::string(R"({"type":"after"})")));
  EXPECT_EQ(Read(*c), R"({"type":"echo","bytes":16})");
}

TEST_F(ServerTest, SessionTimersRunAndASessionCanEndItself) {
  StartServer();
  auto c = Connect();
  Read(*c);
  c->ws.text(true);
  c->ws.write(asio::buffer(std::string("timer 50")));
  EXPECT_EQ(Read(*c), R"({"type":"tick"})");
  c->ws.write(asio::buffer(std::string("close")));
  EXPECT_NE(Read(*c).find("session_expired"), std::string::npos);
  beast::flat_buffer buffer;
  beast::error_code ec;
  c->ws.read(buffer, ec);
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c->ws.reason().code, websocket::close_code::normal);
}

TEST_F(ServerTest, BrowserPagesOfOtherOriginsAreRefused) {
  ServerConfig config;
  config.allowed_origins = {"https://app.example.com"};
  StartServer(config);
  auto evil = RawUpgrade("/v1/realtime", "", "", "http://evil.example");
  EXPECT_EQ(evil.result(), http::status::forbidden);
  EXPECT_NE(evil.body().find("origin_not_allowed"), std::string::npos) << evil.body();
  EXPECT_EQ(RawUpgrade("/v1/realtime", "", "", "null").result(), http::status::forbidden);
  EXPECT_EQ(stats_.started.load(), 0);
  // The server's own page (Origin matches Host), a listed origin, and non-browser clients pass.
  auto own = Connect("/v1/realtime", "", "", false, "http://127.0.0.1");
  EXPECT_NE(Read(*own).find("session.created"), std::string::npos);
  auto listed = Connect("/v1/realtime", "", "", false, "https://app.example.com");
  EXPECT_NE(Read(*listed).find("session.created"), std::string::npos);
  auto plain = Connect();
  EXPECT_NE(Read(*plain).find("session.created"), std::string::npos);
}

TEST_F(ServerTest, MalformedWebSocketKeyIsRefused) {
  StartServer();
  auto res = RawUpgrade("/v1/realtime", "", "", "", "abc");
  EXPECT_EQ(res.result(), http::status::bad_request);
  EXPECT_NE(res.body().find("invalid_websocket_key"), std::string::npos) << res.body();
}

TEST_F(ServerTest, OnePeerCannotTakeEverySessionSlot) {
  ServerConfig config;
  config.peer_limits.max_sessions = 2;
  StartServer(config);
  auto a = Connect();
  auto b = Connect();
  Read(*a);
  Read(*b);
  auto third = RawUpgrade("/v1/realtime", "", "");
  EXPECT_EQ(third.result(), http::status::too_many_requests);
  EXPECT_NE(third.body().find("too_many_sessions_for_peer"), std::string::npos) << third.body();
  a->ws.close(websocket::close_code::normal);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->stats().active_sessions > 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto again = Connect();
  EXPECT_NE(Read(*again).find("session.created"), std::string::npos);
}

TEST_F(ServerTest, FailedKeysAreThrottledPerPeer) {
  ServerConfig config;
  config.keys = ApiKeys::FromList({"sk-right"});
  config.auth_required = true;
  config.peer_limits.failed_auth_per_min = 3;
  StartServer(config);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(RawUpgrade("/v1/realtime", "Bearer sk-guess" + std::to_string(i), "").result(), http::status::unauthorized);
  // Blocked for the rest of the minute, even with the right key: guessing cannot go on.
  auto blocked = RawUpgrade("/v1/realtime", "Bearer sk-right", "");
  EXPECT_EQ(blocked.result(), http::status::too_many_requests);
  EXPECT_NE(blocked.body().find("too_many_failed_auth"), std::string::npos) << blocked.body();
}

TEST_F(ServerTest, ConnectionFloodsFromOnePeerAreCut) {
  ServerConfig config;
  config.peer_limits.connections_per_s = 5;  // bursts of 10
  StartServer(config);
  int answered = 0;
  for (int i = 0; i < 40; ++i) {
    try {
      if (Get("/healthz").result() == http::status::ok) ++answered;
    } catch (const std::exception&) {
    }
  }
  EXPECT_GE(answered, 10);
  EXPECT_LT(answered, 20);
  EXPECT_GE(server_->stats().refused_connections, 20);
}

TEST_F(ServerTest, KeysAreNeededForTheApiRoutesButNotForHealth) {
  ServerConfig config;
  config.keys = ApiKeys::FromList({"sk-right"});
  config.auth_required = true;
  StartServer(config);
  EXPECT_EQ(Get("/healthz").result(), http::status::ok);
  EXPECT_EQ(Get("/v1/models").result(), http::status::unauthorized);
  EXPECT_EQ(Get("/v1/personas").result(), http::status::unauthorized);
  EXPECT_EQ(Get("/v1/voices").result(), http::status::unauthorized);
}

TEST_F(ServerTest, AKeyOfferedAsSubprotocolIsNotLogged) {
  ServerConfig config;
  config.keys = ApiKeys::FromList({"sk-secret-7d3f9a"});
  config.auth_required = true;
  StartServer(config);
  ::testing::internal::CaptureStderr();
  auto c = Connect("/v1/realtime", "", "openai-insecure-api-key.sk-secret-7d3f9a");
  Read(*c);
  c->ws.close(websocket::close_code::normal);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("openai-insecure-api-key.***"), std::string::npos) << log;
  EXPECT_EQ(log.find("sk-secret-7d3f9a"), std::string::npos) << log;
}

TEST_F(ServerTest, StopClosesSessionsGoingAway) {
  StartServer();
  auto c = Connect();
  Read(*c);
  EXPECT_EQ(server_->stats().active_sessions, 1);
  std::thread stopper([this] { server_->Stop(); });
  beast::flat_buffer buffer;
  beast::error_code ec;
  c->ws.read(buffer, ec);
  stopper.join();
  EXPECT_EQ(ec, websocket::error::closed);
  EXPECT_EQ(c->ws.reason().code, websocket::close_code::going_away);
  EXPECT_EQ(stats_.closed.load(), 1);
  EXPECT_EQ(server_->stats().active_sessions, 0);
}

}  // namespace
}  // namespace cadence::server
