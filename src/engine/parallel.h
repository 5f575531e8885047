// WorkerTeam: a fixed team of threads that runs one data-parallel loop at a time (fork/join).
//
// ParallelFor(n, fn) splits chunk indices [0, n) into one contiguous range per thread (the caller
// is thread 0). Each thread runs its own range front to back, then steals chunks from the back of
// the others' ranges (dynamic balancing: other processes share these cores), and the call returns
// when all are done. Contiguous ranges keep each thread's reads one stream: handing out chunks
// round-robin made a thread's consecutive chunks 17-94 KB apart in a mat-vec, restarting the
// prefetchers at each (0.5B decode's q/k/v loop 57 -> 48 us per call with ranges).
// One loop at a time: the owner serializes calls (Model holds its lock while running a forward
// pass). Destruction joins the workers.
//
// Why spin: a decode step runs ~150 short loops (tens of microseconds each), and waking a worker
// through a condition variable costs about as much as the loop itself. Workers and the caller
// therefore spin (with pause) for up to kSpinMicros after a loop before blocking on the condition
// variable, so back-to-back loops hand over in well under a microsecond while an idle team still
// sleeps (the spin is bounded; it never burns a core between requests). The spin is short and
// never yields: on a loaded machine sched_yield hands the core to other processes for a whole
// time slice (measured: decode 3x slower under load 17), while a blocked thread woken by the
// condition variable gets the scheduler's wake-up preference.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cadence::engine {

class WorkerTeam {
 public:
  // How long an idle worker (or the waiting caller) spins before sleeping.
  static constexpr int kSpinMicros = 50;

  // `threads` counts the caller: 1 runs everything inline.
  explicit WorkerTeam(int threads);
  ~WorkerTeam();
  WorkerTeam(const WorkerTeam&) = delete;
  WorkerTeam& operator=(const WorkerTeam&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Calls fn(chunk) for every chunk in [0, chunks), spread over the team.
  void ParallelFor(int64_t chunks, const std::function<void(int64_t)>& fn);

 private:
  // Chunks [front, back) not yet taken from one thread's range, packed in one word (front in the
  // low 32 bits) so the owner (front) and thieves (back) agree through compare-and-swap.
  struct alignas(64) Range {
    std::atomic<uint64_t> bounds{0};
  };
  void WorkerLoop(int self);
  // Runs thread `self`'s range, then steals from the others until no chunk is left.
  void Drain(int self);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;
  // Bumped (under mu_, release) to start a loop; workers spin on it, then sleep on wake_.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  // Workers still inside the current loop; the last one out notifies done_cv_ under mu_.
  std::atomic<int> busy_{0};
  const std::function<void(int64_t)>* fn_ = nullptr;
  std::vector<Range> ranges_;
};

// Runs fn(begin, end) over [0, n) in blocks of `block` spread over the team (the caller's thread
// alone when `team` is null or there is one block).
template <typename Fn>
void ParallelRange(WorkerTeam* team, int64_t n, int64_t block, const Fn& fn) {
  const int64_t chunks = (n + block - 1) / block;
  auto run = [&](int64_t c) { fn(c * block, std::min(n, (c + 1) * block)); };
  if (team != nullptr && chunks > 1) {
    team->ParallelFor(chunks, run);
  } else {
    for (int64_t c = 0; c < chunks; ++c) run(c);
  }
}

// Threads to use by default: the hardware concurrency (at least 1).
int DefaultThreads();

}  // namespace cadence::engine
