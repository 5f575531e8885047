// ThreadPool: a fixed set of worker threads running queued tasks in FIFO order.
//
// Compute work (ASR, TTS, brain, analysis) runs here, never on IO threads. Submit() may be called
// from any thread. The destructor stops accepting work, drains nothing further and joins; tasks
// must observe their own CancelToken to end early. A task that throws is logged and dropped: no
// exception leaves a worker thread (it would terminate the process).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cadence {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Submit(std::function<void()> task);
  size_t size() const { return workers_.size(); }
  // Tasks waiting to start (not those running).
  size_t pending() const;

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> workers_;
};

// Runs `task`, logging and swallowing any exception it throws (`what` names it in the log line).
// The boundary every worker thread and task queue uses.
void RunGuarded(const std::function<void()>& task, const char* what);

}  // namespace cadence
