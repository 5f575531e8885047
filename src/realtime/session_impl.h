// SessionImpl: the Realtime Session state machine (session.h), split by concern over
//   session.cc           lifecycle, event dispatch, ids and sending, session.update
//   session_input.cc     input audio, turn detection, utterances and their transcripts
//   session_items.cc     conversation.item.* events and truncation
//   session_response.cc  responses: parameters, brain, TTS lane, audio out, completion
//
// Everything in SessionImpl runs on the session's strand (SessionIo::Post). Work on the compute
// pool (ASR feeding, brain, TTS) reaches back only through Backchannel::Post, which drops the
// result when the session is gone or closed, and every result names the response/utterance it
// belongs to so that a cancelled response's late audio is dropped too. Internal to realtime/.
#pragma once

#include "realtime/session.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio/pcm.h"
#include "audio/resampler.h"
#include "brain/brain.h"
#include "core/base64.h"
#include "core/cancel.h"
#include "core/log.h"
#include "paralinguistics/cues_json.h"
#include "paralinguistics/speaker_baseline.h"
#include "realtime/conversation.h"
#include "realtime/json_fields.h"
#include "realtime/protocol_error.h"
#include "realtime/serial_executor.h"
#include "realtime/server_events.h"
#include "realtime/session_config.h"
#include "realtime/session_extras.h"
#include "realtime/stage_stats.h"
#include "realtime/transcript_deltas.h"
#include "realtime/turn_detector.h"
#include "speech/asr/recognizer.h"
#include "speech/tts/synthesizer.h"
#include "speech/tts/text_split.h"
#include "speech/tts/token_voices.h"
#include "speech/vad/vad.h"

