#include "realtime/stage_stats.h"

#include <time.h>

namespace cadence::realtime {
namespace {

thread_local StageScope* g_current_scope = nullptr;

size_t Index(Stage stage) { return static_cast<size_t>(stage); }

}  // namespace

std::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kClientEvent: return "client event";
    case Stage::kInputDecode: return "input decode";
    case Stage::kVad: return "vad";
    case Stage::kAsrFeed: return "asr feed";
    case Stage::kAsrPartial: return "asr partial";
    case Stage::kAsrPause: return "asr early final";
    case Stage::kAsrFinish: return "asr finish";
    case Stage::kAnalysis: return "analysis";
    case Stage::kBrain: return "brain";
    case Stage::kTts: return "tts";
    case Stage::kAudioOut: return "audio out";
    case Stage::kEventOut: return "event out";
    case Stage::kCount: break;
  }
  return "?";
}

StageStats& StageStats::Global() {
  static StageStats* stats = new StageStats();  // never destroyed: workers may record at exit
  return *stats;
}

void StageStats::AddCpu(Stage stage, int64_t cpu_ns, bool call) {
  Counters& c = counters_[Index(stage)];
  c.cpu_ns.fetch_add(cpu_ns, std::memory_order_relaxed);
  if (call) c.calls.fetch_add(1, std::memory_order_relaxed);
}

void StageStats::AddWait(Stage stage, int64_t wait_ns) {
  Counters& c = counters_[Index(stage)];
  c.waits.fetch_add(1, std::memory_order_relaxed);
  c.wait_ns.fetch_add(wait_ns, std::memory_order_relaxed);
  int64_t seen = c.max_wait_ns.load(std::memory_order_relaxed);
  while (wait_ns > seen && !c.max_wait_ns.compare_exchange_weak(seen, wait_ns, std::memory_order_relaxed)) {
  }
}

StageSnapshot StageStats::Snapshot() const {
  StageSnapshot out;
  for (size_t i = 0; i < out.size(); ++i) {
    const Counters& c = counters_[i];
    out[i].cpu_ns = c.cpu_ns.load(std::memory_order_relaxed);
    out[i].calls = c.calls.load(std::memory_order_relaxed);
    out[i].waits = c.waits.load(std::memory_order_relaxed);
    out[i].wait_ns = c.wait_ns.load(std::memory_order_relaxed);
    out[i].max_wait_ns = c.max_wait_ns.load(std::memory_order_relaxed);
  }
  return out;
}

StageSnapshot Subtract(const StageSnapshot& later, const StageSnapshot& earlier) {
  StageSnapshot out;
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].cpu_ns = later[i].cpu_ns - earlier[i].cpu_ns;
    out[i].calls = later[i].calls - earlier[i].calls;
    out[i].waits = later[i].waits - earlier[i].waits;
    out[i].wait_ns = later[i].wait_ns - earlier[i].wait_ns;
    out[i].max_wait_ns = later[i].max_wait_ns;
  }
  return out;
}

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

StageScope::StageScope(Stage stage) : stage_(stage), parent_(g_current_scope) {
  start_ns_ = ThreadCpuNs();
  if (parent_ != nullptr) {
    StageStats::Global().AddCpu(parent_->stage_, start_ns_ - parent_->start_ns_, /*call=*/false);
  }
  g_current_scope = this;
}

StageScope::~StageScope() {
  const int64_t now = ThreadCpuNs();
  StageStats::Global().AddCpu(stage_, now - start_ns_);
  g_current_scope = parent_;
  if (parent_ != nullptr) parent_->start_ns_ = now;
}

void RecordQueueWait(Stage stage, std::chrono::steady_clock::time_point submitted) {
  const auto wait = std::chrono::steady_clock::now() - submitted;
  StageStats::Global().AddWait(stage, std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count());
}

}  // namespace cadence::realtime
