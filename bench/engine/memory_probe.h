// Shared by the engine benchmarks: the process's resident memory and a streaming read-bandwidth
// probe (the denominator of the memory-bandwidth bound of a decode step).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/parallel.h"

namespace cadence::bench {

// A kB field of /proc/self/status ("VmRSS:", "RssAnon:") in MiB (-1 when it is not there).
inline long ProcStatusMiB(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(key.size())) / 1024;
  return -1;
}
// Resident memory of this process in MiB: all of it, and the anonymous part (heap: not pages of
// mapped files, which the kernel may drop and read again).
inline long RssMiB() { return ProcStatusMiB("VmRSS:"); }
inline long RssAnonMiB() { return ProcStatusMiB("RssAnon:"); }

namespace probe_detail {

__attribute__((target("avx2"))) inline uint64_t SumAvx2(const uint8_t* p, size_t n) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  for (size_t i = 0; i + 64 <= n; i += 64) {
    acc0 = _mm256_add_epi64(acc0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    acc1 = _mm256_add_epi64(acc1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), _mm256_add_epi64(acc0, acc1));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

inline uint64_t SumScalar(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    s += v;
  }
  return s;
}

}  // namespace probe_detail

// Read bandwidth in GB/s over a buffer far larger than the caches, with the model's thread count:
// the best of `reps` passes.
class BandwidthProbe {
 public:
  BandwidthProbe(int threads, size_t bytes)
      : buf_(static_cast<uint8_t*>(std::aligned_alloc(64, bytes))), bytes_(bytes), team_(threads) {
    std::memset(buf_, 1, bytes_);
  }
  ~BandwidthProbe() { std::free(buf_); }
  BandwidthProbe(const BandwidthProbe&) = delete;
  BandwidthProbe& operator=(const BandwidthProbe&) = delete;

  double MeasureGBs(int reps) {
    using Clock = std::chrono::steady_clock;
    const bool avx2 = __builtin_cpu_supports("avx2");
    const int64_t chunks = 256;
    const size_t chunk = bytes_ / chunks;
    std::vector<uint64_t> sink(static_cast<size_t>(chunks));
    double best = 0;
    for (int rep = 0; rep < reps; ++rep) {
      const auto t0 = Clock::now();
      team_.ParallelFor(chunks, [&](int64_t c) {
        const uint8_t* p = buf_ + static_cast<size_t>(c) * chunk;
        sink[static_cast<size_t>(c)] = avx2 ? probe_detail::SumAvx2(p, chunk) : probe_detail::SumScalar(p, chunk);
      });
      const double s = std::chrono::duration<double>(Clock::now() - t0).count();
      best = std::max(best, static_cast<double>(chunk * chunks) / s / 1e9);
    }
    volatile uint64_t keep = 0;
    for (auto s : sink) keep = keep + s;
    return best;
  }

 private:
  uint8_t* buf_;
  size_t bytes_;
  engine::WorkerTeam team_;
};

}  // namespace cadence::bench
