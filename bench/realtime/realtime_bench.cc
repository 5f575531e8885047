// `cadence bench realtime`: the whole realtime stack measured from outside, as a client sees it.
// Starts the server in-process on the default engines (energy/Silero VAD, PocketSphinx, Flite,
// scripted brain) and drives it over loopback WebSockets with the Beast client of bench_client.h:
//   1. latency: time from `input_audio_buffer.speech_stopped` to the first reply audio delta, over
//      --turns voice turns of one session (speech synthesized by the server's own TTS, streamed at
//      1x in 40 ms appends);
//   2. concurrency: N sessions talking at once (each streams a turn at 1x, waits for the reply,
//      repeats) for --seconds; a session keeps real time when no reply underruns a 200 ms playback
//      buffer and speech_stopped arrives within 300 ms of when the audio says it should;
//   3. memory: resident memory per idle session and per talking session.
// The client runs in the same process on the same cores, so figures are conservative.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench_client.h"
#include "brain/brain.h"
#include "cli/command.h"
#include "core/log.h"
#include "realtime/stage_stats.h"
#include "server/server.h"

namespace cadence::bench {
namespace {

namespace asio = boost::asio;

constexpr double kMaxInputLagS = 0.3;
constexpr double kMaxReplyLatencyS = 1.0;  // p95 speech_stopped -> first audio, to count as live

struct RunResult {
  std::vector<SessionFigures> sessions;
  long peak_rss_kib = 0;
  double cpu_s = 0;
  double wall_s = 0;
};

RunResult RunTalkers(uint16_t port, std::span<const TurnAudio> turns, int sessions, int max_turns, double seconds,
                     int max_output_tokens) {
  const TurnAudio& turn = turns[0];
  asio::io_context io;
  const auto start = Clock::now();
  const auto stop_at = start + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  std::vector<std::shared_ptr<Talker>> talkers;
  const double cpu0 = ProcessCpuSeconds();
  for (int i = 0; i < sessions; ++i) {
    talkers.push_back(std::make_shared<Talker>(io, port, turns, max_turns, stop_at));
    talkers.back()->SetMaxOutputTokens(max_output_tokens);
    // Staggered over one turn so that the sessions do not all speak in lockstep.
    talkers.back()->Start(sessions > 1 ? (turn.appends.size() * kChunkMs / 1000.0) * i / sessions : 0.2, true);
  }
  RunResult result;
  std::thread sampler([&] {
    while (Clock::now() < stop_at + std::chrono::seconds(15)) {
      result.peak_rss_kib = std::max(result.peak_rss_kib, RssKiB());
      bool all = true;
      for (auto& t : talkers) all = all && t->done();
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    asio::post(io, [&] {
      for (auto& t : talkers) t->Close();
    });
  });
  io.run();
  sampler.join();
  result.wall_s = Seconds(start, Clock::now());
  result.cpu_s = ProcessCpuSeconds() - cpu0;
  for (auto& t : talkers) result.sessions.push_back(t->figures());
  return result;
}

// The model brain's work between two readings: tokens generated and how fast while generating.
void PrintBrain(const cadence::brain::BrainStats& a, const cadence::brain::BrainStats& b) {
  const int64_t tokens = b.generated_tokens - a.generated_tokens;
  if (tokens == 0 && b.prompt_tokens == a.prompt_tokens) return;
  const double busy = b.busy_s - a.busy_s;
  const int64_t steps = b.decode_steps - a.decode_steps;
  std::printf("    brain: %lld tokens generated in %lld batched passes (mean batch %.2f, max %d); %.1f tok/s in all and "
              "%.1f tok/s per reply while the model ran (%.1f s busy); prompt tokens evaluated %lld, reused %lld\n",
              static_cast<long long>(tokens), static_cast<long long>(steps), steps ? double(tokens) / steps : 0.0,
              b.max_batch, busy > 0 ? tokens / busy : 0.0, busy > 0 ? steps / busy : 0.0, busy,
              static_cast<long long>(b.prompt_tokens - a.prompt_tokens),
              static_cast<long long>(b.reused_tokens - a.reused_tokens));
}

std::vector<std::string> ParseNames(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  for (const std::string& item : ParseNames(text)) out.push_back(std::atoi(item.c_str()));
  return out;
}

// Thread CPU time per stage (load-independent: other processes do not inflate it) and how long
// compute tasks waited in the pool, per concurrency level.
void PrintStages(const std::vector<std::pair<int, cadence::realtime::StageSnapshot>>& rows,
                 const std::vector<double>& wall_s) {
  using cadence::realtime::Stage;
  std::printf("\n[4] where the time goes: thread CPU ms per session-second (and per call), queue wait of compute "
              "tasks (mean / max so far, ms)\n");
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& [n, snap] = rows[r];
    const double session_s = n * wall_s[r];
    double total_ms = 0;
    std::printf("    %d sessions, %.0f s:\n", n, wall_s[r]);
    for (size_t i = 0; i < snap.size(); ++i) {
      const auto& t = snap[i];
      if (t.calls == 0 && t.waits == 0) continue;
      const double cpu_ms = t.cpu_ns / 1e6;
      total_ms += cpu_ms;
      std::printf("      %-16s %8.2f ms/s  %8.3f ms/call  %7lld calls", std::string(StageName(static_cast<Stage>(i))).c_str(),
                  cpu_ms / session_s, t.calls ? cpu_ms / t.calls : 0.0, static_cast<long long>(t.calls));
      if (t.waits > 0)
        std::printf("  wait %7.1f / %7.1f ms", t.wait_ns / 1e6 / t.waits, t.max_wait_ns / 1e6);
      std::printf("\n");
    }
    std::printf("      %-16s %8.2f ms/s  -> %.3f cores per talking session; %.1f sessions fit in 2 cores\n", "all stages",
                total_ms / session_s, total_ms / session_s / 1000, total_ms > 0 ? 2000.0 / (total_ms / session_s) : 0.0);
  }
}

int RunRealtimeBench(int argc, char** argv) {
  cadence::cli::Flags flags("cadence bench realtime [options]");
  flags.Int("turns", "N", "voice turns for the latency figure", 20, 1, 100000);
  flags.String("sessions", "LIST", "concurrent talking sessions to try, comma-separated", "8,16,32,48");
  flags.Double("seconds", "S", "how long each concurrency level talks", 20.0, 1.0, 86400.0);
  flags.Int("idle", "N", "idle sessions for the memory figure", 100, 1, 100000);
  cadence::cli::AddWorkerFlags(&flags);
  cadence::cli::AddEngineFlags(&flags);
  flags.String("text", "TEXT", "what the simulated user says (synthesized by the server's voice)",
               "What is the weather like today?");
  flags.String("audio", "WAV,...", "recorded user turns instead of --text, spoken in rotation (any rate; mono or downmixed)");
  flags.Int("max-output-tokens", "N", "reply budget each session asks for (0: the server's default)", 0, 0, 1 << 20);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  cadence::SetLogLevel(cadence::LogLevel::kWarn);

  cadence::server::ServerConfig config;
  config.max_sessions = 1024;
  auto bench = BenchServer::Start(flags, std::move(config));
  if (!bench.ok()) {
    std::fprintf(stderr, "error: %s\n", bench.status().message().c_str());
    return 1;
  }
  BenchServer& server = **bench;
  const cadence::cli::WorkerCounts& counts = server.counts();
  const int reply_threads = counts.reply_threads;
  const long rss_start = server.rss_before_start_kib();
  const uint16_t port = server.port();
  const cadence::realtime::HealthInfo health = server.engines().Health();

  const std::string text = flags.Get("text");
  std::vector<TurnAudio> turn_list;
  std::string said = "\"" + text + "\"";
  if (!flags.Get("audio").empty()) {
    auto loaded = LoadTurnAudio(ParseNames(flags.Get("audio")));
    if (!loaded.ok()) {
      std::fprintf(stderr, "error: --audio: %s\n", loaded.status().message().c_str());
      return 1;
    }
    turn_list = std::move(loaded).value();
    said = std::to_string(turn_list.size()) + " recorded turn(s)";
  } else {
    auto speech = SynthesizeUserSpeech(server.engines().tts(), text);
    if (!speech.ok()) {
      std::fprintf(stderr, "error: %s\n", speech.status().message().c_str());
      return 1;
    }
    turn_list.push_back(MakeTurnAudio(*speech));
  }
  const TurnAudio& turn = turn_list[0];
  const int max_output_tokens = flags.GetInt("max-output-tokens");
  const cadence::brain::Brain* brain = server.engines().brain();
  std::printf("cadence bench realtime — %u hardware threads, %d ASR workers, %s, %d IO threads\n",
              std::thread::hardware_concurrency(), counts.threads,
              reply_threads > 0 ? (std::to_string(reply_threads) + " reply workers").c_str() : "replies on the same pool",
              counts.io_threads);
  std::printf("engines: vad=%s asr=%s tts=%s brain=%s; user: %s (first turn %.2f s with silence, %zu appends of %d ms); "
              "reply budget %s\n",
              health.vad.c_str(), health.asr.c_str(), health.tts.c_str(), health.brain.c_str(), said.c_str(),
              turn.duration_s(), turn.appends.size(), kChunkMs,
              max_output_tokens > 0 ? (std::to_string(max_output_tokens) + " tokens").c_str() : "server default");

  // 1. Latency over one session's turns.
  const int turns = flags.GetInt("turns");
  std::printf("\n[1] latency: %d turns, one session, audio at 1x, server_vad silence %d ms\n", turns, kSilenceMs);
  std::fflush(stdout);
  cadence::brain::BrainStats brain0 = brain ? brain->Stats() : cadence::brain::BrainStats{};
  RunResult one = RunTalkers(port, turn_list, 1, turns, 3600, max_output_tokens);
  const SessionFigures& f = one.sessions[0];
  std::printf("    turns completed %d, errors %d\n", f.turns, f.errors);
  std::printf("    speech_stopped -> first audio delta: median %.0f ms, p95 %.0f ms, min %.0f ms, max %.0f ms (n=%zu)\n",
              Percentile(f.latency_s, 0.5) * 1000, Percentile(f.latency_s, 0.95) * 1000,
              Percentile(f.latency_s, 0) * 1000, Percentile(f.latency_s, 1.0) * 1000, f.latency_s.size());
  std::printf("    speech_stopped after the audio implies it: median %.0f ms (VAD window + hysteresis)\n",
              Percentile(f.input_lag_s, 0.5) * 1000);
  if (brain) PrintBrain(brain0, brain->Stats());
  std::fflush(stdout);

  // 2. Memory per idle session.
  const int idle = flags.GetInt("idle");
  {
    asio::io_context io;
    const long before = RssKiB();
    std::vector<std::shared_ptr<Talker>> idlers;
    for (int i = 0; i < idle; ++i) {
      idlers.push_back(std::make_shared<Talker>(io, port, turn, 0, Clock::now()));
      idlers.back()->Start(0, false);
    }
    io.run_for(std::chrono::seconds(2));
    const long after = RssKiB();
    std::printf("\n[2] memory: %d idle sessions add %ld KiB resident: %.1f KiB per idle session (server %lld open; "
                "process RSS %ld MiB with engines loaded)\n",
                idle, after - before, static_cast<double>(after - before) / idle,
                static_cast<long long>(server.stats().active_sessions), after / 1024);
    for (auto& t : idlers) t->Close();
    io.run_for(std::chrono::milliseconds(500));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));

