#include "server/peer_limits.h"

#include <algorithm>

namespace cadence::server {
namespace {

constexpr auto kAuthWindow = std::chrono::minutes(1);
constexpr size_t kSweepAbove = 4096;

}  // namespace

PeerLimits::Peer& PeerLimits::At(const std::string& address, Clock::time_point now) {
  SweepIfLarge(now);
  return peers_[address];
}

void PeerLimits::SweepIfLarge(Clock::time_point now) {
  if (peers_.size() < kSweepAbove) return;
  const double burst = 2.0 * config_.connections_per_s;
  for (auto it = peers_.begin(); it != peers_.end();) {
    const Peer& p = it->second;
    const double seconds = std::chrono::duration<double>(now - p.refilled).count();
    const bool tokens_full = p.tokens < 0 || p.tokens + seconds * config_.connections_per_s >= burst;
    const bool auth_clear = p.failures == 0 || now - p.window_start >= kAuthWindow;
    it = (p.sessions == 0 && tokens_full && auth_clear) ? peers_.erase(it) : std::next(it);
  }
}

bool PeerLimits::AdmitConnection(const std::string& address, Clock::time_point now) {
  if (config_.connections_per_s <= 0) return true;
  std::lock_guard<std::mutex> lock(mu_);
  Peer& p = At(address, now);
  const double burst = 2.0 * config_.connections_per_s;
  if (p.tokens < 0) {
    p.tokens = burst;
  } else {
    const double seconds = std::chrono::duration<double>(now - p.refilled).count();
    p.tokens = std::min(burst, p.tokens + seconds * config_.connections_per_s);
  }
  p.refilled = now;
  if (p.tokens < 1.0) return false;
  p.tokens -= 1.0;
  return true;
}

bool PeerLimits::AuthBlocked(const std::string& address, Clock::time_point now) {
  if (config_.failed_auth_per_min <= 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(address);
  if (it == peers_.end()) return false;
  const Peer& p = it->second;
  return now - p.window_start < kAuthWindow && p.failures >= config_.failed_auth_per_min;
}

bool PeerLimits::AuthFailed(const std::string& address, Clock::time_point now) {
  if (config_.failed_auth_per_min <= 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  Peer& p = At(address, now);
  if (p.failures == 0 || now - p.window_start >= kAuthWindow) {
    p.window_start = now;
    p.failures = 0;
  }
  ++p.failures;
  return p.failures == config_.failed_auth_per_min;
}

bool PeerLimits::OpenSession(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  Peer& p = At(address, Clock::now());
  if (config_.max_sessions > 0 && p.sessions >= config_.max_sessions) return false;
  ++p.sessions;
  return true;
}

void PeerLimits::CloseSession(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(address);
  if (it != peers_.end() && it->second.sessions > 0) --it->second.sessions;
}

}  // namespace cadence::server
