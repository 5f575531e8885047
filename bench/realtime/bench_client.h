// What the realtime benchmarks (`cadence bench realtime`, `cadence bench soak`) share: the server
// under test started in-process (BenchServer), the simulated user's speech (SynthesizeUserSpeech,
// MakeTurnAudio) and a small Beast WebSocket client that speaks it (Talker), plus /proc readings.
//
// Threading: a Talker lives on one client io_context and is only touched from the thread that runs
// it, except done(), which any thread may poll. Units: seconds unless a name says otherwise; audio is
// pcm16 at 24 kHz, sent in kChunkMs appends at 1x real time with server VAD.
//
// Header-only: the cadence executable compiles bench/**/*_bench.cc (src/cli/CMakeLists.txt), so a
// shared source file here would not be built.
#pragma once

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
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "audio/pcm.h"
#include "audio/resampler.h"
#include "audio/wav.h"
#include "cli/command.h"
#include "core/base64.h"
#include "core/cancel.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "server/engine_set.h"
#include "server/server.h"
#include "speech/tts/synthesizer.h"

namespace cadence::bench {

using Clock = std::chrono::steady_clock;

inline constexpr int kChunkMs = 40;
inline constexpr int kSilenceMs = 500;  // server_vad silence_duration_ms asked for
inline constexpr double kPlaybackBufferS = 0.2;

inline double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A field of /proc/self/status in its own unit ("VmRSS": KiB, "Threads": a count); 0 when absent.
inline long ProcStatus(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = field + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size()));
  return 0;
}

inline long RssKiB() { return ProcStatus("VmRSS"); }

// User + system CPU time of the process so far.
inline double ProcessCpuSeconds() {
  std::ifstream in("/proc/self/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(s.substr(s.rfind(')') + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;
  long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / 100.0;
}

// Nearest-rank percentile, p in [0, 1]; NAN for no values.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(std::ceil(p * v.size())) - (p > 0 ? 1 : 0));
  return v[i];
}

// The server under test, in this process, with its engines and pools; torn down in order (server,
// then pools, then engines).
class BenchServer {
 public:
  // Builds the engines from the engine flags (AddEngineFlags) and the pools from the worker flags
  // (AddWorkerFlags), then starts a server with `config` on a free port of 127.0.0.1 with the
  // per-peer limits off: every simulated user comes from loopback, one address holds them all.
  static Result<std::unique_ptr<BenchServer>> Start(const cli::Flags& flags, server::ServerConfig config) {
    auto engines = server::EngineSet::Build(cli::EngineOptionsFromFlags(flags));
    if (!engines.ok()) return engines.status();
    std::unique_ptr<BenchServer> bench(new BenchServer());
    bench->counts_ = cli::GetWorkerCounts(flags);
    bench->engines_ = std::move(*engines);
    bench->workers_ = std::make_unique<ThreadPool>(static_cast<size_t>(bench->counts_.threads));
    if (bench->counts_.reply_threads > 0)
      bench->reply_workers_ = std::make_unique<ThreadPool>(static_cast<size_t>(bench->counts_.reply_threads));
    if (bench->counts_.brain_threads > 0)
      bench->brain_workers_ = std::make_unique<ThreadPool>(static_cast<size_t>(bench->counts_.brain_threads));
    config.port = 0;
    config.io_threads = bench->counts_.io_threads;
    config.peer_limits = {.max_sessions = 0, .connections_per_s = 0, .failed_auth_per_min = 0};
    config.engines =
        bench->engines_->Engines(bench->workers_.get(), bench->reply_workers_.get(), bench->brain_workers_.get());
    config.health = bench->engines_->Health();
    bench->rss_before_start_kib_ = RssKiB();
    auto server = server::Server::Start(std::move(config));
    if (!server.ok()) return server.status();
    bench->server_ = std::move(*server);
    return bench;
  }
  ~BenchServer() { Stop(); }
  BenchServer(const BenchServer&) = delete;
  BenchServer& operator=(const BenchServer&) = delete;

