// Session: one Realtime API conversation — the protocol state machine, transport-neutral.
//
// The server (src/server/) owns the socket and creates one Session per WebSocket. It hands every
// client text frame to OnClientFrame() and closes with OnClose(). The Session talks back only through
// SessionIo: Send() queues one server event (JSON text) and Post() schedules a closure on the
// session's strand. All Session methods run on that strand, so Session state needs no locks.
// Compute runs on two pools: the user's audio (ASR, analysis) on Engines::workers, replies (brain,
// TTS) on Engines::reply_workers, so that a long synthesis never holds up recognition of what
// other users are saying right now. Results come back via Post().
// Work holds a weak_ptr to the Session, so a closed session's late results are dropped.
#pragma once

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
  ThreadPool* reply_workers = nullptr;  // replies: brain and TTS (null: share `workers`)
};

struct SessionOptions {
  std::string session_id;             // "sess_..." assigned by the server
  std::string model = "step-2.5-realtime";
  bool beta = false;                  // OpenAI-Beta: realtime=v1 or subprotocol openai-beta.realtime-v1
  std::string peer;                   // for log lines
  size_t max_input_buffer_bytes = 15u << 20;  // input_audio_buffer limit (decoded bytes)
};

class SessionIo {
 public:
  virtual ~SessionIo() = default;
  // Queues one server event for sending. Called on the strand. The server bounds its queue and
  // closes a client that stops reading rather than growing without bound.
  virtual void Send(std::string json) = 0;
  // Runs `fn` on the session's strand (callable from any thread).
  virtual void Post(std::function<void()> fn) = 0;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  static std::shared_ptr<Session> Create(const Engines& engines, SessionOptions options,
                                         std::shared_ptr<SessionIo> io);
  virtual ~Session() = default;

  // Sends session.created (and any persona greeting the session is configured for).
  virtual void Start() = 0;
  // One client text frame (a JSON event). Never throws; bad input becomes an `error` event.
  virtual void OnClientFrame(std::string_view frame) = 0;
  // The socket closed: cancel all work, drop pending results.
  virtual void OnClose() = 0;
};

}  // namespace cadence::realtime
