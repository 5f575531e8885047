// StrandIo: a SessionIo as the server provides it, for threaded tests — one thread runs posted
// closures in order (the strand), Send() records each event with its arrival time, and tests wait
// for events with a timeout. Thread-safe; Stop() (or the destructor) joins the strand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "realtime/session.h"

namespace cadence::realtime::testing {

class StrandIo : public SessionIo {
 public:
  using Clock = std::chrono::steady_clock;
  using Json = nlohmann::json;

  StrandIo() : thread_([this] { Run(); }) {}
  ~StrandIo() override { Stop(); }
  // Runs what was posted before it, then joins the strand; later Post()s are dropped.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  void Send(std::string json) override {
    std::lock_guard<std::mutex> lock(mu_);
    frames_.push_back({Clock::now(), Json::parse(json)});
    cv_.notify_all();
  }
  void Post(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      queue_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }
  void PostAfter(int delay_ms, std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    timers_.emplace(Clock::now() + std::chrono::milliseconds(delay_ms), std::move(fn));
    cv_.notify_all();
  }
  void Close(std::string reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_reason_ = std::move(reason);
  }
  std::string closed_reason() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_reason_;
  }
  // Runs `fn` on the strand and waits for it.
  void RunOnStrand(std::function<void()> fn) {
    std::promise<void> done;
    Post([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  // Waits until an event of `type` has been sent `count` times; false on timeout.
  bool WaitFor(const std::string& type, size_t count = 1, int timeout_ms = 10000) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      size_t n = 0;
      for (const auto& f : frames_) n += f.second["type"] == type;
      return n >= count;
    });
  }
  std::vector<Json> Frames() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Json> out;
    for (const auto& f : frames_) out.push_back(f.second);
    return out;
  }
  std::vector<std::pair<Clock::time_point, Json>> TimedFrames() {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          if (!queue_.empty()) {
            fn = std::move(queue_.front());
            queue_.pop_front();
            break;
          }
          if (stopping_) return;
          if (!timers_.empty() && timers_.begin()->first <= Clock::now()) {
            auto node = timers_.extract(timers_.begin());
            fn = std::move(node.mapped());
            break;
          }
          if (timers_.empty()) {
            cv_.wait(lock);
          } else {
            cv_.wait_until(lock, timers_.begin()->first);
          }
        }
      }
      fn();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;                 // guarded by mu_
  std::vector<std::pair<Clock::time_point, Json>> frames_;  // guarded by mu_
  bool stopping_ = false;                                   // guarded by mu_
  std::multimap<Clock::time_point, std::function<void()>> timers_;  // guarded by mu_
  std::string closed_reason_;                                       // guarded by mu_
  std::thread thread_;
};

}  // namespace cadence::realtime::testing
