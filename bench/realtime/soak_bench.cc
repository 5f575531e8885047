// `cadence bench soak`: does the server hold steady over time? Starts the server in-process (as
// `cadence bench realtime` does) and keeps it busy for --minutes with three kinds of loopback clients
// (bench_client.h):
//   - --sessions talkers that talk continuously: a turn streamed at 1x with server VAD, the reply
//     awaited and played out, again; one whose connection is lost is replaced;
//   - --churn callers at a time that connect, talk one turn and hang up without a close frame, every
//     other one mid-reply (at its first audio delta), each replaced by the next a second later;
//   - --idle sessions at a time that connect, say nothing, and leave after 5-30 s, every other one
//     without a close frame.
// Every --report-s (and at the start and the end) it prints one row: process RSS, open file
// descriptors, threads, CPU, the turns completed in the interval, p50/p95 of speech_stopped -> first
// reply audio delta in it, the errors seen (error events, lost connections, refused connects) and
// the sessions the server holds. The end row is taken once every client has left; the verdict
// compares it with the row after the first interval (RSS) and with the start (fds, threads).
// The clients run in this process too, so RSS, fds and threads include theirs (a few per session).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_client.h"
#include "cli/command.h"
#include "core/log.h"
#include "server/server.h"

namespace cadence::bench {
namespace {

namespace asio = boost::asio;

constexpr double kMaxRssGrowth = 0.10;  // "flat": RSS grew less than this after the first interval
constexpr double kRespawnS = 1.0;       // a replaced client connects again after this
constexpr double kIdleMinS = 5, kIdleMaxS = 30;

long OpenFds() {
  long n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n - 1;  // the directory being read
}

struct Row {
  double elapsed_s = 0;
  long rss_kib = 0, fds = 0, threads = 0;
  double cpu_percent = 0;
  int turns = 0, errors = 0;
  double p50_s = NAN, p95_s = NAN;
  int64_t open_sessions = 0;
};

struct SoakOptions {
  int talkers = 4, churn = 1, idle = 4;
  double seconds = 600, report_s = 60;
};

// The client side of the soak, all on one io_context run by the calling thread (so the /proc
// readings see no client thread come and go).
class Soak {
 public:
  Soak(BenchServer& server, const TurnAudio& turn, SoakOptions options)
      : server_(server), turn_(turn), options_(options), report_timer_(io_) {}

  // Returns when the soak is over and every client has closed its socket.
  void Run() {
    start_ = Clock::now();
    cpu_at_report_ = ProcessCpuSeconds();
    Report();
    for (int i = 0; i < options_.talkers; ++i) StartTalker(turn_.duration_s() * i / options_.talkers + 0.2);
    for (int i = 0; i < options_.churn; ++i) StartChurner();
    for (int i = 0; i < options_.idle; ++i) StartIdler();
    ScheduleReport();
    io_.run();
  }

  // A row taken now, closing the current interval.
  Row Sample() {
    const double cpu_s = ProcessCpuSeconds();
    Row row;
    row.elapsed_s = Seconds(start_, Clock::now());
    row.rss_kib = ProcStatus("VmRSS");
    row.threads = ProcStatus("Threads");
    row.fds = OpenFds();
    row.cpu_percent = row.elapsed_s > last_elapsed_s_
                          ? 100.0 * (cpu_s - cpu_at_report_) / (row.elapsed_s - last_elapsed_s_)
                          : 0.0;
    row.turns = interval_.turns;
    row.errors = interval_.errors + interval_.connect_failures + interval_.dropped;
    row.p50_s = Percentile(interval_.latency_s, 0.5);
    row.p95_s = Percentile(interval_.latency_s, 0.95);
    row.open_sessions = server_.stats().active_sessions;
    totals_.errors += interval_.errors;
    totals_.connect_failures += interval_.connect_failures;
    totals_.dropped += interval_.dropped;
    totals_.turns += interval_.turns;
    interval_ = SessionFigures();
    cpu_at_report_ = cpu_s;
    last_elapsed_s_ = row.elapsed_s;
    return row;
  }

