// Session: one Realtime API conversation — the protocol state machine, transport-neutral.
//
// The server (src/server/) owns the socket and creates one Session per WebSocket. It hands every
// client text frame to OnClientFrame() and closes with OnClose(). The Session talks back only through
// SessionIo: Send() queues one server event (JSON text) and Post() schedules a closure on the
// session's strand. All Session methods run on that strand, so Session state needs no locks.
// Compute runs on three pools: the user's audio (ASR, analysis) on Engines::workers, speech
// synthesis on Engines::reply_workers and the brain on Engines::brain_workers, so that a long
// synthesis never holds up recognition of what other users are saying right now, and a slow
// upstream brain never holds up anyone's speech. Results come back via Post().
// Budgets (SessionLimits) bound what one session holds and queues; the session ends itself with an
// `error` event when it expires or idles (SessionIo::Close).
// Work holds a weak_ptr to the Session, so a closed session's late results are dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/thread_pool.h"

namespace cadence::speech {
class VadModel;
class Recognizer;
class Synthesizer;
}  // namespace cadence::speech
namespace cadence::speech {
class TokenVoices;
}

namespace cadence::brain {
class Brain;
}
namespace cadence::persona {
class PersonaStore;
}
namespace cadence::paralinguistics {
class Analyzer;
}

namespace cadence::realtime {

// Shared, long-lived engines; every pointer outlives all sessions. Optional ones may be null.
struct Engines {
  const speech::VadModel* vad = nullptr;
  const speech::Recognizer* asr = nullptr;
  const speech::Synthesizer* tts = nullptr;
  const brain::Brain* brain = nullptr;
  const persona::PersonaStore* personas = nullptr;        // optional
  const paralinguistics::Analyzer* analyzer = nullptr;    // optional
  ThreadPool* workers = nullptr;        // user audio: ASR feed/finish, analysis
  ThreadPool* reply_workers = nullptr;  // replies: TTS (null: share `workers`)
  ThreadPool* brain_workers = nullptr;  // replies: the brain call, which may block on an upstream
                                        // for seconds (null: share `reply_workers`)
  // The voices a speaking brain's speech tokens are rendered with (brain->speaks()); when set,
  // they are the session's voices.
  const speech::TokenVoices* token_voices = nullptr;
};

// What one session may hold or queue. Every limit is reported to the client, when it is hit, as
// an `error` event with a stable code (named beside each field) and logged once per session.
struct SessionLimits {
  size_t max_input_buffer_bytes = 15u << 20;   // uncommitted input audio, wire bytes: input_audio_buffer_full
  size_t max_instructions_bytes = 128u << 10;  // session/response instructions: instructions_too_large
  size_t max_tools_bytes = 128u << 10;         // session.tools as JSON: tools_too_large
  size_t max_history_bytes = 2u << 20;         // text of all conversation items; the oldest items are
                                               // dropped to stay under it, one bigger item: item_too_large
  size_t max_history_items = 200;              // the oldest items are dropped beyond this
  int max_pending_transcriptions = 4;          // committed turns awaiting their transcript:
                                               // too_many_pending_transcriptions
  double max_pending_audio_s = 120.0;          // committed audio awaiting recognition: recognition_backlog_full
  int max_duration_s = 3600;                   // session lifetime (expires_at): session_expired
  int idle_timeout_s = 900;                    // no client event for this long: session_idle_timeout (0: never)
  double audio_lead_s = 3.0;                   // reply audio sent ahead of real time, at most
};

struct SessionOptions {
  std::string session_id;             // "sess_..." assigned by the server
  std::string model = "step-2.5-realtime";
  bool beta = false;                  // OpenAI-Beta: realtime=v1 or subprotocol openai-beta.realtime-v1
  std::string peer;                   // for log lines
  SessionLimits limits;
};

class SessionIo {
 public:
  virtual ~SessionIo() = default;
  // Queues one server event for sending. Called on the strand. The server bounds its queue and
  // closes a client that stops reading rather than growing without bound.
  virtual void Send(std::string json) = 0;
  // Runs `fn` on the session's strand (callable from any thread).
  virtual void Post(std::function<void()> fn) = 0;
  // Runs `fn` on the strand after `delay_ms` (pacing, timeouts). Dropped if the connection closes
  // first. Called on the strand.
  virtual void PostAfter(int delay_ms, std::function<void()> fn) = 0;
  // The clock that PostAfter runs on (tests substitute their own).
  virtual std::chrono::steady_clock::time_point Now() { return std::chrono::steady_clock::now(); }
  // Ends the connection after what is queued has been sent (the session sent its reason as an
  // `error` event first). Called on the strand.
  virtual void Close(std::string reason) = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  static std::shared_ptr<Session> Create(const Engines& engines, SessionOptions options,
                                         std::shared_ptr<SessionIo> io);
  virtual ~Session() = default;

  // Sends session.created and starts the session's lifetime timers (expiry, idle).
  virtual void Start() = 0;
  // One client text frame (a JSON event). Never throws; bad input becomes an `error` event.
  virtual void OnClientFrame(std::string_view frame) = 0;
  // The socket closed: cancel all work, drop pending results.
  virtual void OnClose() = 0;
};

}  // namespace cadence::realtime
