// WorkerTeam: a fixed team of threads that runs one data-parallel loop at a time (fork/join).
//
// ParallelFor(n, fn) hands chunk indices [0, n) to the caller and the workers through an atomic
// counter (dynamic balancing: other processes share these cores) and returns when all are done.
// One loop at a time: the owner serializes calls (Model holds its lock while running a forward
// pass). Destruction joins the workers.
#pragma once

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
  // `threads` counts the caller: 1 runs everything inline.
  explicit WorkerTeam(int threads);
  ~WorkerTeam();
  WorkerTeam(const WorkerTeam&) = delete;
  WorkerTeam& operator=(const WorkerTeam&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Calls fn(chunk) for every chunk in [0, chunks), spread over the team.
  void ParallelFor(int64_t chunks, const std::function<void(int64_t)>& fn);

 private:
  void WorkerLoop();
  void Drain();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  int busy_ = 0;             // workers still inside the current loop; guarded by mu_
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t chunks_ = 0;
  std::atomic<int64_t> next_{0};
};

// Threads to use by default: the hardware concurrency (at least 1).
int DefaultThreads();

}  // namespace cadence::engine