namespace cadence::realtime::session_internal {

using Clock = std::chrono::steady_clock;
constexpr int kRate16k = 16000;
constexpr int kTtsRate = speech::kTtsSampleRateHz;
constexpr int kMinCommitMs = 100;
// Input buffer capacity kept across commits (10 s at 16 kHz); more is released.
constexpr size_t kRetainedBufferSamples = 160000;
constexpr int kAudioChunkMs = 100;
// A warning (`session.expiring`) goes out this long before the session's expiry.
constexpr int kExpiryWarningS = 60;
// With paralinguistics on, the audio this long before a turn's padded start (and after the previous
// turn) is read for nonverbal sounds that opened no turn of their own: Silero VAD ignores most
// sighs, coughs and breaths, yet one just before speaking is part of how the user speaks.
constexpr int kLeadingSoundMs = 3000;

inline int64_t MsOf16k(int64_t samples) { return samples / 16; }
inline double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

class SessionImpl;

// The way back from compute workers to the strand.
struct Backchannel {
  std::weak_ptr<SessionImpl> session;
  std::shared_ptr<SessionIo> io;
  template <typename F>
  void Post(F&& fn) const;
};

// One user utterance being recognized: the ASR (and paralinguistic) streams live on `lane`.
struct UtteranceJob {
  std::shared_ptr<SerialExecutor> lane;
  std::unique_ptr<speech::RecognizerStream> asr;  // touched only on lane
  std::unique_ptr<UtteranceAnalysis> analysis;    // touched only on lane; may be null
  // Nonverbal sounds just before the turn (lane only), timed from its start; see kLeadingSoundMs.
  std::vector<paralinguistics::NonverbalEvent> leading_events;
  CancelToken cancel;
  int64_t fed_samples = 0;  // on lane
  // Streaming transcript deltas (lane only); Partial() is asked at most every kPartialEverySamples.
  std::string item_id;
  bool partials = false;
  // The brain hears the audio and nobody asked for a transcript: no recognizer runs, and the turn's
  // transcript is empty rather than failed.
  bool heard_only = false;
  int64_t samples_since_partial = 0;
  TranscriptDeltas deltas;
};

struct SentenceMark {
  size_t transcript_end = 0;  // bytes of the response transcript through this sentence
  size_t transcript_begin = 0;
  int64_t audio_begin_ms = 0;
  int64_t audio_end_ms = -1;  // -1 while its audio is still being sent
};

// One audio delta frame held back by pacing (SessionLimits::audio_lead_s).
struct HeldAudio {
  std::string b64;
  int64_t samples_24k = 0;
};

struct Response {
  std::string id;
  std::string item_id;
  bool audio = true;
  std::string voice;
  std::string voice_id;
  audio::SampleFormat format = audio::SampleFormat::kPcm16;
  std::string instructions;
  double temperature = 0.8;
  int64_t max_output_tokens = 0;
  bool in_conversation = true;
  nlohmann::json metadata;
  std::optional<std::vector<Item>> input;  // response.create input replaces the conversation
  CancelToken cancel;
  bool compute_started = false;
  // Output sent so far (strand only).
  std::string text;        // text modality
  std::string thinking;    // a reasoning brain's thinking (response.thinking.*), never spoken
  std::string transcript;  // audio modality
  int64_t audio_samples_24k = 0;     // audio sent to the client
  int64_t produced_samples_24k = 0;  // audio synthesized (sent or held); sentence marks count this
  // A speaking brain's speech tokens so far (set by its worker; null for other brains): how far
  // its reply has got, which its text runs ahead of.
  std::shared_ptr<std::atomic<int64_t>> brain_speech_tokens;
  std::vector<SentenceMark> marks;
  int audio_deltas = 0;
  // Pacing: audio beyond audio_lead_s ahead of real time waits here (strand only).
  std::deque<HeldAudio> held;
  std::optional<Clock::time_point> audio_epoch;  // when the first delta left
  bool pump_scheduled = false;
  std::optional<Status> finished;  // the work is done; response.done waits for `held` to drain
  std::string item_status = "in_progress";
  std::string cancel_reason;
  Clock::time_point created;
  std::optional<Clock::time_point> turn_end;  // speech_stopped of the turn that triggered it
  double first_audio_ms = -1.0;
  int64_t input_chars = 0;
  int64_t audio_ms() const { return audio_samples_24k * 1000 / kTtsRate; }
  int64_t produced_ms() const { return produced_samples_24k * 1000 / kTtsRate; }
};

// Worker-side state of one response (shared by its brain task and its TTS lane).
struct ResponseWork {
  std::string response_id;
  bool audio = true;
  audio::SampleFormat format = audio::SampleFormat::kPcm16;
  speech::SynthesisRequest synth;  // text filled per sentence
  brain::ReplyRequest request;
  CancelToken cancel;
  std::shared_ptr<SerialExecutor> lane;
  const brain::Brain* brain = nullptr;
  const speech::Synthesizer* tts = nullptr;
  const speech::TokenVoices* token_voices = nullptr;  // set: the brain speaks (ReplySpoken)
  std::shared_ptr<std::atomic<int64_t>> brain_speech_tokens;  // Response::brain_speech_tokens
  Backchannel back;
  // TTS lane only.
  std::optional<audio::Resampler> to_wire;
  std::vector<float> scratch;
  std::vector<uint8_t> pending;  // encoded wire bytes not yet sent
  int64_t pending_samples_24k = 0;
  bool first_chunk_sent = false;
  Status synth_status;
  std::unique_ptr<speech::TokenVoices::Speaker> speaker;  // a speaking brain's reply audio
};

class SessionImpl final : public Session {
 public:
  SessionImpl(const Engines& engines, SessionOptions options, std::shared_ptr<SessionIo> io);
  ~SessionImpl() override { CancelAllWork(); }
  void Start() override;
  void OnClientFrame(std::string_view frame) override;
  void OnClose() override;
  bool closed() const { return closed_; }

  // ---- results from workers (strand) ----
  void OnTranscript(const std::string& item_id, Result<speech::Transcript> result, std::string last_delta,
                    double audio_s, std::optional<paralinguistics::UtteranceCues> cues);
  void OnTranscriptDelta(const std::string& item_id, const std::string& delta);
  // conversation.item.input_audio_paralinguistics.completed for `item_id`.
  void SendCues(const std::string& item_id, const paralinguistics::UtteranceCues& cues);
  void OnResponseText(const std::string& response_id, const std::string& spoken);
  // A reasoning brain's thinking: response.thinking.delta (and .done when the response ends).
  void OnResponseThinking(const std::string& response_id, const std::string& delta);
  void OnResponseSentenceStart(const std::string& response_id, const std::string& spoken);
  void OnResponseAudio(const std::string& response_id, std::string b64, int64_t samples_24k);
  void OnResponseSentenceEnd(const std::string& response_id);
  void OnResponseFinished(const std::string& response_id, Status status);

 private:
  // ---- ids and sending ----
  std::string NewId(const char* prefix);
  std::string NewEventId();
  void Send(nlohmann::json event);
  void SendError(const ProtocolError& e);
  // A budget was hit: logs it once per session and code (the client gets each error).
  void NoteLimit(const std::string& code, const std::string& detail);

  // ---- lifetime ----
  const SessionLimits& limits() const { return options_.limits; }
  void ScheduleLifetime();
  void OnIdleCheck();
  // Sends the error event `code` and closes the connection after it.
  void EndSession(const std::string& code, const std::string& message);
  Backchannel Back() { return Backchannel{std::static_pointer_cast<SessionImpl>(shared_from_this()), io_}; }

