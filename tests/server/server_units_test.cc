// Pure parts of the server: API keys, handshake reading, request targets, static files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "realtime/http_api.h"
#include "server/auth.h"
#include "server/http_target.h"
#include "server/peer_limits.h"
#include "server/static_files.h"

namespace cadence::server {
namespace {

namespace fs = std::filesystem;

fs::path TempDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("cadence_server_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

TEST(ApiKeysTest, LoadsFileAndEnvironment) {
  const fs::path dir = TempDir("keys");
  WriteFile(dir / "keys.txt", "# team keys\nsk-one\n\n  sk-two  \n");
  auto keys = ApiKeys::Load((dir / "keys.txt").string(), "sk-env1, sk-env2");
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->size(), 4u);
  EXPECT_TRUE(keys->Contains("sk-one"));
  EXPECT_TRUE(keys->Contains("sk-two"));
  EXPECT_TRUE(keys->Contains("sk-env2"));
  EXPECT_FALSE(keys->Contains("sk-on"));
  EXPECT_FALSE(keys->Contains("sk-one "));
  EXPECT_FALSE(keys->Contains(""));
  EXPECT_FALSE(keys->Contains("# team keys"));
}

TEST(ApiKeysTest, BadFilesNameTheFileAndLine) {
  const fs::path dir = TempDir("badkeys");
  auto missing = ApiKeys::Load((dir / "nope.txt").string(), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.txt"), std::string::npos);

  WriteFile(dir / "spaces.txt", "good\nbad key\n");
  auto spaced = ApiKeys::Load((dir / "spaces.txt").string(), "");
  ASSERT_FALSE(spaced.ok());
  EXPECT_NE(spaced.status().message().find("line 2"), std::string::npos);

  WriteFile(dir / "empty.txt", "# nothing\n\n");
  auto empty = ApiKeys::Load((dir / "empty.txt").string(), "");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no key"), std::string::npos);

  auto none = ApiKeys::Load("", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(HandshakeTest, BearerHeader) {
  EXPECT_EQ(BearerToken("Bearer sk-1"), "sk-1");
  EXPECT_EQ(BearerToken("bearer   sk-2 "), "sk-2");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken(""), "");
  Handshake h = ReadHandshake("Bearer sk-1", "realtime=v1", "");
  EXPECT_EQ(h.api_key, "sk-1");
  EXPECT_TRUE(h.beta);
  EXPECT_EQ(h.answer_protocol, "");
}

TEST(HandshakeTest, BrowserSubprotocolsAnsweredWithRealtime) {
  Handshake h = ReadHandshake("", "", "realtime, openai-insecure-api-key.sk-web, openai-beta.realtime-v1");
  EXPECT_EQ(h.api_key, "sk-web");
  EXPECT_TRUE(h.beta);
  EXPECT_EQ(h.answer_protocol, "realtime");

  Handshake ga = ReadHandshake("", "", "realtime,openai-insecure-api-key.k");
  EXPECT_FALSE(ga.beta);
  EXPECT_EQ(ga.answer_protocol, "realtime");

  // Whatever is offered gets an answer, or the browser fails the connection.
  EXPECT_EQ(ReadHandshake("", "", "openai-beta.realtime-v1").answer_protocol, "openai-beta.realtime-v1");
  EXPECT_EQ(ReadHandshake("", "", "openai-insecure-api-key.k").answer_protocol, "openai-insecure-api-key.k");
  EXPECT_EQ(ReadHandshake("", "", "chat").answer_protocol, "chat");
  // The header key wins over the subprotocol key.
  EXPECT_EQ(ReadHandshake("Bearer a", "", "openai-insecure-api-key.b").api_key, "a");
}

TEST(HttpTargetTest, PathAndQuery) {
  auto t = ParseTarget("/v1/realtime?model=step-2.5-realtime&x=a%20b+c");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->path, "/v1/realtime");
  EXPECT_EQ(t->query.at("model"), "step-2.5-realtime");
  EXPECT_EQ(t->query.at("x"), "a b c");
  EXPECT_FALSE(ParseTarget("v1/realtime").has_value());
  EXPECT_FALSE(ParseTarget("/a%2").has_value());
  EXPECT_FALSE(ParseTarget("/a%zz").has_value());
  EXPECT_FALSE(ParseTarget("/a%00b").has_value());
  EXPECT_EQ(ParseTarget("/%2e%2e/etc")->path, "/../etc");
}

TEST(StaticFilesTest, ServesFilesWithTypesAndCaching) {
  const fs::path root = TempDir("web");
  WriteFile(root / "index.html", "<!doctype html><title>x</title>");
  WriteFile(root / "assets" / "app-3f2a9c1e.js", "console.log(1)");
  WriteFile(root / "favicon.svg", "<svg/>");
  auto index = LoadStaticFile(root.string(), "/");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->body, "<!doctype html><title>x</title>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index->cache_control, "no-cache");
  auto js = LoadStaticFile(root.string(), "/assets/app-3f2a9c1e.js");
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js->cache_control, "public, max-age=31536000, immutable");
  auto svg = LoadStaticFile(root.string(), "/favicon.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(svg->content_type, "image/svg+xml");
  EXPECT_EQ(svg->cache_control, "public, max-age=300");
  EXPECT_EQ(LoadStaticFile(root.string(), "/missing.js").status().code(), StatusCode::kNotFound);
}

TEST(StaticFilesTest, RefusesTraversalAndSymlinkEscape) {
  const fs::path base = TempDir("traversal");
  const fs::path root = base / "root";
  WriteFile(root / "index.html", "ok");
  WriteFile(base / "secret.txt", "secret");
  EXPECT_EQ(LoadStaticFile(root.string(), "/../secret.txt").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(LoadStaticFile(root.string(), "/a/../../secret.txt").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(LoadStaticFile(root.string(), "/..\\secret.txt").status().code(), StatusCode::kPermissionDenied);
  fs::create_symlink(base / "secret.txt", root / "link.txt");
  auto link = LoadStaticFile(root.string(), "/link.txt");
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(LoadStaticFile((base / "nope").string(), "/").status().code(), StatusCode::kFailedPrecondition);
}

TEST(StaticFilesTest, HashedNamesDetected) {
  EXPECT_EQ(CacheControlFor("/assets/chunk.BQx1mN7d.css"), "public, max-age=31536000, immutable");
  EXPECT_EQ(CacheControlFor("/assets/app.js"), "public, max-age=300");
  EXPECT_EQ(CacheControlFor("/assets/worklet-processor.js"), "public, max-age=300");
  EXPECT_EQ(CacheControlFor("/page.html"), "no-cache");
}

TEST(HttpApiTest, ScanEventIdFromTruncatedFrames) {
  EXPECT_EQ(realtime::ScanEventId(R"({"event_id":"evt_1","type":"input_audio_buffer.append","audio":"AAAA)"), "evt_1");
  EXPECT_EQ(realtime::ScanEventId(R"({"type":"x", "event_id" : "abc" ,)"), "abc");
  EXPECT_EQ(realtime::ScanEventId(R"({"type":"x","event_id":"unterminated)"), "");
  EXPECT_EQ(realtime::ScanEventId(R"({"type":"x"})"), "");
  EXPECT_EQ(realtime::ScanEventId(R"({"event_id":42})"), "");
}

TEST(HttpApiTest, KnownModels) {
  EXPECT_TRUE(realtime::IsKnownModel("step-2.5-realtime"));
  EXPECT_TRUE(realtime::IsKnownModel("gpt-realtime"));
  EXPECT_TRUE(realtime::IsKnownModel("gpt-4o-realtime-preview"));
  EXPECT_FALSE(realtime::IsKnownModel("gpt-4o"));
  EXPECT_FALSE(realtime::IsKnownModel(""));
}

}  // namespace
}  // namespace cadence::server

namespace cadence::server {
namespace {

TEST(PeerLimitsTest, ConnectionRateIsATokenBucketPerAddress) {
  PeerLimits limits({.max_sessions = 0, .connections_per_s = 2, .failed_auth_per_min = 0});
  const auto t0 = PeerLimits::Clock::now();
  int admitted = 0;
  for (int i = 0; i < 10; ++i) admitted += limits.AdmitConnection("10.0.0.1", t0);
  EXPECT_EQ(admitted, 4);  // a burst of twice the rate
  EXPECT_TRUE(limits.AdmitConnection("10.0.0.2", t0));  // another address has its own bucket
  EXPECT_FALSE(limits.AdmitConnection("10.0.0.1", t0 + std::chrono::milliseconds(100)));
  EXPECT_TRUE(limits.AdmitConnection("10.0.0.1", t0 + std::chrono::milliseconds(600)));
}

TEST(PeerLimitsTest, FailedAuthBlocksForTheRestOfTheMinute) {
  PeerLimits limits({.max_sessions = 0, .connections_per_s = 0, .failed_auth_per_min = 3});
  const auto t0 = PeerLimits::Clock::now();
  EXPECT_FALSE(limits.AuthFailed("a", t0));
  EXPECT_FALSE(limits.AuthFailed("a", t0));
  EXPECT_FALSE(limits.AuthBlocked("a", t0));
  EXPECT_TRUE(limits.AuthFailed("a", t0));  // the failure that blocks: logged once
  EXPECT_TRUE(limits.AuthBlocked("a", t0 + std::chrono::seconds(59)));
  EXPECT_FALSE(limits.AuthBlocked("b", t0));
  EXPECT_FALSE(limits.AuthBlocked("a", t0 + std::chrono::seconds(61)));
}

TEST(PeerLimitsTest, SessionSlotsPerAddress) {
  PeerLimits limits({.max_sessions = 2, .connections_per_s = 0, .failed_auth_per_min = 0});
  EXPECT_TRUE(limits.OpenSession("a"));
  EXPECT_TRUE(limits.OpenSession("a"));
  EXPECT_FALSE(limits.OpenSession("a"));
  EXPECT_TRUE(limits.OpenSession("b"));
  limits.CloseSession("a");
  EXPECT_TRUE(limits.OpenSession("a"));
}

TEST(OriginTest, OwnPageListedOriginsAndNonBrowsers) {
  EXPECT_TRUE(IsOriginAllowed("", "127.0.0.1:8080", {}));
  EXPECT_TRUE(IsOriginAllowed("http://127.0.0.1:8080", "127.0.0.1:8080", {}));
  EXPECT_TRUE(IsOriginAllowed("https://Voice.Example.com", "voice.example.com", {}));
  EXPECT_FALSE(IsOriginAllowed("http://127.0.0.1:9999", "127.0.0.1:8080", {}));
  EXPECT_FALSE(IsOriginAllowed("http://evil.example", "127.0.0.1:8080", {}));
  EXPECT_FALSE(IsOriginAllowed("null", "127.0.0.1:8080", {}));
  EXPECT_TRUE(IsOriginAllowed("https://app.example.com", "127.0.0.1:8080", {"https://app.example.com"}));
  EXPECT_TRUE(IsOriginAllowed("http://evil.example", "127.0.0.1:8080", {"*"}));
}

TEST(HandshakeTest, KeysAreRedactedAndWebSocketKeysChecked) {
  EXPECT_EQ(RedactedProtocol("openai-insecure-api-key.sk-123"), "openai-insecure-api-key.***");
  EXPECT_EQ(RedactedProtocol("realtime"), "realtime");
  EXPECT_TRUE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(IsValidWebSocketKey("abc"));
  EXPECT_FALSE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ"));
  EXPECT_FALSE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ==dGhl"));
}

}  // namespace
}  // namespace cadence::server
