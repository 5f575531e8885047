#include "realtime/serial_executor.h"

namespace cadence::realtime {

std::shared_ptr<SerialExecutor> SerialExecutor::Create(ThreadPool* pool) {
  return std::make_shared<SerialExecutor>(pool);
}

void SerialExecutor::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(task));
    if (running_) return;
    running_ = true;
  }
  if (pool_ == nullptr) {
    Drain();
    return;
  }
  pool_->Submit([self = shared_from_this()] { self->Drain(); });
}

void SerialExecutor::Drain() {
  // Runs a bounded batch, then yields the worker so one busy session cannot starve the others.
  for (int n = 0; n < 8; ++n) {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        running_ = false;
        return;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    RunGuarded(task, "session task");
  }
  if (pool_ == nullptr) {
    Drain();
    return;
  }
  pool_->Submit([self = shared_from_this()] { self->Drain(); });
}

}  // namespace cadence::realtime
