#include "engine/parallel.h"

#include <algorithm>
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
  ranges_ = std::vector<Range>(std::max(threads, 1));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

WorkerTeam::~WorkerTeam() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerTeam::Drain(int self) {
  const int n = static_cast<int>(ranges_.size());
  for (int k = 0; k < n; ++k) {
    const bool own = k == 0;
    std::atomic<uint64_t>& bounds = ranges_[(self + k) % n].bounds;
    uint64_t b = bounds.load(std::memory_order_acquire);
    while (true) {
      const uint32_t front = static_cast<uint32_t>(b), back = static_cast<uint32_t>(b >> 32);
      if (front >= back) break;
      // The owner takes the front chunk, a thief the back one.
      const uint64_t taken = own ? b + 1 : b - (uint64_t{1} << 32);
      if (!bounds.compare_exchange_weak(b, taken, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      (*fn_)(own ? front : back - 1);
      b = bounds.load(std::memory_order_acquire);
    }
  }
}

void WorkerTeam::WorkerLoop(int self) {
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
    Drain(self);
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
  // Range i holds chunks [i * chunks / n, (i + 1) * chunks / n): 32-bit bounds (far more than any
  // loop here hands out).
  const int64_t n = static_cast<int64_t>(ranges_.size());
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t front = static_cast<uint64_t>(i * chunks / n), back = static_cast<uint64_t>((i + 1) * chunks / n);
    ranges_[i].bounds.store(front | (back << 32), std::memory_order_relaxed);
  }
  busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the lock so a worker between its predicate check and its wait cannot miss the bump.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  Drain(0);
  auto done = [&] { return busy_.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(done)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, done);
  }
}

}  // namespace cadence::engine
