// `cadence bench realtime`: the whole realtime stack measured from outside, as a client sees it.
// Starts the server in-process on the default engines (energy/Silero VAD, PocketSphinx, Flite,
// scripted brain) and drives it over loopback WebSockets with a small Beast client:
//   1. latency: time from `input_audio_buffer.speech_stopped` to the first reply audio delta, over
//      --turns voice turns of one session (speech synthesized by the server's own TTS, streamed at
//      1x in 40 ms appends);
//   2. concurrency: N sessions talking at once (each streams a turn at 1x, waits for the reply,
//      repeats) for --seconds; a session keeps real time when no reply underruns a 200 ms playback
//      buffer and speech_stopped arrives within 300 ms of when the audio says it should;
//   3. memory: resident memory per idle session and per talking session.
// The client runs in the same process on the same cores, so figures are conservative.
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "audio/pcm.h"
#include "cli/command.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/thread_pool.h"
#include "realtime/stage_stats.h"
#include "server/engine_set.h"
#include "server/server.h"
#include "speech/tts/synthesizer.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int kChunkMs = 40;
constexpr int kSilenceMs = 500;        // server_vad silence_duration_ms asked for
constexpr double kPlaybackBufferS = 0.2;
constexpr double kMaxInputLagS = 0.3;
constexpr double kMaxReplyLatencyS = 1.0;  // p95 speech_stopped -> first audio, to count as live

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

long RssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - (p > 0 ? 1 : 0));
  return v[i];
}

// One turn's audio as append events: lead silence, speech, trailing silence (pcm16 24 kHz).
struct TurnAudio {
  std::vector<std::string> appends;  // JSON events, ready to send
  size_t speech_end_chunk = 0;       // index of the chunk holding the last speech sample
};

TurnAudio MakeTurnAudio(const std::vector<float>& speech_24k) {
  std::vector<float> samples(24000 * 300 / 1000, 0.0f);
  samples.insert(samples.end(), speech_24k.begin(), speech_24k.end());
  const size_t speech_end = samples.size();
  samples.resize(samples.size() + 24000 * (kSilenceMs + 700) / 1000, 0.0f);
  std::vector<uint8_t> bytes;
  cadence::audio::EncodeSamples(cadence::audio::SampleFormat::kPcm16, samples, &bytes);
  TurnAudio turn;
  const size_t chunk_bytes = 24000 * kChunkMs / 1000 * 2;
  for (size_t at = 0; at < bytes.size(); at += chunk_bytes) {
    const size_t n = std::min(chunk_bytes, bytes.size() - at);
    turn.appends.push_back(R"({"type":"input_audio_buffer.append","audio":")" + cadence::Base64Encode(std::span<const uint8_t>(bytes.data() + at, n)) + "\"}");
  }
  turn.speech_end_chunk = speech_end * 2 / chunk_bytes;
  return turn;
}

struct SessionFigures {
  std::vector<double> latency_s;    // speech_stopped -> first audio delta
  std::vector<double> input_lag_s;  // speech_stopped arrival vs. when the audio implies it
  int underruns = 0;
  int turns = 0;
  int errors = 0;
  double reply_audio_s = 0;
};

// A client session: streams turns at 1x and records what arrives. All on the client io_context.
class Talker : public std::enable_shared_from_this<Talker> {
 public:
  Talker(asio::io_context& io, uint16_t port, const TurnAudio& turn, int max_turns, Clock::time_point stop_at)
      : ws_(io), timer_(io), port_(port), turn_(turn), max_turns_(max_turns), stop_at_(stop_at) {}

