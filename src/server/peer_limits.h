// PeerLimits: what one client address may take of a server — open sessions, new connections per
// second, failed API-key attempts per minute — so that one client cannot hold every session slot,
// flood the acceptor or guess keys at full speed.
//
// Thread-safe (one mutex; every call is a few map operations). Peers are keyed by IP address, not
// port. Behind a load balancer every client shares its address: raise or turn off (0) the limits
// there. Entries of peers with nothing open and nothing counted are swept as the table grows.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cadence::server {

struct PeerLimitsConfig {
  int max_sessions = 32;             // open sessions per address (0: no limit): too_many_sessions_for_peer
  double connections_per_s = 20.0;   // new TCP connections per address per second (0: no limit);
                                     // bursts of twice that pass
  int failed_auth_per_min = 10;      // wrong or missing keys per address per minute before every
                                     // further upgrade is refused for the rest of the minute
};

class PeerLimits {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PeerLimits(PeerLimitsConfig config) : config_(config) {}

  // A new connection from `address`: false when it is over its rate.
  bool AdmitConnection(const std::string& address, Clock::time_point now = Clock::now());

  // Failed auth: Blocked() is true while the address has used up its failures this minute;
  // AuthFailed() counts one and returns true when that failure is the one that blocks (log it once).
  bool AuthBlocked(const std::string& address, Clock::time_point now = Clock::now());
  bool AuthFailed(const std::string& address, Clock::time_point now = Clock::now());

  // Session slots: OpenSession() takes one (false when the address holds its maximum);
  // CloseSession() gives it back.
  bool OpenSession(const std::string& address);
  void CloseSession(const std::string& address);

  const PeerLimitsConfig& config() const { return config_; }

 private:
  struct Peer {
    int sessions = 0;
    double tokens = -1;  // connection tokens; < 0: not initialised
    Clock::time_point refilled;
    int failures = 0;
    Clock::time_point window_start;
  };
  Peer& At(const std::string& address, Clock::time_point now);  // REQUIRES mu_
  void SweepIfLarge(Clock::time_point now);                      // REQUIRES mu_

  const PeerLimitsConfig config_;
  std::mutex mu_;
  std::unordered_map<std::string, Peer> peers_;  // guarded by mu_
};

}  // namespace cadence::server
