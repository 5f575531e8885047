// SerialExecutor: runs tasks one at a time, in submission order, on a shared ThreadPool.
//
// A session's streams (RecognizerStream, the reply's synthesis) are not thread-safe, yet their
// work must run on compute workers; this gives each its own ordered lane on the shared pool
// without a thread per session. Submit() may be called from any thread. The executor must outlive
// its queued tasks: hold it by shared_ptr (Create) and let tasks keep it alive.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "core/thread_pool.h"

namespace cadence::realtime {

class SerialExecutor : public std::enable_shared_from_this<SerialExecutor> {
 public:
  static std::shared_ptr<SerialExecutor> Create(ThreadPool* pool);
  explicit SerialExecutor(ThreadPool* pool) : pool_(pool) {}
  void Submit(std::function<void()> task);

 private:
  void Drain();

  ThreadPool* pool_;  // null: tasks run inline (tests without a pool)
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool running_ = false;                     // guarded by mu_
};

}  // namespace cadence::realtime