  // Every row so far: the start, one per interval, then what the caller adds (the end).
  std::vector<Row>& rows() { return rows_; }
  const SessionFigures& totals() const { return totals_; }
  int clients_started() const { return clients_started_; }

 private:
  enum class Role { kTalker, kChurner, kIdler };

  std::shared_ptr<Talker> NewClient(Role role, int max_turns) {
    auto client = std::make_shared<Talker>(io_, server_.port(), turn_, max_turns, Clock::time_point::max());
    Talker* raw = client.get();
    client->OnDone([this, raw, role] { OnClientDone(raw, role); });
    live_[raw] = client;
    ++clients_started_;
    return client;
  }

  void StartTalker(double delay_s) { NewClient(Role::kTalker, 1 << 30)->Start(delay_s, true); }

  void StartChurner() {
    auto client = NewClient(Role::kChurner, 1);
    if (churners_started_++ % 2 == 1) client->HangUpAtFirstAudio();
    client->Start(0.5, true);
  }

  void StartIdler() {
    auto client = NewClient(Role::kIdler, 0);
    client->Start(0, false);
    const bool graceful = idlers_started_++ % 2 == 0;
    std::uniform_real_distribution<double> lifetime_s(kIdleMinS, kIdleMaxS);
    std::weak_ptr<Talker> weak = client;
    After(lifetime_s(rng_), [weak, graceful] {
      if (auto idler = weak.lock()) idler->Close(graceful);
    });
  }

  void OnClientDone(Talker* raw, Role role) {
    auto it = live_.find(raw);
    if (it == live_.end()) return;
    std::shared_ptr<Talker> client = it->second;
    live_.erase(it);
    client->Close();  // a churner that finished its turn hangs up here; no-op for the others
    Add(client->TakeFigures());
    if (finishing_) return;
    switch (role) {
      case Role::kTalker: After(kRespawnS, [this] { StartTalker(0.2); }); break;
      case Role::kChurner: After(kRespawnS, [this] { StartChurner(); }); break;
      case Role::kIdler: After(0.1, [this] { StartIdler(); }); break;
    }
  }

  void Add(SessionFigures f) {
    interval_.latency_s.insert(interval_.latency_s.end(), f.latency_s.begin(), f.latency_s.end());
    interval_.turns += f.turns;
    interval_.errors += f.errors;
    interval_.connect_failures += f.connect_failures;
    interval_.dropped += f.dropped;
  }

  // Runs `fn` on the io_context after `delay_s` unless the soak finishes first.
  void After(double delay_s, std::function<void()> fn) {
    const uint64_t id = next_timer_id_++;
    auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(static_cast<int>(delay_s * 1000)));
    timers_[id] = timer;
    timer->async_wait([this, id, fn = std::move(fn)](boost::system::error_code ec) {
      timers_.erase(id);
      if (!ec && !finishing_) fn();
    });
  }

  void ScheduleReport() {
    const auto stop_at = start_ + std::chrono::milliseconds(static_cast<int64_t>(options_.seconds * 1000));
    const auto next = std::min(
        stop_at, start_ + std::chrono::milliseconds(static_cast<int64_t>(++reports_ * options_.report_s * 1000)));
    report_timer_.expires_at(next);
    report_timer_.async_wait([this, stop_at](boost::system::error_code ec) {
      if (ec) return;
      for (auto& [raw, client] : live_) Add(client->TakeFigures());
      Report();
      if (Clock::now() >= stop_at) {
        Finish();
      } else {
        ScheduleReport();
      }
    });
  }

  void Report();

  // Stops replacing clients and hangs up on every one; io_.run() returns once their handlers end.
  void Finish() {
    finishing_ = true;
    for (auto& [id, timer] : timers_) timer->cancel();
    const auto live = live_;
    for (auto& [raw, client] : live) client->Close();
  }