  // Closes every session and joins the server's threads, then the pools'. Idempotent.
  void Stop() {
    if (server_) server_->Stop();
    brain_workers_.reset();
    reply_workers_.reset();
    workers_.reset();
  }

  uint16_t port() const { return server_->port(); }
  server::ServerStats stats() const { return server_->stats(); }
  const server::EngineSet& engines() const { return *engines_; }
  const cli::WorkerCounts& counts() const { return counts_; }
  // Process RSS with the engines loaded and the pools made, before the server started.
  long rss_before_start_kib() const { return rss_before_start_kib_; }

 private:
  BenchServer() = default;
  cli::WorkerCounts counts_;
  std::unique_ptr<server::EngineSet> engines_;
  std::unique_ptr<ThreadPool> workers_, reply_workers_, brain_workers_;
  std::unique_ptr<server::Server> server_;
  long rss_before_start_kib_ = 0;
};

// The simulated user's speech (24 kHz), made by the server's own synthesizer: the male voice "rms",
// unlike the replies, or the default voice where there is none.
inline Result<std::vector<float>> SynthesizeUserSpeech(const speech::Synthesizer& tts, const std::string& text) {
  std::vector<float> speech;
  speech::SynthesisRequest request;
  request.text = text;
  Status status;
  for (const char* voice : {"rms", ""}) {
    request.voice = voice;
    speech.clear();
    status = tts.Synthesize(request, CancelToken(), [&](std::span<const float> s) {
      speech.insert(speech.end(), s.begin(), s.end());
      return true;
    });
    if (status.ok() && !speech.empty()) return speech;
  }
  return Status::Internal("cannot synthesize the test speech: " + status.ToString());
}

// One turn's audio as append events: lead silence, speech, trailing silence (pcm16 24 kHz).
struct TurnAudio {
  std::vector<std::string> appends;  // JSON events, ready to send
  size_t speech_end_chunk = 0;       // index of the chunk holding the last speech sample
  double duration_s() const { return appends.size() * kChunkMs / 1000.0; }
};

inline TurnAudio MakeTurnAudio(const std::vector<float>& speech_24k) {
  std::vector<float> samples(24000 * 300 / 1000, 0.0f);
  samples.insert(samples.end(), speech_24k.begin(), speech_24k.end());
  const size_t speech_end = samples.size();
  samples.resize(samples.size() + 24000 * (kSilenceMs + 700) / 1000, 0.0f);
  std::vector<uint8_t> bytes;
  audio::EncodeSamples(audio::SampleFormat::kPcm16, samples, &bytes);
  TurnAudio turn;
  const size_t chunk_bytes = 24000 * kChunkMs / 1000 * 2;
  for (size_t at = 0; at < bytes.size(); at += chunk_bytes) {
    const size_t n = std::min(chunk_bytes, bytes.size() - at);
    turn.appends.push_back(R"({"type":"input_audio_buffer.append","audio":")" +
                           Base64Encode(std::span<const uint8_t>(bytes.data() + at, n)) + "\"}");
  }
  turn.speech_end_chunk = speech_end * 2 / chunk_bytes;
  return turn;
}

// Recorded speech as turns: each WAV (any rate, downmixed) resampled to 24 kHz. Errors name the file.
inline Result<std::vector<TurnAudio>> LoadTurnAudio(const std::vector<std::string>& wav_paths) {
  std::vector<TurnAudio> turns;
  for (const std::string& path : wav_paths) {
    auto wav = audio::ReadWav(path);
    if (!wav.ok()) return wav.status();
    turns.push_back(MakeTurnAudio(audio::Resample(wav->samples, wav->sample_rate_hz, 24000)));
  }
  return turns;
}

struct SessionFigures {
  std::vector<double> latency_s;    // speech_stopped -> first audio delta
  std::vector<double> input_lag_s;  // speech_stopped arrival vs. when the audio implies it
  int underruns = 0;
  int turns = 0;
  int errors = 0;            // error events
  int connect_failures = 0;  // TCP connect or WebSocket handshake refused
  int dropped = 0;           // connection lost without Close() (closed by the server or reset)
  double reply_audio_s = 0;
};