  void Start(double delay_s, bool talk) {
    talk_ = talk;
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    if (!ec) ws_.handshake("127.0.0.1", "/v1/realtime?model=step-2.5-realtime", ec);
    if (ec) {
      std::fprintf(stderr, "bench client: connect failed: %s\n", ec.message().c_str());
      done_ = true;
      return;
    }
    ws_.text(true);
    Read();
    if (!talk_) return;
    Send(R"({"type":"session.update","session":{"type":"realtime","output_modalities":["audio"],"audio":{"input":{"turn_detection":{"type":"server_vad","silence_duration_ms":)" +
         std::to_string(kSilenceMs) + "}}}}}");
    timer_.expires_after(std::chrono::milliseconds(static_cast<int>(delay_s * 1000)));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->BeginTurn();
    });
  }

  void Close() {
    closing_ = true;
    timer_.cancel();
    beast::error_code ec;
    beast::get_lowest_layer(ws_).socket().close(ec);
  }

  bool done() const { return done_; }
  const SessionFigures& figures() const { return figures_; }

 private:
  void BeginTurn() {
    if (closing_ || figures_.turns >= max_turns_ || Clock::now() >= stop_at_) {
      done_ = true;
      return;
    }
    next_chunk_ = 0;
    turn_start_ = Clock::now();
    awaiting_first_audio_ = false;
    SendChunk();
  }

  void SendChunk() {
    if (closing_) return;
    if (next_chunk_ >= turn_.appends.size()) return;  // the reply's response.done starts the next turn
    if (next_chunk_ == turn_.speech_end_chunk) speech_end_sent_ = Clock::now();
    Send(turn_.appends[next_chunk_++]);
    // Paced against the turn's start, not the previous send, so timer slack does not accumulate.
    timer_.expires_at(turn_start_ + std::chrono::milliseconds(kChunkMs * next_chunk_));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->SendChunk();
    });
  }

  void Send(std::string text) {
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) WriteNext();
  }
  void WriteNext() {
    ws_.async_write(asio::buffer(queue_.front()), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->queue_.erase(self->queue_.begin());
      if (ec) return;
      if (!self->queue_.empty()) self->WriteNext();
    });
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->done_ = true;
        return;
      }
      self->OnMessage(Clock::now());
      self->buffer_.clear();
      self->Read();
    });
  }

  void OnMessage(Clock::time_point now) {
    const auto data = buffer_.cdata();
    std::string_view msg(static_cast<const char*>(data.data()), data.size());
    if (msg.find("\"response.output_audio.delta\"") != std::string_view::npos) {
      const size_t at = msg.find("\"delta\":\"");
      const size_t end = at == std::string_view::npos ? at : msg.find('"', at + 9);
      const double audio_s = end == std::string_view::npos ? 0 : (end - at - 9) * 3.0 / 4.0 / 2.0 / 24000.0;
      if (awaiting_first_audio_) {
        awaiting_first_audio_ = false;
        figures_.latency_s.push_back(Seconds(speech_stopped_, now));
        first_audio_ = now;
        received_audio_s_ = 0;
      }
      // A player started kPlaybackBufferS after the first delta has played this much by now.
      const double played_s = Seconds(first_audio_, now) - kPlaybackBufferS;
      if (played_s > received_audio_s_ + 0.02) ++figures_.underruns;
      received_audio_s_ += audio_s;
      figures_.reply_audio_s += audio_s;
      return;
    }
    const auto event = nlohmann::json::parse(msg, nullptr, false);
    if (event.is_discarded()) return;
    const std::string type = event.value("type", "");
    if (type == "input_audio_buffer.speech_stopped") {
      speech_stopped_ = now;
      awaiting_first_audio_ = true;
      figures_.input_lag_s.push_back(Seconds(speech_end_sent_, now) - kSilenceMs / 1000.0);
    } else if (type == "response.done") {
      ++figures_.turns;
      awaiting_first_audio_ = false;
      // Let the reply play out (as a client would) before talking again.
      const double remaining_s = std::max(0.0, received_audio_s_ + kPlaybackBufferS - Seconds(first_audio_, now)) + 0.3;
      timer_.expires_after(std::chrono::milliseconds(static_cast<int>(remaining_s * 1000)));
      timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->BeginTurn();
      });
    } else if (type == "error") {
      ++figures_.errors;
      if (figures_.errors <= 3)
        std::fprintf(stderr, "bench client: error event: %s\n", std::string(msg.substr(0, 300)).c_str());
    }
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer timer_;
  uint16_t port_;
  const TurnAudio& turn_;
  int max_turns_;
  Clock::time_point stop_at_;
  bool talk_ = true;
  bool closing_ = false;
  std::atomic<bool> done_{false};
  beast::flat_buffer buffer_;
  std::vector<std::string> queue_;
  size_t next_chunk_ = 0;
  Clock::time_point turn_start_, speech_end_sent_, speech_stopped_, first_audio_;
  bool awaiting_first_audio_ = false;
  double received_audio_s_ = 0;
  SessionFigures figures_;
};

struct RunResult {
  std::vector<SessionFigures> sessions;
  long peak_rss_kib = 0;
  double cpu_s = 0;
  double wall_s = 0;
};