  asio::io_context io_;
  BenchServer& server_;
  const TurnAudio& turn_;
  SoakOptions options_;
  asio::steady_timer report_timer_;
  Clock::time_point start_;
  std::map<Talker*, std::shared_ptr<Talker>> live_;
  std::map<uint64_t, std::shared_ptr<asio::steady_timer>> timers_;
  uint64_t next_timer_id_ = 0;
  std::mt19937 rng_{7};
  bool finishing_ = false;
  int reports_ = 0, clients_started_ = 0, churners_started_ = 0, idlers_started_ = 0;
  SessionFigures interval_, totals_;
  double cpu_at_report_ = 0, last_elapsed_s_ = 0;
  std::vector<Row> rows_;
};

void PrintHeader() {
  std::printf("  %7s %8s %5s %7s %5s %6s %8s %8s %6s %5s\n", "elapsed", "RSS MiB", "fds", "threads", "cpu", "turns",
              "p50 ms", "p95 ms", "errors", "open");
}

void PrintRow(const Row& row, const char* note) {
  const int s = static_cast<int>(std::lround(row.elapsed_s));
  auto ms = [](double v) { return std::isnan(v) ? std::string("-") : std::to_string(std::lround(v * 1000)); };
  std::printf("  %4d:%02d %8.1f %5ld %7ld %4.0f%% %6d %8s %8s %6d %5lld%s\n", s / 60, s % 60, row.rss_kib / 1024.0,
              row.fds, row.threads, row.cpu_percent, row.turns, ms(row.p50_s).c_str(), ms(row.p95_s).c_str(),
              row.errors, static_cast<long long>(row.open_sessions), note);
  std::fflush(stdout);
}

void Soak::Report() {
  rows_.push_back(Sample());
  PrintRow(rows_.back(), rows_.size() == 1 ? "  (start: server up, no client)" : "");
}

int RunSoakBench(int argc, char** argv) {
  cli::Flags flags(
      "cadence bench soak [--sessions N] [--minutes M] [options]  (per-peer limits are off: every client is on "
      "loopback)");
  flags.Int("sessions", "N", "sessions talking continuously", 4, 1, 1024);
  flags.Double("minutes", "M", "how long the soak runs", 10.0, 0.05, 7 * 24 * 60);
  flags.Int("churn", "N", "callers at a time that talk one turn and hang up (every other one mid-reply)", 1, 0, 1024);
  flags.Int("idle", "N", "idle sessions at a time, each staying 5-30 s", 4, 0, 100000);
  flags.Double("report-s", "S", "seconds between rows", 60.0, 1.0, 3600.0);
  flags.Double("settle-s", "S", "wait after every client left, before the end row (decoders idle 60 s are freed)",
               70.0, 0.0, 3600.0);
  flags.String("text", "TEXT", "what the simulated users say", "What is the weather like today?");
  cli::AddWorkerFlags(&flags);
  cli::AddEngineFlags(&flags);
  cli::AddLimitFlags(&flags);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  SetLogLevel(LogLevel::kWarn);

  server::ServerConfig config;
  cli::ApplyLimitFlags(flags, &config);
  auto bench = BenchServer::Start(flags, std::move(config));
  if (!bench.ok()) {
    std::fprintf(stderr, "error: %s\n", bench.status().message().c_str());
    return 1;
  }
  BenchServer& server = **bench;
  auto speech = SynthesizeUserSpeech(server.engines().tts(), flags.Get("text"));
  if (!speech.ok()) {
    std::fprintf(stderr, "error: %s\n", speech.status().message().c_str());
    return 1;
  }
  const TurnAudio turn = MakeTurnAudio(*speech);
  const SoakOptions options{.talkers = flags.GetInt("sessions"),
                            .churn = flags.GetInt("churn"),
                            .idle = flags.GetInt("idle"),
                            .seconds = flags.GetDouble("minutes") * 60,
                            .report_s = flags.GetDouble("report-s")};
  const cli::WorkerCounts& counts = server.counts();
  const realtime::HealthInfo health = server.engines().Health();
  std::printf("cadence bench soak — %d talking sessions, %d churning, %d idle, %.1f min; %u hardware threads, "
              "threads %d/%d/%d (ASR/reply/brain), %d IO threads\n",
              options.talkers, options.churn, options.idle, options.seconds / 60, std::thread::hardware_concurrency(),
              counts.threads, counts.reply_threads, counts.brain_threads, counts.io_threads);
  std::printf("engines: vad=%s asr=%s tts=%s brain=%s; user turn %.2f s of speech in %.2f s of audio at 1x\n",
              health.vad.c_str(), health.asr.c_str(), health.tts.c_str(), health.brain.c_str(),
              speech->size() / 24000.0, turn.duration_s());
  std::printf("cpu: the process's CPU time, %% of one core; p50/p95: speech_stopped -> first reply audio delta; "
              "errors: error events + lost connections + refused connects; open: sessions the server holds\n");
  PrintHeader();

  Soak soak(server, turn, options);
  soak.Run();
  // Every client has hung up; give the server up to 10 s to close their sessions, then --settle-s
  // for its janitor to free what they left (decoders idle for 60 s).
  for (int i = 0; i < 100 && server.stats().active_sessions > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double settle_s = flags.GetDouble("settle-s");
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(settle_s * 1000)));
  soak.rows().push_back(soak.Sample());
  PrintRow(soak.rows().back(), ("  (end: every client gone " + std::to_string(std::lround(settle_s)) + " s ago)").c_str());

