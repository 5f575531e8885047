#include "engine/parallel.h"

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CADENCE_PAUSE() _mm_pause()
#else
#define CADENCE_PAUSE() std::this_thread::yield()
#endif

namespace cadence::engine {

namespace {

// Spins until pred() holds or kSpinMicros pass; true when pred() held.
template <typename Pred>
bool SpinUntil(Pred pred) {
  using Clock = std::chrono::steady_clock;
  if (pred()) return true;
  const auto deadline = Clock::now() + std::chrono::microseconds(WorkerTeam::kSpinMicros);
  while (true) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      CADENCE_PAUSE();
    }
    if (Clock::now() >= deadline) return pred();
  }
}

}  // namespace

int DefaultThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

WorkerTeam::WorkerTeam(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

WorkerTeam::~WorkerTeam() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerTeam::Drain() {
  while (true) {
    const int64_t c = next_.fetch_add(1, std::memory_order_relaxed);
    if (c >= chunks_) return;
    (*fn_)(c);
  }
}

void WorkerTeam::WorkerLoop() {
  uint64_t seen = 0;
  while (true) {
    auto started = [&] {
      return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    if (!SpinUntil(started)) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, started);
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    Drain();
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Taking the lock orders this notify after a sleeping caller's predicate check.
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

void WorkerTeam::ParallelFor(int64_t chunks, const std::function<void(int64_t)>& fn) {
  if (chunks <= 0) return;
  if (workers_.empty() || chunks == 1) {
    for (int64_t c = 0; c < chunks; ++c) fn(c);
    return;
  }
  fn_ = &fn;
  chunks_ = chunks;
  next_.store(0, std::memory_order_relaxed);
  busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the lock so a worker between its predicate check and its wait cannot miss the bump.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  Drain();
  auto done = [&] { return busy_.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(done)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, done);
  }
}

}  // namespace cadence::engine