// A client session: streams turns at 1x and records what arrives. All on the client io_context.
class Talker : public std::enable_shared_from_this<Talker> {
 public:
  // `turns` (spoken in rotation, one per reply) must outlive the Talker. It talks until
  // `max_turns` replies are done or `stop_at`.
  Talker(boost::asio::io_context& io, uint16_t port, std::span<const TurnAudio> turns, int max_turns,
         Clock::time_point stop_at)
      : ws_(io), timer_(io), port_(port), turns_audio_(turns), max_turns_(max_turns), stop_at_(stop_at) {}
  Talker(boost::asio::io_context& io, uint16_t port, const TurnAudio& turn, int max_turns, Clock::time_point stop_at)
      : Talker(io, port, std::span<const TurnAudio>(&turn, 1), max_turns, stop_at) {}

  // Before Start(): the session's reply budget (max_output_tokens; 0: the server's default).
  void SetMaxOutputTokens(int tokens) { max_output_tokens_ = tokens; }

  // Before Start(): `fn` runs once, on the io_context, when the Talker is done (its turns are over,
  // or the connection failed, was lost or was closed).
  void OnDone(std::function<void()> fn) { on_done_ = std::move(fn); }
  // Before Start(): hang up (no close frame) when the first reply audio arrives, as a user who
  // leaves mid-reply.
  void HangUpAtFirstAudio() { hang_up_at_first_audio_ = true; }