  const Row& start = soak.rows().front();
  const Row& first = soak.rows()[std::min<size_t>(1, soak.rows().size() - 1)];
  const Row& end = soak.rows().back();
  const SessionFigures& totals = soak.totals();
  const server::ServerStats stats = server.stats();
  std::printf("\nclients started %d, sessions the server served %lld; turns %d; error events %d, lost connections %d, "
              "refused connects %d; slow clients closed %lld, connections refused %lld\n",
              soak.clients_started(), static_cast<long long>(stats.total_sessions), totals.turns, totals.errors,
              totals.dropped, totals.connect_failures, static_cast<long long>(stats.closed_slow_clients),
              static_cast<long long>(stats.refused_connections));
  const Row& last_live = soak.rows()[soak.rows().size() - 2];
  std::printf("while talking (last interval minus the first): RSS %+.1f MiB, fds %+ld, threads %+ld\n",
              (last_live.rss_kib - first.rss_kib) / 1024.0, last_live.fds - first.fds, last_live.threads - first.threads);
  const double rss_growth = first.rss_kib > 0 ? static_cast<double>(end.rss_kib - first.rss_kib) / first.rss_kib : 0;
  std::printf("drift (end minus after the first interval): RSS %+.1f MiB (%+.1f %%), fds %+ld, threads %+ld; "
              "against the start: RSS %+.1f MiB, fds %+ld, threads %+ld\n",
              (end.rss_kib - first.rss_kib) / 1024.0, 100 * rss_growth, end.fds - first.fds,
              end.threads - first.threads, (end.rss_kib - start.rss_kib) / 1024.0, end.fds - start.fds,
              end.threads - start.threads);
  const bool rss_flat = rss_growth < kMaxRssGrowth;
  const bool fds_back = end.fds <= start.fds;
  const bool threads_back = end.threads <= start.threads;
  char rss_change[96];
  std::snprintf(rss_change, sizeof rss_change, "RSS %s %.1f %% from the first interval to the end row",
                rss_growth >= 0 ? "grew" : "fell", 100 * std::abs(rss_growth));
  if (rss_flat && fds_back && threads_back) {
    std::printf("verdict: flat (%s, under %.0f %% growth; fds and threads back at their baseline)\n", rss_change,
                100 * kMaxRssGrowth);
  } else {
    std::string why;
    if (!rss_flat) why += std::string(" ") + rss_change + ";";
    if (!fds_back) why += " " + std::to_string(end.fds - start.fds) + " fds more than at the start;";
    if (!threads_back) why += " " + std::to_string(end.threads - start.threads) + " threads more than at the start;";
    why.pop_back();
    std::printf("verdict: NOT flat:%s\n", why.c_str());
  }
  server.Stop();
  return 0;
}

}  // namespace

CADENCE_BENCH(soak, "N sessions talking for M minutes with churn: RSS, fds, threads and latency per minute",
              RunSoakBench);

}  // namespace cadence::bench
