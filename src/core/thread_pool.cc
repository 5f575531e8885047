#include "core/thread_pool.h"

#include <exception>

#include "core/log.h"

namespace cadence {

ThreadPool::ThreadPool(size_t threads) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

size_t ThreadPool::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ThreadPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    RunGuarded(task, "thread pool task");
  }
}

void RunGuarded(const std::function<void()>& task, const char* what) {
  try {
    task();
  } catch (const std::exception& e) {
    CADENCE_LOG(kError, "pool", "%s threw: %s (the task is dropped; the process keeps serving)", what, e.what());
  } catch (...) {
    CADENCE_LOG(kError, "pool", "%s threw a non-standard exception (the task is dropped)", what);
  }
}

}  // namespace cadence