  // 3. Concurrency.
  const double seconds = flags.GetDouble("seconds");
  std::printf("\n[3] concurrency: each level talks for %.0f s; real time = no playback underrun (%.0f ms buffer) "
              "speech_stopped p95 within %.0f ms of the audio, and first reply audio p95 within %.0f ms\n",
              seconds, kPlaybackBufferS * 1000, kMaxInputLagS * 1000, kMaxReplyLatencyS * 1000);
  std::printf("    %8s %7s %9s %9s %10s %9s %7s %9s %10s %s\n", "sessions", "turns", "lat p50", "lat p95", "input p95",
              "underrun", "errors", "cpu", "KiB/sess", "real time");
  int best = 0;
  std::vector<std::pair<int, cadence::realtime::StageSnapshot>> stage_rows;
  std::vector<double> level_wall_s;
  for (int n : ParseList(flags.Get("sessions"))) {
    const long base = RssKiB();
    const cadence::realtime::StageSnapshot stages0 = cadence::realtime::StageStats::Global().Snapshot();
    brain0 = brain ? brain->Stats() : cadence::brain::BrainStats{};
    RunResult r = RunTalkers(port, turn_list, n, 1 << 20, seconds, max_output_tokens);
    stage_rows.emplace_back(n, cadence::realtime::Subtract(cadence::realtime::StageStats::Global().Snapshot(), stages0));
    level_wall_s.push_back(r.wall_s);
    std::vector<double> lat, lag;
    int underruns = 0, errors = 0, done_turns = 0, silent = 0;
    for (const auto& s : r.sessions) {
      lat.insert(lat.end(), s.latency_s.begin(), s.latency_s.end());
      lag.insert(lag.end(), s.input_lag_s.begin(), s.input_lag_s.end());
      underruns += s.underruns;
      errors += s.errors;
      done_turns += s.turns;
      if (s.turns == 0) ++silent;
    }
    const bool ok = underruns == 0 && errors == 0 && silent == 0 && Percentile(lag, 0.95) <= kMaxInputLagS &&
                    Percentile(lat, 0.95) <= kMaxReplyLatencyS;
    if (ok) best = std::max(best, n);
    std::printf("    %8d %7d %7.0fms %7.0fms %8.0fms %9d %7d %8.0f%% %10.0f %s\n", n, done_turns,
                Percentile(lat, 0.5) * 1000, Percentile(lat, 0.95) * 1000, Percentile(lag, 0.95) * 1000, underruns,
                errors, 100.0 * r.cpu_s / r.wall_s, static_cast<double>(r.peak_rss_kib - base) / n,
                ok ? "yes" : (silent ? "no (sessions without a reply)" : "no"));
    if (brain) PrintBrain(brain0, brain->Stats());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::printf("\nsessions that keep real time on this machine: %d (highest level tried that passed)\n", best);
  PrintStages(stage_rows, level_wall_s);
  std::printf("process RSS at start (engines loaded, no session): %ld MiB\n", rss_start / 1024);
  server.Stop();
  return 0;
}

}  // namespace

CADENCE_BENCH(realtime, "voice-turn latency, concurrent real-time sessions, memory per session", RunRealtimeBench);

}  // namespace cadence::bench