  // ---- dispatch ----
  ProtocolError Dispatch(std::string_view frame, std::string* client_event_id);
  static std::string ScanClientEventId(std::string_view frame);

  // ---- session.update ----
  ProtocolError HandleSessionUpdate(const nlohmann::json& j);

  // ---- input audio ----
  void ConfigureInput();
  bool VadActive() const;
  size_t WireBytesOf16k(size_t samples) const;
  ProtocolError HandleAppend(const nlohmann::json& j);
  void ProcessInput16k(std::span<const float> chunk);
  void DropBufferFront(size_t samples);
  // Before a new heard turn: drops the audio of user turns older than the newest kHeardTurns.
  void KeepRecentAudio();
  static constexpr int kHeardTurns = 8;
  void BeginUtterance(int64_t start_ms);

  // Audio reaches the recognizer in ~160 ms batches: one worker task per 20 ms append costs more
  // in task and decoder-call overhead than the decoding itself.
  static constexpr size_t kFeedBatchSamples = 2560;

  void FeedUtterance(std::span<const float> samples);

  // Partial transcripts at most every 320 ms of audio: often enough to read along, rarely enough
  // that the recognizer's backtrace (or Whisper's re-decode) stays a small share of the feed cost.
  static constexpr int64_t kPartialEverySamples = 5120;

  void FlushFeed();
  void CancelUtterance();
  void OnSpeechStarted(int64_t audio_start_ms);
  // The paralinguistic analyzer when the session asked for cues, else null.
  const paralinguistics::Analyzer* CueAnalyzer() const;
  // The brain speaks itself (speech tokens rendered with engines_.token_voices), so replies need no
  // synthesizer.
  bool SpeakingBrain() const;
  // Whether the session has voices to choose from, and a voice name mapped to one of them: the
  // token voices of a speaking brain, else the synthesizer's.
  bool HasVoices() const;
  Result<std::string> ResolveVoice(std::string_view name) const;
  // Reads `lead` (the audio just before the new turn; empty: nothing to read) for nonverbal sounds
  // on the turn's lane.
  void AnalyzeLeadingSound(std::vector<float> lead);

  // The speaker paused: the recognizer may start its final now (an early final, recognizer.h),
  // on all the audio so far. The stop that may follow reuses it if no speech came in between.
  void OnSpeechPaused();
  void OnSpeechStopped(int64_t audio_end_ms);

  // Commits the first `samples` of the buffer as a user audio item.
  void CommitUtterance(size_t samples);
  // Inserts `item` after `previous_id` and trims the history to its budgets.
  ProtocolError InsertItem(const Item& item, const std::string& previous_id, std::string* actual_previous);
  ProtocolError HandleCommit();
  ProtocolError HandleClear();

  // ---- conversation items ----
  ProtocolError HandleItemCreate(const nlohmann::json& j);
  ProtocolError HandleItemTruncate(const nlohmann::json& j);
  ProtocolError HandleItemDelete(const nlohmann::json& j);
  ProtocolError HandleItemRetrieve(const nlohmann::json& j);

  // Keeps the words of the sentences whose audio was played before `audio_end_ms`; the sentence
  // cut in the middle keeps the fraction of its words that matches the fraction of its audio.
  std::string TruncateTranscript(const std::string& item_id, const std::string& transcript, int64_t total_ms,
                                 int64_t audio_end_ms);

  static std::string CutWords(const std::string& text, double fraction);

  // ---- responses ----
  struct ResponseParams {
    std::optional<bool> audio;
    std::optional<std::string> instructions;
    std::optional<std::string> voice, voice_id;
    std::optional<audio::SampleFormat> format;
    std::optional<double> temperature;
    std::optional<int64_t> max_output_tokens;
    bool in_conversation = true;
    nlohmann::json metadata;
    std::optional<std::vector<Item>> input;
  };

  ProtocolError ParseResponseParams(const nlohmann::json& r, ResponseParams* p);
  ProtocolError HandleResponseCreate(const nlohmann::json& j);
  ProtocolError HandleResponseCancel(const nlohmann::json& j);
  ProtocolError HandleOutputAudioClear();
  nlohmann::json ResponseJson(const Response& r, const std::string& status, const nlohmann::json& status_details,
                              bool with_output, bool with_usage);

