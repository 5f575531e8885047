// StageStats: process-wide CPU time and queue wait per stage of the realtime pipeline, so that the
// cost of a session can be measured independently of how loaded the machine is.
//
// CPU time is the calling thread's own (CLOCK_THREAD_CPUTIME_ID), so other processes on a shared
// machine do not inflate it. Scopes nest on one thread: an inner StageScope pauses the outer one,
// so every nanosecond is counted in exactly one stage (TTS excludes the wire encoding done inside
// its callback, for example). Queue wait is wall time from Submit to start of a compute task.
// All counters are relaxed atomics: any thread may record, any thread may Snapshot(). Cost: two
// clock_gettime calls per scope (well under a microsecond), a few scopes per 40 ms of audio.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace cadence::realtime {

enum class Stage : int {
  kClientEvent = 0,  // JSON parse and dispatch of a client event (strand)
  kInputDecode,      // base64 + sample decode + resample to 16 kHz (strand)
  kVad,              // voice activity windows (strand)
  kAsrFeed,          // RecognizerStream::AcceptWaveform (utterance lane)
  kAsrPartial,       // RecognizerStream::Partial (utterance lane)
  kAsrPause,         // RecognizerStream::Pause: the early final (utterance lane)
  kAsrFinish,        // RecognizerStream::Finish (utterance lane)
  kAnalysis,         // paralinguistic analysis (utterance lane)
  kBrain,            // Brain::Reply, excluding nested scopes (worker)
  kTts,              // Synthesizer::Synthesize, excluding the wire encoding (reply lane)
  kAudioOut,         // resample to the wire rate, encode, base64 of reply audio (reply lane)
  kEventOut,         // server event JSON serialization (strand)
  kCount,
};

std::string_view StageName(Stage stage);

struct StageTotals {
  int64_t cpu_ns = 0;
  int64_t calls = 0;
  int64_t waits = 0;         // tasks whose queue wait was recorded
  int64_t wait_ns = 0;       // summed queue wait
  int64_t max_wait_ns = 0;
};

using StageSnapshot = std::array<StageTotals, static_cast<size_t>(Stage::kCount)>;

class StageStats {
 public:
  static StageStats& Global();
  // `call`: this ends one call of the stage (false when a nested scope pauses its parent).
  void AddCpu(Stage stage, int64_t cpu_ns, bool call = true);
  void AddWait(Stage stage, int64_t wait_ns);
  StageSnapshot Snapshot() const;

 private:
  struct Counters {
    std::atomic<int64_t> cpu_ns{0}, calls{0}, waits{0}, wait_ns{0}, max_wait_ns{0};
  };
  std::array<Counters, static_cast<size_t>(Stage::kCount)> counters_;
};

// Differences of two snapshots (later - earlier); max_wait_ns is the later one's.
StageSnapshot Subtract(const StageSnapshot& later, const StageSnapshot& earlier);

// This thread's CPU time in nanoseconds.
int64_t ThreadCpuNs();

// Counts the thread CPU time of its lifetime (minus nested scopes) to `stage`. Stack object only.
class StageScope {
 public:
  explicit StageScope(Stage stage);
  ~StageScope();
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  Stage stage_;
  StageScope* parent_;
  int64_t start_ns_;
};

// Records the wall time since `submitted` as queue wait of `stage`; call first thing in the task.
void RecordQueueWait(Stage stage, std::chrono::steady_clock::time_point submitted);

}  // namespace cadence::realtime
