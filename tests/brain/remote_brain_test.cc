#include "brain/remote_brain.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "brain/fake_http_server.h"

namespace cadence::brain {
namespace {

using testing_support::FakeServer;

std::string SseHeader() {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n";
}
std::string Delta(const std::string& text) {
  nlohmann::json j = {{"choices", {{{"index", 0}, {"delta", {{"content", text}}}}}}};
  return "data: " + j.dump() + "\n\n";
}

ReplyRequest Request() {
  ReplyRequest r;
  r.history = {{Message::Role::kUser, "Hello there"}};
  r.temperature = 0.3;
  return r;
}

TEST(RemoteBrainTest, StreamsDeltasAndSendsOpenAiRequest) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Delta("Hi"));
    send(Delta(", 你好"));
    send(": keep-alive comment\n\n");
    send(Delta("!"));
    send("data: [DONE]\n\n");
  });
  RemoteBrainOptions o;
  o.base_url = server.url();
  o.model = "tiny-model";
  o.api_key = "sk-test";
  auto brain = CreateRemoteBrain(o);
  std::vector<std::string> pieces;
  Status s = brain->Reply(Request(), CancelToken(), [&](std::string_view p) { pieces.emplace_back(p); return true; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pieces, (std::vector<std::string>{"Hi", ", 你好", "!"}));
  const std::string req = server.last_request();
  EXPECT_NE(req.find("POST /v1/chat/completions"), std::string::npos);
  EXPECT_NE(req.find("Authorization: Bearer sk-test"), std::string::npos);
  auto body = nlohmann::json::parse(req.substr(req.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["model"], "tiny-model");
  EXPECT_EQ(body["stream"], true);
  ASSERT_TRUE(body["messages"].is_array());
  EXPECT_EQ(body["messages"].back()["role"].get<std::string>().empty(), false);
  bool has_user = false;
  for (const auto& m : body["messages"]) has_user |= m["content"].get<std::string>().find("Hello there") != std::string::npos;
  EXPECT_TRUE(has_user);
}

TEST(RemoteBrainTest, DownEndpointIsUnavailableAndNamesTheUrl) {
  int port;
  {
    FakeServer probe([](const std::string&, int, const auto&) {});
    port = std::stoi(probe.url().substr(17));
  }  // closed: nothing listens there now
  RemoteBrainOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  o.retries = 1;
  o.retry_backoff_ms = 10;
  auto brain = CreateRemoteBrain(o);
  const auto t0 = std::chrono::steady_clock::now();
  Status s = brain->Reply(Request(), CancelToken(), [](std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(o.base_url), std::string::npos) << s.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(RemoteBrainTest, RetriesServerErrorsThenSucceeds) {
  FakeServer server([](const std::string&, int index, const auto& send) {
    if (index == 0) {
      send("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 38\r\nConnection: close\r\n\r\n"
           "{\"error\":{\"message\":\"model loading\"}}");
      return;
    }
    send(SseHeader());
    send(Delta("ok"));
    send("data: [DONE]\n\n");
  });
  RemoteBrainOptions o;
  o.base_url = server.url();
  o.retry_backoff_ms = 10;
  auto brain = CreateRemoteBrain(o);
  std::string text;
  Status s = brain->Reply(Request(), CancelToken(), [&](std::string_view p) { text += p; return true; });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(text, "ok");
  EXPECT_EQ(server.connections(), 2);
}

TEST(RemoteBrainTest, ClientErrorsAreNotRetriedAndCarryTheServerMessage) {
  FakeServer server([](const std::string&, int, const auto& send) {
    const std::string body = "{\"error\":{\"message\":\"invalid api key\"}}";
    send("HTTP/1.1 401 Unauthorized\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body);
  });
  RemoteBrainOptions o;
  o.base_url = server.url();
  auto brain = CreateRemoteBrain(o);
  Status s = brain->Reply(Request(), CancelToken(), [](std::string_view) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("invalid api key"), std::string::npos) << s.message();
  EXPECT_EQ(server.connections(), 1);
}

TEST(RemoteBrainTest, CancelStopsAStallingStreamPromptly) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Delta("first"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a stalled model
  });
  RemoteBrainOptions o;
  o.base_url = server.url();
  auto brain = CreateRemoteBrain(o);
  CancelToken cancel;
  std::chrono::steady_clock::time_point cancelled_at;
  Status s = brain->Reply(Request(), cancel, [&](std::string_view) {
    cancel.Cancel();
    cancelled_at = std::chrono::steady_clock::now();
    return true;
  });
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace cadence::brain

namespace cadence::brain {
namespace {

// An upstream's error whose message is null, a number, an object, or nests deeper than anything
// Cadence reads: each is an error Status for that reply, never an exception.
TEST(RemoteBrainTest, MalformedErrorRepliesAreErrorsNotCrashes) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& message : {std::string("null"), std::string("42"), std::string("{\"a\":[1,2]}"),
                                     std::string("true"), deep}) {
    for (const bool streamed : {false, true}) {
      FakeServer server([&](const std::string&, int, const auto& send) {
        const std::string body = "{\"error\":{\"message\":" + message + ",\"code\":400}}";
        if (streamed) {
          send(SseHeader());
          send("data: " + body + "\n\n");
        } else {
          send("HTTP/1.1 400 Bad Request\r\nContent-Length: " + std::to_string(body.size()) +
               "\r\nConnection: close\r\n\r\n" + body);
        }
      });
      RemoteBrainOptions o;
      o.base_url = server.url();
      o.retries = 0;
      auto brain = CreateRemoteBrain(o);
      Status s = brain->Reply(Request(), CancelToken(), [](std::string_view) { return true; });
      EXPECT_FALSE(s.ok()) << message.substr(0, 20) << (streamed ? " streamed" : "");
      EXPECT_LT(s.message().size(), 2000u);
    }
  }
}

// A sink that throws inside libcurl's callback ends the reply with an error.
TEST(RemoteBrainTest, AnExceptionInTheSinkIsAnError) {
  FakeServer server([](const std::string&, int, const auto& send) {
    send(SseHeader());
    send(Delta("hello"));
    send("data: [DONE]\n\n");
  });
  RemoteBrainOptions o;
  o.base_url = server.url();
  o.retries = 0;
  auto brain = CreateRemoteBrain(o);
  Status s = brain->Reply(Request(), CancelToken(), [](std::string_view) -> bool { throw std::runtime_error("boom"); });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("boom"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cadence::brain
