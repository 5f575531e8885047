// Fuzzes client events through a Realtime Session (the JSON protocol surface a WebSocket client
// reaches): the input is split at 0xFF bytes (never valid inside UTF-8 JSON text) into client
// frames, each handed to Session::OnClientFrame. The session has no engines (all null, as
// Engines allows: no VAD, ASR, TTS or brain; serial lanes run inline) and a SessionIo that keeps
// what Send() queues and runs Post()ed closures after each frame, as the strand would (never
// inside OnClientFrame), then due PostAfter() timers on a fake clock.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "realtime/session.h"

namespace {

// No `override` below, on purpose: PostAfter/Now/Close are recent additions to SessionIo, and
// without the keyword this compiles against the interface both before and after them.
class FuzzIo : public cadence::realtime::SessionIo {
 public:
  using Clock = std::chrono::steady_clock;
  void Send(std::string json) { bytes_sent_ += json.size(); }
  void Post(std::function<void()> fn) { posted_.push_back(std::move(fn)); }
  void PostAfter(int delay_ms, std::function<void()> fn) {
    timers_.emplace(now_ + std::chrono::milliseconds(delay_ms), std::move(fn));
  }
  Clock::time_point Now() { return now_; }
  void Close(std::string reason) { closed_ = true; }
  // Runs posted closures (and those they post); then timers in due order on a fake clock that
  // jumps to each. At most `limit` closures in all, so pacing loops end.
  void Drain(int limit) {
    for (int n = 0; n < limit; ++n) {
      if (!posted_.empty()) {
        auto fn = std::move(posted_.front());
        posted_.pop_front();
        fn();
      } else if (!timers_.empty()) {
        auto node = timers_.extract(timers_.begin());
        now_ = std::max(now_, node.key());
        node.mapped()();
      } else {
        return;
      }
    }
  }
  bool closed() const { return closed_; }

 private:
  size_t bytes_sent_ = 0;
  bool closed_ = false;
  Clock::time_point now_{std::chrono::hours(1)};
  std::deque<std::function<void()>> posted_;
  std::multimap<Clock::time_point, std::function<void()>> timers_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cadence::realtime;
  Engines engines;  // all null
  SessionOptions options;
  options.session_id = "sess_fuzz";
  options.beta = size > 0 && (data[0] & 1) != 0;
  auto io = std::make_shared<FuzzIo>();
  std::shared_ptr<Session> session = Session::Create(engines, options, io);
  session->Start();
  io->Drain(10000);
  for (std::string_view frame : cadence::fuzz::SplitInput(data, size, '\xff')) {
    if (io->closed()) break;
    session->OnClientFrame(frame);
    io->Drain(10000);
  }
  session->OnClose();
  io->Drain(10000);
  return 0;
}
