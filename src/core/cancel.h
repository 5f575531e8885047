// CancelToken: a shared flag that compute work polls to stop early (barge-in, session close).
//
// Copies share one flag. Cancel() may be called from any thread; cancelled() is a relaxed
// atomic load, cheap enough to check once per token or per audio chunk.
#pragma once

#include <atomic>
#include <memory>

namespace cadence {

class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void Cancel() const { flag_->store(true, std::memory_order_relaxed); }
  bool cancelled() const { return flag_->load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace cadence