  Item AssistantItem(const Response& r, const std::string& status);
  nlohmann::json AssistantItemJson(const Response& r);
  nlohmann::json PartJson(const Response& r);
  void StartResponse(ResponseParams params, std::optional<Clock::time_point> turn_end);
  std::vector<brain::Message> History(const Response& r);
  std::vector<brain::Message> HistoryOf(const std::vector<Item>& items, const std::string& skip_id);
  // Hands the conversation so far to the brain's Prepare on a brain worker (a model brain
  // evaluates it ahead of the next turn).
  void PrepareBrain();
  void StartResponseCompute();
  static void RunBrain(const std::shared_ptr<ResponseWork>& work);
  static void SynthesizeSentence(const std::shared_ptr<ResponseWork>& work, const std::string& sentence);
  // A speaking brain's reply (Brain::ReplySpoken): its text as the transcript, its speech tokens
  // rendered with the token voices on the reply lane (SpeakTokens).
  static void RunSpeakingBrain(const std::shared_ptr<ResponseWork>& work);
  static void SpeakTokens(const std::shared_ptr<ResponseWork>& work, const std::vector<int>& tokens);
  // Reply audio (24 kHz) to the wire format, sent in ~100 ms deltas (the first at once); FlushAudio
  // sends what is left.
  static void DeliverAudio(const std::shared_ptr<ResponseWork>& work, std::span<const float> samples_24k);
  static void FlushAudio(const std::shared_ptr<ResponseWork>& work);

  // Sends the first `bytes` of the pending wire audio as one delta.
  static void SendPending(const std::shared_ptr<ResponseWork>& work, size_t bytes);
  // Sends held audio as far as pacing allows, then finishes the response if its work is done.
  void PumpAudio();
  void SendAudioDelta(Response& r, const std::string& b64, int64_t samples_24k);
  static void FinishAudio(const std::shared_ptr<ResponseWork>& work, Status status);
  bool IsActive(const std::string& response_id) const { return response_ && response_->id == response_id; }
  void CancelResponse(const char* reason);
  void FinishResponse(const std::string& status, const Status& why);
  void CancelAllWork();

  struct Utterance {
    // User-provided: clang rejects std::optional<Utterance>::emplace() inside SessionImpl while
    // the nested struct's default member initializers are not yet parsed.
    Utterance() {}
    std::string item_id;
    int64_t start_ms = 0;
    bool paused = false;  // the turn detector's pause, and no speech since: audio after it is silence
    std::shared_ptr<UtteranceJob> job;
  };

  const Engines engines_;
  SessionOptions options_;
  std::shared_ptr<SessionIo> io_;
  const EventNames& names_;
  SessionIdentity identity_;
  SessionConfig config_;
  std::shared_ptr<const persona::Persona> persona_;
  Conversation conversation_;
  std::mt19937_64 rng_;
  std::string event_prefix_;
  uint64_t event_counter_ = 0;
  bool closed_ = false;

  // Input audio: the uncommitted buffer at 16 kHz and its position in session time.
  std::optional<audio::Resampler> to_16k_;
  std::vector<uint8_t> in_bytes_;
  std::vector<float> in_scratch_, in_16k_;
  std::vector<float> buffer_16k_;
  int64_t buffer_start_ms_ = 0;
  int64_t total_16k_ = 0;
  std::unique_ptr<speech::VadStream> vad_;
  std::vector<float> vad_probs_;
  TurnDetector detector_;
  std::optional<Utterance> utterance_;
  std::vector<float> feed_pending_;  // audio for the utterance's lane, not yet submitted
  // Committed turns awaiting their transcript: cancelled when the session closes, and bounded by
  // SessionLimits (count and audio seconds).
  struct PendingTranscript {
    CancelToken cancel;
    double audio_s = 0;
  };
  std::map<std::string, PendingTranscript> transcribing_;
  double PendingAudioS() const;
  std::optional<paralinguistics::UtteranceCues> last_cues_;  // of the latest user utterance
  paralinguistics::SpeakerBaseline baseline_;
  std::optional<Clock::time_point> turn_end_;

  std::unique_ptr<Response> response_;
  std::map<std::string, std::vector<SentenceMark>> sentence_marks_;  // of items in conversation_
  int turns_ = 0;
  int responses_ = 0;
  std::set<std::string> limits_logged_;
  Clock::time_point last_client_event_ = Clock::now();
  bool ending_ = false;  // EndSession ran: the connection closes after what is queued
};

template <typename F>
void Backchannel::Post(F&& fn) const {
  io->Post([weak = session, fn = std::forward<F>(fn)]() mutable {
    if (auto s = weak.lock(); s && !s->closed()) fn(*s);
  });
}

}  // namespace cadence::realtime::session_internal