double ProcessCpuSeconds() {
  std::ifstream in("/proc/self/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(s.substr(s.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / 100.0;
}

RunResult RunTalkers(uint16_t port, const TurnAudio& turn, int sessions, int max_turns, double seconds) {
  asio::io_context io;
  const auto start = Clock::now();
  const auto stop_at = start + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  std::vector<std::shared_ptr<Talker>> talkers;
  const double cpu0 = ProcessCpuSeconds();
  for (int i = 0; i < sessions; ++i) {
    talkers.push_back(std::make_shared<Talker>(io, port, turn, max_turns, stop_at));
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

std::vector<int> ParseList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(std::atoi(item.c_str()));
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
  flags.String("text", "TEXT", "what the simulated user says", "What is the weather like today?");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const cadence::cli::WorkerCounts counts = cadence::cli::GetWorkerCounts(flags);
  cadence::SetLogLevel(cadence::LogLevel::kWarn);

  auto engines = cadence::server::EngineSet::Build(cadence::cli::EngineOptionsFromFlags(flags));
  if (!engines.ok()) {
    std::fprintf(stderr, "error: %s\n", engines.status().message().c_str());
    return 1;
  }
  auto workers = std::make_unique<cadence::ThreadPool>(static_cast<size_t>(counts.threads));
  const int reply_threads = counts.reply_threads;
  auto reply_workers =
      reply_threads > 0 ? std::make_unique<cadence::ThreadPool>(static_cast<size_t>(reply_threads)) : nullptr;
  cadence::server::ServerConfig config;
  config.port = 0;
  config.io_threads = counts.io_threads;
  config.max_sessions = 1024;
  config.engines = (*engines)->Engines(workers.get(), reply_workers.get());
  config.health = (*engines)->Health();
  const long rss_start = RssKiB();
  auto server = cadence::server::Server::Start(std::move(config));
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", server.status().message().c_str());
    return 1;
  }
  const uint16_t port = (*server)->port();

  // The user's speech, made by the server's own synthesizer (male voice, unlike the replies).
  std::vector<float> speech;
  cadence::speech::SynthesisRequest request;
  request.text = flags.Get("text");
  request.voice = "rms";
  cadence::Status tts = (*engines)->tts().Synthesize(request, cadence::CancelToken(), [&](std::span<const float> s) {
    speech.insert(speech.end(), s.begin(), s.end());
    return true;
  });
  if (!tts.ok() || speech.empty()) {
    request.voice = "";
    speech.clear();
    tts = (*engines)->tts().Synthesize(request, cadence::CancelToken(), [&](std::span<const float> s) {
      speech.insert(speech.end(), s.begin(), s.end());
      return true;
    });
  }
  if (!tts.ok() || speech.empty()) {
    std::fprintf(stderr, "error: cannot synthesize the test speech: %s\n", tts.ToString().c_str());
    return 1;
  }
  const TurnAudio turn = MakeTurnAudio(speech);
  std::printf("cadence bench realtime — %u hardware threads, %d ASR workers, %s, %d IO threads\n",
              std::thread::hardware_concurrency(), counts.threads,
              reply_threads > 0 ? (std::to_string(reply_threads) + " reply workers").c_str() : "replies on the same pool",
              counts.io_threads);
  std::printf("engines: vad=%s asr=%s tts=%s brain=%s; user turn: \"%s\" (%.2f s speech, %zu appends of %d ms)\n",
              (*engines)->Health().vad.c_str(), (*engines)->Health().asr.c_str(), (*engines)->Health().tts.c_str(),
              (*engines)->Health().brain.c_str(), request.text.c_str(), speech.size() / 24000.0, turn.appends.size(),
              kChunkMs);

  // 1. Latency over one session's turns.
  const int turns = flags.GetInt("turns");
  std::printf("\n[1] latency: %d turns, one session, audio at 1x, server_vad silence %d ms\n", turns, kSilenceMs);
  std::fflush(stdout);
  RunResult one = RunTalkers(port, turn, 1, turns, 3600);
  const SessionFigures& f = one.sessions[0];
  std::printf("    turns completed %d, errors %d\n", f.turns, f.errors);
  std::printf("    speech_stopped -> first audio delta: median %.0f ms, p95 %.0f ms, min %.0f ms, max %.0f ms (n=%zu)\n",
              Percentile(f.latency_s, 0.5) * 1000, Percentile(f.latency_s, 0.95) * 1000,
              Percentile(f.latency_s, 0) * 1000, Percentile(f.latency_s, 1.0) * 1000, f.latency_s.size());
  std::printf("    speech_stopped after the audio implies it: median %.0f ms (VAD window + hysteresis)\n",
              Percentile(f.input_lag_s, 0.5) * 1000);
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
                static_cast<long long>((*server)->stats().active_sessions), after / 1024);
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
    RunResult r = RunTalkers(port, turn, n, 1 << 20, seconds);
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
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  std::printf("\nsessions that keep real time on this machine: %d (highest level tried that passed)\n", best);
  PrintStages(stage_rows, level_wall_s);
  std::printf("process RSS at start (engines loaded, no session): %ld MiB\n", rss_start / 1024);
  (*server)->Stop();
  reply_workers.reset();
  workers.reset();
  return 0;
}

}  // namespace

CADENCE_BENCH(realtime, "voice-turn latency, concurrent real-time sessions, memory per session", RunRealtimeBench);