  // Connects (blocking the io_context thread for the handshake). A talking session asks for server
  // VAD and begins its first turn after `delay_s`; an idle one only reads.
  void Start(double delay_s, bool talk) {
    talk_ = talk;
    boost::beast::error_code ec;
    boost::beast::get_lowest_layer(ws_).socket().connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_), ec);
    if (!ec) ws_.handshake("127.0.0.1", "/v1/realtime?model=step-2.5-realtime", ec);
    if (ec) {
      std::fprintf(stderr, "bench client: connect failed: %s\n", ec.message().c_str());
      ++figures_.connect_failures;
      SetDone();
      return;
    }
    ws_.text(true);
    Read();
    if (!talk_) return;
    Send(R"({"type":"session.update","session":{"type":"realtime","output_modalities":["audio"],)" +
         (max_output_tokens_ > 0 ? R"("max_output_tokens":)" + std::to_string(max_output_tokens_) + "," : std::string()) +
         R"("audio":{"input":{"turn_detection":{"type":"server_vad","silence_duration_ms":)" +
         std::to_string(kSilenceMs) + "}}}}}");
    timer_.expires_after(std::chrono::milliseconds(static_cast<int>(delay_s * 1000)));
    timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
      if (!ec) self->BeginTurn();
    });
  }

  // Abruptly (the socket closed, no close frame) or with a WebSocket close handshake. An abrupt
  // Close() after a graceful one closes the socket even if the server never answered.
  void Close(bool graceful = false) {
    const bool was_closing = std::exchange(closing_, true);
    timer_.cancel();
    if (graceful && !was_closing && ws_.is_open()) {
      ws_.async_close(boost::beast::websocket::close_code::normal, [self = shared_from_this()](boost::beast::error_code) {
        boost::beast::error_code ignored;
        boost::beast::get_lowest_layer(self->ws_).socket().close(ignored);
      });
      return;
    }
    boost::beast::error_code ec;
    boost::beast::get_lowest_layer(ws_).socket().close(ec);
  }

  bool done() const { return done_; }
  const SessionFigures& figures() const { return figures_; }
  // What was recorded since the last call (for figures per interval).
  SessionFigures TakeFigures() { return std::exchange(figures_, SessionFigures()); }

 private:
  void SetDone() {
    if (done_.exchange(true)) return;
    if (on_done_) boost::asio::post(ws_.get_executor(), [self = shared_from_this()] { self->on_done_(); });
  }

  void BeginTurn() {
    if (closing_ || turns_ >= max_turns_ || Clock::now() >= stop_at_) {
      SetDone();
      return;
    }
    next_chunk_ = 0;
    turn_ = &turns_audio_[static_cast<size_t>(turns_) % turns_audio_.size()];
    turn_start_ = Clock::now();
    speech_end_sent_ = Clock::time_point();
    awaiting_first_audio_ = false;
    SendChunk();
  }

  void SendChunk() {
    if (closing_) return;
    if (next_chunk_ >= turn_->appends.size()) return;  // the reply's response.done starts the next turn
    if (next_chunk_ == turn_->speech_end_chunk) speech_end_sent_ = Clock::now();
    Send(turn_->appends[next_chunk_++]);
    // Paced against the turn's start, not the previous send, so timer slack does not accumulate.
    timer_.expires_at(turn_start_ + std::chrono::milliseconds(kChunkMs * next_chunk_));
    timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
      if (!ec) self->SendChunk();
    });
  }

  void Send(std::string text) {
    queue_.push_back(std::move(text));
    if (queue_.size() == 1) WriteNext();
  }
  void WriteNext() {
    ws_.async_write(boost::asio::buffer(queue_.front()), [self = shared_from_this()](boost::beast::error_code ec, size_t) {
      self->queue_.erase(self->queue_.begin());
      if (ec) return;
      if (!self->queue_.empty()) self->WriteNext();
    });
  }

  void Read() {
    ws_.async_read(buffer_, [self = shared_from_this()](boost::beast::error_code ec, size_t) {
      if (ec) {
        if (!self->closing_) ++self->figures_.dropped;
        self->SetDone();
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
        if (hang_up_at_first_audio_) {
          Close();
          SetDone();
          return;
        }
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
      // Recorded speech may pause long enough for the VAD to end a turn early: only the stop after
      // the turn's last word measures the VAD's lag.
      if (speech_end_sent_ != Clock::time_point())
        figures_.input_lag_s.push_back(Seconds(speech_end_sent_, now) - kSilenceMs / 1000.0);
    } else if (type == "response.done") {
      ++figures_.turns;
      ++turns_;
      awaiting_first_audio_ = false;
      // Let the reply play out (as a client would) before talking again.
      const double remaining_s =
          std::max(0.0, received_audio_s_ + kPlaybackBufferS - Seconds(first_audio_, now)) + 0.3;
      timer_.expires_after(std::chrono::milliseconds(static_cast<int>(remaining_s * 1000)));
      timer_.async_wait([self = shared_from_this()](boost::beast::error_code ec) {
        if (!ec) self->BeginTurn();
      });
    } else if (type == "error") {
      ++figures_.errors;
      if (++errors_printed_ <= 3)
        std::fprintf(stderr, "bench client: error event: %s\n", std::string(msg.substr(0, 300)).c_str());
    }
  }

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::asio::steady_timer timer_;
  uint16_t port_;
  std::span<const TurnAudio> turns_audio_;
  const TurnAudio* turn_ = nullptr;  // the turn being spoken
  int max_output_tokens_ = 0;
  int max_turns_;
  Clock::time_point stop_at_;
  std::function<void()> on_done_;
  bool hang_up_at_first_audio_ = false;
  bool talk_ = true;
  bool closing_ = false;
  std::atomic<bool> done_{false};
  boost::beast::flat_buffer buffer_;
  std::vector<std::string> queue_;
  size_t next_chunk_ = 0;
  Clock::time_point turn_start_, speech_end_sent_, speech_stopped_, first_audio_;
  bool awaiting_first_audio_ = false;
  double received_audio_s_ = 0;
  int turns_ = 0;           // replies done over the Talker's life (figures_ may have been taken)
  int errors_printed_ = 0;
  SessionFigures figures_;
};

}  // namespace cadence::bench
