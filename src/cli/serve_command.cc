// `cadence serve`: the realtime voice server (HTTP + WebSocket) on the default engines.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "cli/command.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "persona/store.h"
#include "server/engine_set.h"
#include "server/server.h"
#include "server/static_files.h"

namespace cadence::cli {
namespace {

bool IsLoopback(const std::string& host) { return host.rfind("127.", 0) == 0 || host == "::1"; }

int RunServe(int argc, char** argv) {
  Flags flags("cadence serve [options]");
  flags.String("host", "ADDR", "address to listen on (0.0.0.0 for every interface)", "127.0.0.1");
  flags.Int("port", "PORT", "TCP port (0: any free port, printed at start)", 8080, 0, 65535);
  flags.Switch("no-auth", "accept connections without an API key (local use)");
  flags.String("keys", "FILE", "API keys, one per line (also: env CADENCE_API_KEYS, comma-separated)");
  AddEngineFlags(&flags, persona::PersonaStore::DefaultDir());
  flags.String("web-dir", "DIR", "static files of the web page", server::DefaultWebDir());
  AddWorkerFlags(&flags);
  AddLimitFlags(&flags);
  flags.Choice("log-level", "how much to log", {"debug", "info", "warn", "error"}, "info");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  // Before any thread starts: SIGINT/SIGTERM then wait for the orderly shutdown below.
  server::Server::BlockShutdownSignals();
  if (!flags.positional().empty()) {
    std::fprintf(stderr, "error: serve takes no positional arguments (got '%s')\n", flags.positional()[0].c_str());
    return 2;
  }

  LogLevel level;
  if (!ParseLogLevel(flags.Get("log-level"), &level)) {
    std::fprintf(stderr, "error: --log-level must be debug, info, warn or error (got '%s')\n",
                 flags.Get("log-level").c_str());
    return 2;
  }
  SetLogLevel(level);

  const int port = flags.GetInt("port");
  const WorkerCounts counts = GetWorkerCounts(flags);

  server::ServerConfig config;
  config.host = flags.Get("host") == "localhost" ? "127.0.0.1" : flags.Get("host");
  config.port = static_cast<uint16_t>(port);
  config.io_threads = counts.io_threads;
  ApplyLimitFlags(flags, &config);
  config.web_dir = flags.Get("web-dir");

  const char* env_keys = std::getenv("CADENCE_API_KEYS");
  auto keys = server::ApiKeys::Load(flags.Get("keys"), env_keys ? env_keys : "");
  if (!keys.ok()) {
    std::fprintf(stderr, "error: %s\n", keys.status().message().c_str());
    return 1;
  }
  config.keys = std::move(keys).value();
  if (flags.On("no-auth")) {
    config.auth_required = false;
    if (!config.keys.empty()) CADENCE_LOG(kWarn, "serve", "--no-auth given: the %zu configured API keys are ignored", config.keys.size());
    if (!IsLoopback(config.host))
      CADENCE_LOG(kWarn, "serve", "auth is off on %s: anyone who can reach this address can use the server", config.host.c_str());
  } else if (!config.keys.empty()) {
    config.auth_required = true;
    CADENCE_LOG(kInfo, "serve", "auth: %zu API key(s) required (Bearer or openai-insecure-api-key subprotocol)", config.keys.size());
  } else if (IsLoopback(config.host)) {
    CADENCE_LOG(kInfo, "serve", "auth: off (no API keys configured; serving on loopback %s only; give --keys FILE or CADENCE_API_KEYS to require keys)", config.host.c_str());
  } else {
    std::fprintf(stderr, "error: refusing to serve on %s without API keys: give --keys FILE, set CADENCE_API_KEYS, or pass --no-auth\n", config.host.c_str());
    return 2;
  }

  const server::EngineOptions engine_options = EngineOptionsFromFlags(flags);
  auto engines = server::EngineSet::Build(engine_options);
  if (!engines.ok()) {
    std::fprintf(stderr, "error: %s\n", engines.status().message().c_str());
    return 1;
  }
  config.health = (*engines)->Health();
  config.health.version = "0.1.0";
  config.personas_json = (*engines)->PersonasJson();
  config.voices_json = (*engines)->VoicesJson();
  CADENCE_LOG(kInfo, "serve", "engines: vad=%s asr=%s tts=%s brain=%s", config.health.vad.c_str(),
              config.health.asr.c_str(), config.health.tts.c_str(), config.health.brain.c_str());

  // Workers outlive the sessions' work but are joined before the server is destroyed, so no
  // late result is posted into a torn-down io_context.
  auto workers = std::make_unique<ThreadPool>(static_cast<size_t>(counts.threads));
  auto reply_workers =
      counts.reply_threads > 0 ? std::make_unique<ThreadPool>(static_cast<size_t>(counts.reply_threads)) : nullptr;
  auto brain_workers =
      counts.brain_threads > 0 ? std::make_unique<ThreadPool>(static_cast<size_t>(counts.brain_threads)) : nullptr;
  config.engines = (*engines)->Engines(workers.get(), reply_workers.get(), brain_workers.get());

  auto server = server::Server::Start(std::move(config));
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", server.status().message().c_str());
    return 1;
  }
  const std::string shown_host = flags.Get("host") == "localhost" ? "127.0.0.1" : flags.Get("host");
  CADENCE_LOG(kInfo, "serve", "listening on http://%s:%u (web page) and ws://%s:%u/v1/realtime", shown_host.c_str(),
              static_cast<unsigned>((*server)->port()), shown_host.c_str(), static_cast<unsigned>((*server)->port()));
  const int signal_number = server::Server::WaitForShutdownSignal();
  CADENCE_LOG(kInfo, "serve", "signal %d: shutting down (%lld open sessions)", signal_number,
              static_cast<long long>((*server)->stats().active_sessions));
  (*server)->Stop();
  brain_workers.reset();
  reply_workers.reset();
  workers.reset();
  CADENCE_LOG(kInfo, "serve", "stopped");
  return 0;
}

}  // namespace

CADENCE_COMMAND(serve, "realtime voice server: WebSocket (OpenAI Realtime protocol) + web page", RunServe);

}  // namespace cadence::cli
