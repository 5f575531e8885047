// The Realtime Session state machine: client events in, server events out, compute on workers.
//
// Everything in SessionImpl runs on the session's strand (SessionIo::Post). Work on the compute
// pool (ASR feeding, brain, TTS) reaches back only through Backchannel::Post, which drops the
// result when the session is gone or closed, and every result names the response/utterance it
// belongs to so that a cancelled response's late audio is dropped too.
#include "realtime/session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "audio/pcm.h"
#include "audio/resampler.h"
#include "brain/brain.h"
#include "core/base64.h"
#include "core/cancel.h"
#include "core/log.h"
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
#include "speech/vad/vad.h"

namespace cadence::realtime {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRate16k = 16000;
constexpr int kTtsRate = speech::kTtsSampleRateHz;
constexpr int kMinCommitMs = 100;
constexpr int kAudioChunkMs = 100;
constexpr size_t kMaxHistoryItems = 200;

int64_t MsOf16k(int64_t samples) { return samples / 16; }
double MsSince(Clock::time_point t) {
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
  CancelToken cancel;
  int64_t fed_samples = 0;  // on lane
  // Streaming transcript deltas (lane only); Partial() is asked at most every kPartialEverySamples.
  std::string item_id;
  bool partials = false;
  int64_t samples_since_partial = 0;
  TranscriptDeltas deltas;
};

struct SentenceMark {
  size_t transcript_end = 0;  // bytes of the response transcript through this sentence
  size_t transcript_begin = 0;
  int64_t audio_begin_ms = 0;
  int64_t audio_end_ms = -1;  // -1 while its audio is still being sent
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
  std::string transcript;  // audio modality
  int64_t audio_samples_24k = 0;
  std::vector<SentenceMark> marks;
  int audio_deltas = 0;
  Clock::time_point created;
  std::optional<Clock::time_point> turn_end;  // speech_stopped of the turn that triggered it
  double first_audio_ms = -1.0;
  int64_t input_chars = 0;
  int64_t audio_ms() const { return audio_samples_24k * 1000 / kTtsRate; }
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
  Backchannel back;
  // TTS lane only.
  std::optional<audio::Resampler> to_wire;
  std::vector<float> scratch;
  std::vector<uint8_t> pending;  // encoded wire bytes not yet sent
  int64_t pending_samples_24k = 0;
  bool first_chunk_sent = false;
  Status synth_status;
};

class SessionImpl final : public Session {
 public:
  SessionImpl(const Engines& engines, SessionOptions options, std::shared_ptr<SessionIo> io)
      : engines_(engines), options_(std::move(options)), io_(std::move(io)), names_(NamesFor(options_.beta)) {
    std::random_device rd;
    rng_.seed((uint64_t{rd()} << 32) ^ rd());
    if (options_.session_id.empty()) options_.session_id = NewId("sess");
    identity_.id = options_.session_id;
    identity_.model = options_.model;
    identity_.expires_at =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count() +
        30 * 60;
    if (engines_.asr != nullptr) config_.transcription.model = std::string(engines_.asr->name());
    if (engines_.tts != nullptr) {
      Result<std::string> id = engines_.tts->ResolveVoice(config_.voice);
      if (id.ok()) config_.voice_id = *id;
    }
    if (engines_.vad != nullptr) vad_ = engines_.vad->CreateStream();
    ConfigureInput();
    in_scratch_.reserve(8192);
    in_16k_.reserve(8192);
    vad_probs_.reserve(64);
  }

  ~SessionImpl() override { CancelAllWork(); }

  void Start() override {
    nlohmann::json e = {{"type", "session.created"}, {"session", SessionToJson(config_, identity_, options_.beta)}};
    Send(std::move(e));
    CADENCE_LOG(kInfo, "realtime", "session start id=%s peer=%s model=%s names=%s", identity_.id.c_str(),
                options_.peer.c_str(), identity_.model.c_str(), options_.beta ? "beta" : "ga");
  }

  void OnClientFrame(std::string_view frame) override {
    if (closed_) return;
    std::string client_event_id;
    ProtocolError err;
    try {
      StageScope scope(Stage::kClientEvent);
      err = Dispatch(frame, &client_event_id);
    } catch (const std::exception& ex) {
      err = ProtocolError::Server("internal_error", std::string("internal error handling the event: ") + ex.what());
    }
    if (!err.ok()) {
      err.event_id = client_event_id;
      SendError(err);
    }
  }

  void OnClose() override {
    if (closed_) return;
    closed_ = true;
    CancelAllWork();
    CADENCE_LOG(kInfo, "realtime", "session close id=%s turns=%d responses=%d", identity_.id.c_str(), turns_,
                responses_);
  }

  bool closed() const { return closed_; }

  // ---- results from workers (strand) ----
  void OnTranscript(const std::string& item_id, Result<speech::Transcript> result, std::string last_delta,
                    double audio_s, std::optional<paralinguistics::UtteranceCues> cues);
  void OnTranscriptDelta(const std::string& item_id, const std::string& delta);
  void OnResponseText(const std::string& response_id, const std::string& spoken);
  void OnResponseSentenceStart(const std::string& response_id, const std::string& spoken);
  void OnResponseAudio(const std::string& response_id, std::string b64, int64_t samples_24k);
  void OnResponseSentenceEnd(const std::string& response_id);
  void OnResponseFinished(const std::string& response_id, Status status);

 private:
  // ---- ids and sending ----
  std::string NewId(const char* prefix) {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string id = prefix;
    id += '_';
    for (int i = 0; i < 20; ++i) id += kChars[rng_() % 62];
    return id;
  }
  std::string NewEventId() {
    char buf[48];
    if (event_prefix_.empty()) event_prefix_ = NewId("event").substr(0, 14);
    std::snprintf(buf, sizeof(buf), "%s%06llu", event_prefix_.c_str(),
                  static_cast<unsigned long long>(++event_counter_));
    return buf;
  }
  void Send(nlohmann::json event) {
    if (closed_) return;
    StageScope scope(Stage::kEventOut);
    event["event_id"] = NewEventId();
    io_->Send(event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  void SendError(const ProtocolError& e) {
    nlohmann::json err = {{"type", e.type.empty() ? "invalid_request_error" : e.type},
                          {"code", e.code},
                          {"message", e.message},
                          {"param", e.param.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.param)},
                          {"event_id", e.event_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.event_id)}};
    Send({{"type", "error"}, {"error", std::move(err)}});
    CADENCE_LOG(kInfo, "realtime", "error id=%s code=%s param=%s: %s", identity_.id.c_str(), e.code.c_str(),
                e.param.c_str(), e.message.c_str());
  }
  Backchannel Back() { return Backchannel{std::static_pointer_cast<SessionImpl>(shared_from_this()), io_}; }

  // ---- dispatch ----
  ProtocolError Dispatch(std::string_view frame, std::string* client_event_id) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(frame);
    } catch (const nlohmann::json::parse_error& ex) {
      *client_event_id = ScanClientEventId(frame);
      return ProtocolError::Invalid("invalid_json", std::string("the event is not valid JSON: ") + ex.what() +
                                                        " (send one JSON object per text frame)");
    }
    if (!j.is_object()) {
      return ProtocolError::Invalid("invalid_event", "an event must be a JSON object with a 'type' field");
    }
    if (auto it = j.find("event_id"); it != j.end() && it->is_string()) *client_event_id = it->get<std::string>();
    std::string type;
    if (auto e = RequireString(j, "type", "", &type); !e.ok()) return e;
    if (type == "input_audio_buffer.append") return HandleAppend(j);
    if (type == "session.update") return HandleSessionUpdate(j);
    if (type == "input_audio_buffer.commit") return HandleCommit();
    if (type == "input_audio_buffer.clear") return HandleClear();
    if (type == "conversation.item.create") return HandleItemCreate(j);
    if (type == "conversation.item.truncate") return HandleItemTruncate(j);
    if (type == "conversation.item.delete") return HandleItemDelete(j);
    if (type == "conversation.item.retrieve") return HandleItemRetrieve(j);
    if (type == "response.create") return HandleResponseCreate(j);
    if (type == "response.cancel") return HandleResponseCancel(j);
    if (type == "output_audio_buffer.clear") return HandleOutputAudioClear();
    if (type == "transcription_session.update") {
      return ProtocolError::Invalid("unsupported_event",
                                    "transcription sessions are not supported; use session.update", "type");
    }
    return ProtocolError::Invalid("unknown_event_type",
                                  "unknown event type \"" + type +
                                      "\"; expected session.update, input_audio_buffer.append|commit|clear, "
                                      "conversation.item.create|truncate|delete|retrieve, response.create|cancel or "
                                      "output_audio_buffer.clear",
                                  "type");
  }

  static std::string ScanClientEventId(std::string_view frame) {
    const size_t k = frame.find("\"event_id\"");
    if (k == std::string_view::npos) return {};
    size_t q = frame.find('"', frame.find(':', k + 10) + 1);
    if (q == std::string_view::npos) return {};
    size_t e = frame.find('"', q + 1);
    if (e == std::string_view::npos || e - q > 128) return {};
    return std::string(frame.substr(q + 1, e - q - 1));
  }

  // ---- session.update ----
  ProtocolError HandleSessionUpdate(const nlohmann::json& j) {
    auto it = j.find("session");
    if (it == j.end()) {
      return ProtocolError::Invalid("missing_required_parameter", "session.update needs a 'session' object",
                                    "session");
    }
    SessionConfig next = config_;
    VoiceResolver resolve;
    if (engines_.tts != nullptr) {
      resolve = [this](std::string_view name) { return engines_.tts->ResolveVoice(name); };
    }
    if (auto e = ApplySessionUpdate(*it, resolve, &next); !e.ok()) return e;
    std::shared_ptr<const persona::Persona> persona = persona_;
    if (next.persona != config_.persona) {
      Result<std::shared_ptr<const persona::Persona>> p = ResolvePersona(engines_.personas, next.persona);
      if (!p.ok()) return ProtocolError::Invalid("invalid_value", p.status().message(), "session.persona");
      persona = *p;
      // A persona's voice binding applies unless the client chose a voice in the same update.
      const bool voice_given = it->contains("voice") ||
                               (it->contains("audio") && (*it)["audio"].is_object() &&
                                (*it)["audio"].contains("output") && (*it)["audio"]["output"].is_object() &&
                                (*it)["audio"]["output"].contains("voice"));
      if (persona && !voice_given) {
        const std::string bound = PersonaVoice(*persona);
        Result<std::string> id = engines_.tts != nullptr ? engines_.tts->ResolveVoice(bound)
                                                         : Result<std::string>(bound);
        if (!bound.empty() && id.ok()) {
          next.voice = bound;
          next.voice_id = *id;
        }
      }
    }
    const bool input_changed = next.input_format != config_.input_format;
    const bool td_changed = next.turn_detection.type != config_.turn_detection.type;
    config_ = std::move(next);
    persona_ = std::move(persona);
    if (input_changed) ConfigureInput();
    if (td_changed) {
      // Switching turn detection ends any half-detected turn; audio already buffered stays.
      detector_.Reset(MsOf16k(total_16k_));
      if (vad_) vad_->Reset();
    }
    detector_.Configure(config_.turn_detection.threshold, config_.turn_detection.prefix_padding_ms,
                        config_.turn_detection.silence_duration_ms);
    Send({{"type", "session.updated"}, {"session", SessionToJson(config_, identity_, options_.beta)}});
    return {};
  }

  // ---- input audio ----
  void ConfigureInput() {
    const int rate = audio::SampleFormatRateHz(config_.input_format);
    to_16k_.emplace(rate, kRate16k);
    detector_.Configure(config_.turn_detection.threshold, config_.turn_detection.prefix_padding_ms,
                        config_.turn_detection.silence_duration_ms);
  }

  bool VadActive() const {
    return config_.turn_detection.type != TurnDetectionType::kNone && vad_ != nullptr;
  }

  size_t WireBytesOf16k(size_t samples) const {
    const int rate = audio::SampleFormatRateHz(config_.input_format);
    return samples * static_cast<size_t>(rate) / kRate16k * static_cast<size_t>(audio::SampleFormatBytes(config_.input_format));
  }

  ProtocolError HandleAppend(const nlohmann::json& j) {
    auto it = j.find("audio");
    if (it == j.end() || it->is_null()) {
      return ProtocolError::Invalid("missing_required_parameter",
                                    "input_audio_buffer.append needs 'audio' (base64 audio bytes)", "audio");
    }
    if (!it->is_string()) return ProtocolError::Invalid("invalid_type", "'audio' must be a base64 string", "audio");
    const std::string& b64 = it->get_ref<const std::string&>();
    {
      StageScope scope(Stage::kInputDecode);
      if (Status s = Base64Decode(b64, &in_bytes_); !s.ok()) {
        return ProtocolError::Invalid("invalid_base64", s.message() + " in 'audio'", "audio");
      }
      if (config_.input_format == audio::SampleFormat::kPcm16 && in_bytes_.size() % 2 != 0) {
        return ProtocolError::Invalid("invalid_audio_length",
                                      "pcm16 audio must hold whole 16-bit samples, got an odd byte count (" +
                                          std::to_string(in_bytes_.size()) + ")",
                                      "audio");
      }
      if (in_bytes_.empty()) return {};
      if (WireBytesOf16k(buffer_16k_.size()) + in_bytes_.size() > options_.max_input_buffer_bytes) {
        return ProtocolError::Invalid(
            "input_audio_buffer_full",
            "input audio buffer is full (limit " + std::to_string(options_.max_input_buffer_bytes) +
                " bytes); commit or clear it before appending more",
            "audio");
      }
      in_scratch_.clear();
      audio::DecodeSamples(config_.input_format, in_bytes_, &in_scratch_);
      in_16k_.clear();
      to_16k_->Process(in_scratch_, &in_16k_);
    }
    ProcessInput16k(in_16k_);
    return {};
  }

  void ProcessInput16k(std::span<const float> chunk) {
    if (chunk.empty()) return;
    buffer_16k_.insert(buffer_16k_.end(), chunk.begin(), chunk.end());
    total_16k_ += static_cast<int64_t>(chunk.size());
    if (!VadActive()) {
      if (!utterance_) BeginUtterance(buffer_start_ms_);
      FeedUtterance(chunk);
      return;
    }
    if (utterance_) FeedUtterance(chunk);
    vad_probs_.clear();
    {
      StageScope scope(Stage::kVad);
      vad_->Process(chunk, &vad_probs_);
    }
    for (float p : vad_probs_) {
      std::optional<TurnEvent> ev = detector_.Push(p);
      if (!ev) continue;
      switch (ev->kind) {
        case TurnEvent::Kind::kSpeechStarted: OnSpeechStarted(ev->audio_ms); break;
        case TurnEvent::Kind::kSpeechPaused: OnSpeechPaused(); break;
        case TurnEvent::Kind::kSpeechResumed:
          if (utterance_) utterance_->paused = false;
          break;
        case TurnEvent::Kind::kSpeechStopped: OnSpeechStopped(ev->audio_ms); break;
      }
    }
    if (!detector_.in_speech() && !utterance_) {
      // Idle: keep only what prefix padding could need, trimming in amortized batches.
      const size_t keep = static_cast<size_t>(config_.turn_detection.prefix_padding_ms + 256) * 16;
      if (buffer_16k_.size() > 2 * keep + 16000) DropBufferFront(buffer_16k_.size() - keep);
    }
  }

  void DropBufferFront(size_t samples) {
    samples = std::min(samples, buffer_16k_.size());
    buffer_16k_.erase(buffer_16k_.begin(), buffer_16k_.begin() + static_cast<std::ptrdiff_t>(samples));
    buffer_start_ms_ += MsOf16k(static_cast<int64_t>(samples));
  }

  void BeginUtterance(int64_t start_ms) {
    utterance_.emplace();
    utterance_->item_id = NewId("item");
    utterance_->start_ms = start_ms;
    auto job = std::make_shared<UtteranceJob>();
    job->lane = SerialExecutor::Create(engines_.workers);
    job->item_id = utterance_->item_id;
    job->partials = config_.transcription.enabled && engines_.asr != nullptr;
    utterance_->job = job;
    const speech::Recognizer* asr = engines_.asr;
    const paralinguistics::Analyzer* analyzer = config_.paralinguistics ? engines_.analyzer : nullptr;
    job->lane->Submit([job, asr, analyzer] {
      if (job->cancel.cancelled()) return;
      if (asr != nullptr) job->asr = asr->CreateStream();
      if (analyzer != nullptr) job->analysis = CreateUtteranceAnalysis(analyzer);
    });
  }

  // Audio reaches the recognizer in ~160 ms batches: one worker task per 20 ms append costs more
  // in task and decoder-call overhead than the decoding itself.
  static constexpr size_t kFeedBatchSamples = 2560;

  void FeedUtterance(std::span<const float> samples) {
    if (!utterance_ || samples.empty()) return;
    feed_pending_.insert(feed_pending_.end(), samples.begin(), samples.end());
    if (feed_pending_.size() >= kFeedBatchSamples) FlushFeed();
  }

  // Partial transcripts at most every 320 ms of audio: often enough to read along, rarely enough
  // that the recognizer's backtrace (or Whisper's re-decode) stays a small share of the feed cost.
  static constexpr int64_t kPartialEverySamples = 5120;

  void FlushFeed() {
    if (!utterance_ || feed_pending_.empty()) return;
    auto job = utterance_->job;
    Backchannel back = Back();
    std::vector<float> chunk;
    chunk.reserve(kFeedBatchSamples + 1024);
    chunk.swap(feed_pending_);
    job->lane->Submit([job, back, chunk = std::move(chunk), submitted = Clock::now()] {
      RecordQueueWait(Stage::kAsrFeed, submitted);
      if (job->cancel.cancelled()) return;
      if (job->asr) {
        StageScope scope(Stage::kAsrFeed);
        job->asr->AcceptWaveform(chunk);
      }
      if (job->analysis) {
        StageScope scope(Stage::kAnalysis);
        job->analysis->Accept(chunk);
      }
      job->fed_samples += static_cast<int64_t>(chunk.size());
      job->samples_since_partial += static_cast<int64_t>(chunk.size());
      if (job->asr && job->partials && job->samples_since_partial >= kPartialEverySamples) {
        job->samples_since_partial = 0;
        std::string delta;
        {
          StageScope scope(Stage::kAsrPartial);
          delta = job->deltas.Partial(job->asr->Partial());
        }
        if (!delta.empty()) {
          back.Post([item_id = job->item_id, delta = std::move(delta)](SessionImpl& s) {
            s.OnTranscriptDelta(item_id, delta);
          });
        }
      }
    });
  }

  void CancelUtterance() {
    feed_pending_.clear();
    if (!utterance_) return;
    utterance_->job->cancel.Cancel();
    utterance_.reset();
  }

  void OnSpeechStarted(int64_t audio_start_ms) {
    ++turns_;
    // The item's audio begins at the padded start; older audio is dropped from the buffer.
    if (audio_start_ms > buffer_start_ms_) {
      DropBufferFront(static_cast<size_t>(audio_start_ms - buffer_start_ms_) * 16);
    }
    CancelUtterance();
    BeginUtterance(buffer_start_ms_);
    FeedUtterance(buffer_16k_);
    Send({{"type", "input_audio_buffer.speech_started"},
          {"audio_start_ms", buffer_start_ms_},
          {"item_id", utterance_->item_id}});
    CADENCE_LOG(kInfo, "realtime", "turn start id=%s item=%s at=%lldms", identity_.id.c_str(),
                utterance_->item_id.c_str(), static_cast<long long>(buffer_start_ms_));
    if (response_ && config_.turn_detection.interrupt_response) {
      CancelResponse("turn_detected");
    }
  }

  // The speaker paused: the recognizer may start its final now (an early final, recognizer.h),
  // on all the audio so far. The stop that may follow reuses it if no speech came in between.
  void OnSpeechPaused() {
    if (!utterance_) return;
    FlushFeed();
    utterance_->paused = true;
    auto job = utterance_->job;
    job->lane->Submit([job] {
      if (job->cancel.cancelled() || !job->asr) return;
      StageScope scope(Stage::kAsrPause);
      job->asr->Pause();
    });
  }

  void OnSpeechStopped(int64_t audio_end_ms) {
    if (!utterance_) return;
    turn_end_ = Clock::now();
    Send({{"type", "input_audio_buffer.speech_stopped"},
          {"audio_end_ms", audio_end_ms},
          {"item_id", utterance_->item_id}});
    CADENCE_LOG(kInfo, "realtime", "turn stop id=%s item=%s at=%lldms", identity_.id.c_str(),
                utterance_->item_id.c_str(), static_cast<long long>(audio_end_ms));
    const size_t end = std::min(buffer_16k_.size(),
                                static_cast<size_t>(std::max<int64_t>(0, audio_end_ms - buffer_start_ms_)) * 16);
    CommitUtterance(end);
    if (config_.turn_detection.create_response && !response_) {
      StartResponse(ResponseParams{}, turn_end_);
    }
  }

  // Commits the first `samples` of the buffer as a user audio item.
  void CommitUtterance(size_t samples) {
    if (!utterance_) BeginUtterance(buffer_start_ms_);
    FlushFeed();
    Utterance u = std::move(*utterance_);
    utterance_.reset();
    const double audio_s = static_cast<double>(samples) / kRate16k;
    DropBufferFront(samples);
    Item item;
    item.id = u.item_id;
    item.role = "user";
    ContentPart part;
    part.type = ContentPart::Type::kInputAudio;
    part.transcript_known = false;
    part.audio_ms = static_cast<int64_t>(audio_s * 1000);
    item.content.push_back(part);
    std::string previous;
    (void)conversation_.Insert(item, "", &previous);
    conversation_.Trim(kMaxHistoryItems);
    const nlohmann::json prev = previous.empty() ? nlohmann::json(nullptr) : nlohmann::json(previous);
    Send({{"type", "input_audio_buffer.committed"}, {"previous_item_id", prev}, {"item_id", item.id}});
    Send({{"type", options_.beta ? "conversation.item.created" : "conversation.item.added"},
          {"previous_item_id", prev},
          {"item", ItemToJson(item, options_.beta)}});
    ++pending_transcriptions_;
    auto job = u.job;
    Backchannel back = Back();
    const std::string item_id = item.id;
    job->lane->Submit([job, back, item_id, audio_s, at_pause = u.paused, submitted = Clock::now()] {
      RecordQueueWait(Stage::kAsrFinish, submitted);
      Result<speech::Transcript> result = Status::Unavailable("no speech recognizer is configured");
      if (job->asr) {
        StageScope scope(Stage::kAsrFinish);
        result = at_pause ? job->asr->FinishAtPause() : job->asr->Finish();
      }
      std::optional<paralinguistics::UtteranceCues> cues;
      if (job->analysis) {
        StageScope scope(Stage::kAnalysis);
        cues = job->analysis->Finish();
      }
      std::string last_delta = result.ok() ? job->deltas.Final(result->text) : std::string();
      back.Post([item_id, result = std::move(result), last_delta = std::move(last_delta), audio_s,
                 cues = std::move(cues)](SessionImpl& s) mutable {
        s.OnTranscript(item_id, std::move(result), std::move(last_delta), audio_s, std::move(cues));
      });
    });
  }

  ProtocolError HandleCommit() {
    const int64_t ms = MsOf16k(static_cast<int64_t>(buffer_16k_.size()));
    if (ms < kMinCommitMs) {
      return ProtocolError::Invalid("input_audio_buffer_commit_empty",
                                    "buffer too small: expected at least " + std::to_string(kMinCommitMs) +
                                        " ms of audio, have " + std::to_string(ms) + " ms",
                                    "");
    }
    if (VadActive() && !utterance_) {
      BeginUtterance(buffer_start_ms_);
      FeedUtterance(buffer_16k_);
    }
    // The resampler holds a few ms of the latest audio in its filter: a commit takes them too.
    in_16k_.clear();
    to_16k_->Flush(&in_16k_);
    ConfigureInput();
    if (!in_16k_.empty()) {
      buffer_16k_.insert(buffer_16k_.end(), in_16k_.begin(), in_16k_.end());
      total_16k_ += static_cast<int64_t>(in_16k_.size());
      FeedUtterance(in_16k_);
    }
    CommitUtterance(buffer_16k_.size());
    if (VadActive()) {
      detector_.Reset(MsOf16k(total_16k_));
      vad_->Reset();
    }
    return {};
  }

  ProtocolError HandleClear() {
    CancelUtterance();
    DropBufferFront(buffer_16k_.size());
    if (VadActive()) {
      detector_.Reset(MsOf16k(total_16k_));
      vad_->Reset();
    }
    Send({{"type", "input_audio_buffer.cleared"}});
    return {};
  }

  // ---- conversation items ----
  ProtocolError HandleItemCreate(const nlohmann::json& j) {
    auto it = j.find("item");
    if (it == j.end()) {
      return ProtocolError::Invalid("missing_required_parameter", "conversation.item.create needs an 'item'",
                                    "item");
    }
    Item item;
    if (auto e = ParseItem(*it, "item", &item); !e.ok()) return e;
    if (item.id.empty()) item.id = NewId("item");
    std::string previous_id;
    if (auto e = GetString(j, "previous_item_id", "", &previous_id); !e.ok()) return e;
    std::string actual_previous;
    if (auto e = conversation_.Insert(item, previous_id, &actual_previous); !e.ok()) return e;
    if (item.role == "user") last_cues_.reset();
    conversation_.Trim(kMaxHistoryItems);
    const nlohmann::json prev = actual_previous.empty() ? nlohmann::json(nullptr) : nlohmann::json(actual_previous);
    const nlohmann::json item_json = ItemToJson(item, options_.beta);
    if (options_.beta) {
      Send({{"type", "conversation.item.created"}, {"previous_item_id", prev}, {"item", item_json}});
    } else {
      Send({{"type", "conversation.item.added"}, {"previous_item_id", prev}, {"item", item_json}});
      Send({{"type", "conversation.item.done"}, {"previous_item_id", prev}, {"item", item_json}});
    }
    return {};
  }

  ProtocolError HandleItemTruncate(const nlohmann::json& j) {
    std::string item_id;
    int64_t content_index = 0, audio_end_ms = 0;
    if (auto e = RequireString(j, "item_id", "", &item_id); !e.ok()) return e;
    if (auto e = RequireInt(j, "content_index", "", &content_index); !e.ok()) return e;
    if (auto e = RequireInt(j, "audio_end_ms", "", &audio_end_ms); !e.ok()) return e;
    Item* item = conversation_.Find(item_id);
    if (item == nullptr) {
      return ProtocolError::Invalid("item_not_found", "no conversation item with id '" + item_id + "'", "item_id");
    }
    if (item->role != "assistant") {
      return ProtocolError::Invalid("invalid_value", "only assistant audio items can be truncated", "item_id");
    }
    if (content_index < 0 || static_cast<size_t>(content_index) >= item->content.size() ||
        item->content[static_cast<size_t>(content_index)].type != ContentPart::Type::kOutputAudio) {
      return ProtocolError::Invalid("invalid_value",
                                    "content_index " + std::to_string(content_index) + " is not an audio part of '" +
                                        item_id + "'",
                                    "content_index");
    }
    if (audio_end_ms < 0) {
      return ProtocolError::Invalid("invalid_value", "audio_end_ms must not be negative", "audio_end_ms");
    }
    // Truncating the item being spoken ends its response first: the client stopped playback.
    if (response_ && response_->item_id == item_id) CancelResponse("client_cancelled");
    item = conversation_.Find(item_id);
    if (item == nullptr) {
      return ProtocolError::Invalid("item_not_found", "no conversation item with id '" + item_id + "'", "item_id");
    }
    ContentPart& part = item->content[static_cast<size_t>(content_index)];
    if (audio_end_ms > part.audio_ms) {
      return ProtocolError::Invalid("invalid_value",
                                    "audio_end_ms " + std::to_string(audio_end_ms) + " is beyond the item's audio (" +
                                        std::to_string(part.audio_ms) + " ms)",
                                    "audio_end_ms");
    }
    part.transcript = TruncateTranscript(item_id, part.transcript, part.audio_ms, audio_end_ms);
    part.audio_ms = audio_end_ms;
    Send({{"type", "conversation.item.truncated"},
          {"item_id", item_id},
          {"content_index", content_index},
          {"audio_end_ms", audio_end_ms}});
    return {};
  }

  ProtocolError HandleItemDelete(const nlohmann::json& j) {
    std::string item_id;
    if (auto e = RequireString(j, "item_id", "", &item_id); !e.ok()) return e;
    if (response_ && response_->item_id == item_id) CancelResponse("client_cancelled");
    if (!conversation_.Delete(item_id)) {
      return ProtocolError::Invalid("item_not_found", "no conversation item with id '" + item_id + "'", "item_id");
    }
    sentence_marks_.erase(item_id);
    Send({{"type", "conversation.item.deleted"}, {"item_id", item_id}});
    return {};
  }

  ProtocolError HandleItemRetrieve(const nlohmann::json& j) {
    std::string item_id;
    if (auto e = RequireString(j, "item_id", "", &item_id); !e.ok()) return e;
    const Item* item = conversation_.Find(item_id);
    if (item == nullptr) {
      return ProtocolError::Invalid("item_not_found", "no conversation item with id '" + item_id + "'", "item_id");
    }
    Send({{"type", "conversation.item.retrieved"}, {"item", ItemToJson(*item, options_.beta)}});
    return {};
  }

  // Keeps the words of the sentences whose audio was played before `audio_end_ms`; the sentence
  // cut in the middle keeps the fraction of its words that matches the fraction of its audio.
  std::string TruncateTranscript(const std::string& item_id, const std::string& transcript, int64_t total_ms,
                                 int64_t audio_end_ms) {
    auto it = sentence_marks_.find(item_id);
    if (it == sentence_marks_.end() || it->second.empty()) {
      if (total_ms <= 0) return transcript;
      return CutWords(transcript, static_cast<double>(audio_end_ms) / static_cast<double>(total_ms));
    }
    std::string out;
    for (const SentenceMark& m : it->second) {
      if (m.audio_begin_ms >= audio_end_ms) break;
      const size_t begin = std::min(m.transcript_begin, transcript.size());
      const size_t finish = std::min(m.transcript_end, transcript.size());
      const int64_t end = m.audio_end_ms < 0 ? total_ms : m.audio_end_ms;
      if (end <= audio_end_ms) {
        out = transcript.substr(0, finish);
      } else {
        const double frac = end > m.audio_begin_ms ? static_cast<double>(audio_end_ms - m.audio_begin_ms) /
                                                         static_cast<double>(end - m.audio_begin_ms)
                                                   : 0.0;
        out = transcript.substr(0, begin) + CutWords(transcript.substr(begin, finish - begin), frac);
        break;
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  static std::string CutWords(const std::string& text, double fraction) {
    if (fraction >= 1.0) return text;
    if (fraction <= 0.0) return {};
    size_t cut = static_cast<size_t>(static_cast<double>(text.size()) * fraction);
    // Cut at a word boundary for spaced scripts; CJK (no spaces) cuts at a UTF-8 boundary.
    size_t space = text.rfind(' ', cut);
    if (space != std::string::npos && space > 0) {
      cut = space;
    } else {
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    }
    return text.substr(0, cut);
  }

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

  ProtocolError ParseResponseParams(const nlohmann::json& r, ResponseParams* p) {
    const std::string base = "response";
    if (!r.is_object()) return ProtocolError::Invalid("invalid_type", "'response' must be an object", base);
    for (const char* key : {"modalities", "output_modalities"}) {
      if (auto it = r.find(key); it != r.end() && !it->is_null()) {
        if (!it->is_array() || it->empty()) {
          return ProtocolError::Invalid("invalid_value", std::string("'response.") + key + "' must be a non-empty array",
                                        Path(base, key));
        }
        bool audio = false;
        for (const auto& m : *it) {
          if (m == "audio") {
            audio = true;
          } else if (m != "text") {
            return ProtocolError::Invalid("invalid_value",
                                          std::string("'response.") + key + "' may hold only \"text\" and \"audio\"",
                                          Path(base, key));
          }
        }
        p->audio = audio;
      }
    }
    std::string s;
    if (r.contains("instructions")) {
      if (auto e = GetString(r, "instructions", base, &s); !e.ok()) return e;
      p->instructions = s;
    }
    auto voice_of = [&](const nlohmann::json& v, const std::string& param) -> ProtocolError {
      if (!v.is_string()) return ProtocolError::Invalid("invalid_type", "'" + param + "' must be a voice name", param);
      const std::string name = v.get<std::string>();
      if (engines_.tts != nullptr) {
        Result<std::string> id = engines_.tts->ResolveVoice(name);
        if (!id.ok()) {
          return ProtocolError::Invalid("invalid_value",
                                        "unknown voice \"" + name + "\" in '" + param + "': " + id.status().message(),
                                        param);
        }
        p->voice_id = *id;
      }
      p->voice = name;
      return {};
    };
    if (auto it = r.find("voice"); it != r.end() && !it->is_null()) {
      if (auto e = voice_of(*it, "response.voice"); !e.ok()) return e;
    }
    if (auto it = r.find("output_audio_format"); it != r.end() && !it->is_null()) {
      audio::SampleFormat f;
      if (auto e = ParseAudioFormat(*it, "response.output_audio_format", &f); !e.ok()) return e;
      p->format = f;
    }
    if (auto a = r.find("audio"); a != r.end() && a->is_object()) {
      if (auto o = a->find("output"); o != a->end() && o->is_object()) {
        if (auto v = o->find("voice"); v != o->end() && !v->is_null()) {
          if (auto e = voice_of(*v, "response.audio.output.voice"); !e.ok()) return e;
        }
        if (auto f = o->find("format"); f != o->end() && !f->is_null()) {
          audio::SampleFormat fmt;
          if (auto e = ParseAudioFormat(*f, "response.audio.output.format", &fmt); !e.ok()) return e;
          p->format = fmt;
        }
      }
    }
    double t = 0;
    if (r.contains("temperature")) {
      if (auto e = GetNumber(r, "temperature", base, &t); !e.ok()) return e;
      p->temperature = t;
    }
    for (const char* key : {"max_output_tokens", "max_response_output_tokens"}) {
      if (auto it = r.find(key); it != r.end() && !it->is_null()) {
        if (*it == "inf") {
          p->max_output_tokens = 0;
        } else if (it->is_number_integer() && it->get<int64_t>() >= 1) {
          p->max_output_tokens = it->get<int64_t>();
        } else {
          return ProtocolError::Invalid("invalid_value",
                                        std::string("'response.") + key + "' must be a positive integer or \"inf\"",
                                        Path(base, key));
        }
      }
    }
    if (auto it = r.find("conversation"); it != r.end() && !it->is_null()) {
      if (*it == "none") {
        p->in_conversation = false;
      } else if (*it != "auto") {
        return ProtocolError::Invalid("invalid_value", "'response.conversation' must be \"auto\" or \"none\"",
                                      "response.conversation");
      }
    }
    if (auto it = r.find("metadata"); it != r.end()) p->metadata = *it;
    if (auto it = r.find("input"); it != r.end() && !it->is_null()) {
      if (!it->is_array()) {
        return ProtocolError::Invalid("invalid_type", "'response.input' must be an array of items", "response.input");
      }
      std::vector<Item> items;
      for (size_t i = 0; i < it->size(); ++i) {
        const nlohmann::json& v = (*it)[i];
        const std::string param = "response.input[" + std::to_string(i) + "]";
        if (v.is_object() && v.value("type", std::string()) == "item_reference") {
          std::string ref;
          if (auto e = RequireString(v, "id", param, &ref); !e.ok()) return e;
          const Item* found = conversation_.Find(ref);
          if (found == nullptr) {
            return ProtocolError::Invalid("item_not_found", "item_reference '" + ref + "' is not in the conversation",
                                          param + ".id");
          }
          items.push_back(*found);
          continue;
        }
        Item item;
        if (auto e = ParseItem(v, param, &item); !e.ok()) return e;
        items.push_back(std::move(item));
      }
      p->input = std::move(items);
    }
    return {};
  }

  ProtocolError HandleResponseCreate(const nlohmann::json& j) {
    ResponseParams params;
    if (auto it = j.find("response"); it != j.end() && !it->is_null()) {
      if (auto e = ParseResponseParams(*it, &params); !e.ok()) return e;
    }
    if (response_) {
      return ProtocolError::Invalid("conversation_already_has_active_response",
                                    "a response (" + response_->id +
                                        ") is in progress; wait for response.done or send response.cancel",
                                    "");
    }
    StartResponse(std::move(params), std::nullopt);
    return {};
  }

  ProtocolError HandleResponseCancel(const nlohmann::json& j) {
    std::string id;
    if (auto e = GetString(j, "response_id", "", &id); !e.ok()) return e;
    if (!response_) {
      return ProtocolError::Invalid("response_cancel_not_active", "there is no response in progress to cancel", "");
    }
    if (!id.empty() && id != response_->id) {
      return ProtocolError::Invalid("invalid_value",
                                    "response '" + id + "' is not in progress (the active one is " + response_->id + ")",
                                    "response_id");
    }
    CancelResponse("client_cancelled");
    return {};
  }

  ProtocolError HandleOutputAudioClear() {
    std::string id;
    if (response_) {
      id = response_->id;
      CancelResponse("client_cancelled");
    }
    Send({{"type", "output_audio_buffer.cleared"},
          {"response_id", id.empty() ? nlohmann::json(nullptr) : nlohmann::json(id)}});
    return {};
  }

  nlohmann::json ResponseJson(const Response& r, const std::string& status, const nlohmann::json& status_details,
                              bool with_output, bool with_usage) {
    nlohmann::json output = nlohmann::json::array();
    if (with_output) output.push_back(AssistantItemJson(r));
    nlohmann::json j = {{"id", r.id},
                        {"object", "realtime.response"},
                        {"status", status},
                        {"status_details", status_details},
                        {"output", std::move(output)},
                        {"conversation_id", r.in_conversation ? nlohmann::json("conv_" + identity_.id.substr(5))
                                                              : nlohmann::json(nullptr)},
                        {"metadata", r.metadata.is_null() ? nlohmann::json(nullptr) : r.metadata},
                        {"max_output_tokens", r.max_output_tokens == 0 ? nlohmann::json("inf")
                                                                      : nlohmann::json(r.max_output_tokens)}};
    if (options_.beta) {
      j["modalities"] = r.audio ? nlohmann::json::array({"text", "audio"}) : nlohmann::json::array({"text"});
      j["voice"] = r.voice;
      j["output_audio_format"] = std::string(audio::SampleFormatName(r.format));
      j["temperature"] = r.temperature;
    } else {
      j["output_modalities"] = r.audio ? nlohmann::json::array({"audio"}) : nlohmann::json::array({"text"});
      j["audio"] = {{"output", {{"format", AudioFormatJson(r.format)}, {"voice", r.voice}}}};
    }
    if (with_usage) {
      // Cadence has no tokenizer on this path: token counts are estimates (text: 4 bytes per
      // token; audio: 20 tokens per second, i.e. one per 50 ms).
      const int64_t out_text = static_cast<int64_t>((r.audio ? r.transcript.size() : r.text.size()) + 3) / 4;
      const int64_t out_audio = r.audio_ms() / 50;
      const int64_t in_text = (r.input_chars + 3) / 4;
      j["usage"] = {{"total_tokens", in_text + out_text + out_audio},
                    {"input_tokens", in_text},
                    {"output_tokens", out_text + out_audio},
                    {"input_token_details", {{"text_tokens", in_text}, {"audio_tokens", 0}, {"cached_tokens", 0}}},
                    {"output_token_details", {{"text_tokens", out_text}, {"audio_tokens", out_audio}}}};
    } else {
      j["usage"] = nullptr;
    }
    return j;
  }

  Item AssistantItem(const Response& r, const std::string& status) {
    Item item;
    item.id = r.item_id;
    item.role = "assistant";
    item.status = status;
    ContentPart part;
    if (r.audio) {
      part.type = ContentPart::Type::kOutputAudio;
      part.transcript = r.transcript;
      part.audio_ms = r.audio_ms();
    } else {
      part.type = ContentPart::Type::kOutputText;
      part.text = r.text;
    }
    item.content.push_back(std::move(part));
    return item;
  }
  nlohmann::json AssistantItemJson(const Response& r) {
    return ItemToJson(AssistantItem(r, item_status_), options_.beta);
  }

  nlohmann::json PartJson(const Response& r) {
    if (r.audio) return {{"type", "audio"}, {"transcript", r.transcript}};
    return {{"type", "text"}, {"text", r.text}};
  }

  void StartResponse(ResponseParams params, std::optional<Clock::time_point> turn_end) {
    auto r = std::make_unique<Response>();
    r->id = NewId("resp");
    r->item_id = NewId("item");
    r->audio = params.audio.value_or(config_.audio_output);
    r->voice = params.voice.value_or(config_.voice);
    r->voice_id = params.voice_id.value_or(config_.voice_id);
    r->format = params.format.value_or(config_.output_format);
    r->instructions = params.instructions.value_or(config_.instructions);
    r->temperature = params.temperature.value_or(config_.temperature);
    r->max_output_tokens = params.max_output_tokens.value_or(config_.max_output_tokens);
    r->in_conversation = params.in_conversation;
    r->metadata = params.metadata;
    r->input = std::move(params.input);
    r->created = Clock::now();
    r->turn_end = turn_end;
    response_ = std::move(r);
    ++responses_;
    item_status_ = "in_progress";
    Response& resp = *response_;
    Send({{"type", "response.created"},
          {"response", ResponseJson(resp, "in_progress", nullptr, false, false)}});
    std::string previous;
    if (resp.in_conversation) {
      (void)conversation_.Insert(AssistantItem(resp, "in_progress"), "", &previous);
      conversation_.Trim(kMaxHistoryItems);
    }
    Item empty = AssistantItem(resp, "in_progress");
    empty.content.clear();
    const nlohmann::json empty_json = ItemToJson(empty, options_.beta);
    Send({{"type", "response.output_item.added"}, {"response_id", resp.id}, {"output_index", 0}, {"item", empty_json}});
    if (resp.in_conversation) {
      Send({{"type", options_.beta ? "conversation.item.created" : "conversation.item.added"},
            {"previous_item_id", previous.empty() ? nlohmann::json(nullptr) : nlohmann::json(previous)},
            {"item", empty_json}});
    }
    Send({{"type", "response.content_part.added"},
          {"response_id", resp.id},
          {"item_id", resp.item_id},
          {"output_index", 0},
          {"content_index", 0},
          {"part", PartJson(resp)}});
    if (pending_transcriptions_ == 0) StartResponseCompute();
  }

  std::vector<brain::Message> History(const Response& r) {
    std::vector<brain::Message> history;
    const std::vector<Item>& items = r.input ? *r.input : conversation_.items();
    for (const Item& item : items) {
      if (item.id == r.item_id) continue;
      std::string text = ItemText(item);
      if (text.empty()) continue;
      brain::Message m;
      m.role = item.role == "assistant" ? brain::Message::Role::kAssistant
               : item.role == "system"  ? brain::Message::Role::kSystem
                                        : brain::Message::Role::kUser;
      m.text = std::move(text);
      history.push_back(std::move(m));
    }
    return history;
  }

  void StartResponseCompute() {
    if (!response_ || response_->compute_started) return;
    Response& r = *response_;
    r.compute_started = true;
    if (engines_.brain == nullptr) {
      FinishResponse("failed", Status::Unavailable("no brain is configured on this server"));
      return;
    }
    auto work = std::make_shared<ResponseWork>();
    work->response_id = r.id;
    work->audio = r.audio && engines_.tts != nullptr;
    work->format = r.format;
    work->cancel = r.cancel;
    work->brain = engines_.brain;
    work->tts = engines_.tts;
    work->back = Back();
    ThreadPool* reply_pool = engines_.reply_workers != nullptr ? engines_.reply_workers : engines_.workers;
    work->lane = SerialExecutor::Create(reply_pool);
    work->request.persona = persona_.get();
    work->request.instructions = r.instructions;
    work->request.history = History(r);
    work->request.cues = last_cues_;
    work->request.language = config_.transcription.language;
    work->request.max_output_tokens = static_cast<int>(r.max_output_tokens);
    work->request.temperature = r.temperature;
    for (const auto& m : work->request.history) r.input_chars += static_cast<int64_t>(m.text.size());
    r.input_chars += static_cast<int64_t>(r.instructions.size());
    work->synth.voice = r.voice_id;
    work->synth.speed = config_.speed;
    if (persona_) work->synth.tone = PersonaTone(*persona_);
    if (r.audio && engines_.tts == nullptr) {
      CADENCE_LOG(kWarn, "realtime", "response id=%s wants audio but no synthesizer is configured; text only",
                  r.id.c_str());
    }
    auto run = [work, submitted = Clock::now()] {
      RecordQueueWait(Stage::kBrain, submitted);
      StageScope scope(Stage::kBrain);
      RunBrain(work);
    };
    if (reply_pool != nullptr) {
      reply_pool->Submit(std::move(run));
    } else {
      run();
    }
  }

  static void RunBrain(const std::shared_ptr<ResponseWork>& work) {
    // The first piece ends at its first comma, so first audio does not wait for a long sentence.
    speech::SentenceSplitter splitter({.max_bytes = 200, .cut_first_clause = true});
    std::vector<std::string> sentences;
    auto dispatch = [&](std::vector<std::string>* list) {
      for (std::string& s : *list) {
        if (work->audio) {
          work->lane->Submit([work, s = std::move(s), submitted = Clock::now()] {
            RecordQueueWait(Stage::kTts, submitted);
            StageScope scope(Stage::kTts);
            SynthesizeSentence(work, s);
          });
        } else {
          std::string spoken = SpokenText(s);
          work->back.Post([id = work->response_id, spoken = std::move(spoken)](SessionImpl& session) {
            session.OnResponseText(id, spoken);
          });
        }
      }
      list->clear();
    };
    Status status = work->brain->Reply(work->request, work->cancel, [&](std::string_view text) {
      if (work->cancel.cancelled()) return false;
      splitter.Push(text, &sentences);
      dispatch(&sentences);
      return !work->cancel.cancelled();
    });
    splitter.Flush(&sentences);
    if (!work->cancel.cancelled()) dispatch(&sentences);
    work->lane->Submit([work, status] { FinishAudio(work, status); });
  }

  static void SynthesizeSentence(const std::shared_ptr<ResponseWork>& work, const std::string& sentence) {
    if (work->cancel.cancelled()) return;
    const std::string spoken = SpokenText(sentence);
    work->back.Post([id = work->response_id, spoken](SessionImpl& s) { s.OnResponseSentenceStart(id, spoken); });
    speech::SynthesisRequest req = work->synth;
    req.text = sentence;
    const int wire_rate = audio::SampleFormatRateHz(work->format);
    if (wire_rate != kTtsRate && !work->to_wire) work->to_wire.emplace(kTtsRate, wire_rate);
    const size_t chunk_bytes = static_cast<size_t>(wire_rate * kAudioChunkMs / 1000 *
                                                   audio::SampleFormatBytes(work->format));
    Status st = work->tts->Synthesize(req, work->cancel, [&](std::span<const float> samples_24k) {
      if (work->cancel.cancelled()) return false;
      StageScope scope(Stage::kAudioOut);
      if (work->to_wire) {
        work->scratch.clear();
        work->to_wire->Process(samples_24k, &work->scratch);
        audio::EncodeSamples(work->format, work->scratch, &work->pending);
      } else {
        audio::EncodeSamples(work->format, samples_24k, &work->pending);
      }
      work->pending_samples_24k += static_cast<int64_t>(samples_24k.size());
      // The first chunk leaves at once (latency); later ones in ~100 ms pieces.
      if (!work->first_chunk_sent && !work->pending.empty()) {
        SendPending(work, work->pending.size());
        work->first_chunk_sent = true;
      }
      while (work->pending.size() >= chunk_bytes) SendPending(work, chunk_bytes);
      return !work->cancel.cancelled();
    });
    if (!work->pending.empty() && !work->cancel.cancelled()) {
      StageScope scope(Stage::kAudioOut);
      SendPending(work, work->pending.size());
    }
    if (!st.ok() && st.code() != StatusCode::kCancelled) {
      CADENCE_LOG(kWarn, "realtime", "response id=%s synthesis failed: %s", work->response_id.c_str(),
                  st.ToString().c_str());
      work->synth_status = st;
    }
    work->back.Post([id = work->response_id](SessionImpl& s) { s.OnResponseSentenceEnd(id); });
  }

  // Sends the first `bytes` of the pending wire audio as one delta.
  static void SendPending(const std::shared_ptr<ResponseWork>& work, size_t bytes) {
    bytes = std::min(bytes, work->pending.size());
    if (bytes == 0) return;
    const int wire_rate = audio::SampleFormatRateHz(work->format);
    const int64_t wire_samples = static_cast<int64_t>(bytes) / audio::SampleFormatBytes(work->format);
    const int64_t samples_24k = wire_samples * kTtsRate / wire_rate;
    std::string b64 = Base64Encode(std::span<const uint8_t>(work->pending.data(), bytes));
    work->pending.erase(work->pending.begin(), work->pending.begin() + static_cast<std::ptrdiff_t>(bytes));
    work->back.Post([id = work->response_id, b64 = std::move(b64), samples_24k](SessionImpl& s) mutable {
      s.OnResponseAudio(id, std::move(b64), samples_24k);
    });
  }

  static void FinishAudio(const std::shared_ptr<ResponseWork>& work, Status status) {
    StageScope scope(Stage::kAudioOut);
    if (work->audio && work->to_wire && !work->cancel.cancelled()) {
      work->scratch.clear();
      work->to_wire->Flush(&work->scratch);
      audio::EncodeSamples(work->format, work->scratch, &work->pending);
      SendPending(work, work->pending.size());
    }
    if (status.ok() && !work->synth_status.ok()) status = work->synth_status;
    work->back.Post([id = work->response_id, status](SessionImpl& s) { s.OnResponseFinished(id, status); });
  }

  bool IsActive(const std::string& response_id) const { return response_ && response_->id == response_id; }

  void CancelResponse(const char* reason) {
    if (!response_) return;
    response_->cancel.Cancel();
    cancel_reason_ = reason;
    FinishResponse("cancelled", Status::Cancelled(reason));
  }

  void FinishResponse(const std::string& status, const Status& why) {
    if (!response_) return;
    std::unique_ptr<Response> owned = std::move(response_);
    Response& r = *owned;
    nlohmann::json details = nullptr;
    if (status == "cancelled") {
      details = {{"type", "cancelled"}, {"reason", cancel_reason_}};
      // What was sent is what the item holds: cut the transcript to the audio already delivered.
      if (r.audio) {
        sentence_marks_[r.item_id] = r.marks;
        r.transcript = TruncateTranscript(r.item_id, r.transcript, r.audio_ms(), r.audio_ms());
      }
    } else if (status == "failed") {
      details = {{"type", "failed"},
                 {"error", {{"type", "server_error"}, {"code", std::string(StatusCodeName(why.code()))},
                            {"message", why.message()}}}};
    }
    item_status_ = status == "completed" ? "completed" : "incomplete";
    Item final_item = AssistantItem(r, item_status_);
    if (r.in_conversation) {
      if (Item* stored = conversation_.Find(r.item_id)) *stored = final_item;
    }
    if (r.audio) sentence_marks_[r.item_id] = r.marks;
    const nlohmann::json part = PartJson(r);
    if (r.audio) {
      Send({{"type", names_.audio_done}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
            {"content_index", 0}});
      Send({{"type", names_.transcript_done}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
            {"content_index", 0}, {"transcript", r.transcript}});
    } else {
      Send({{"type", names_.text_done}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
            {"content_index", 0}, {"text", r.text}});
    }
    Send({{"type", "response.content_part.done"}, {"response_id", r.id}, {"item_id", r.item_id},
          {"output_index", 0}, {"content_index", 0}, {"part", part}});
    const nlohmann::json item_json = ItemToJson(final_item, options_.beta);
    Send({{"type", "response.output_item.done"}, {"response_id", r.id}, {"output_index", 0}, {"item", item_json}});
    if (!options_.beta && r.in_conversation) {
      Send({{"type", "conversation.item.done"}, {"item", item_json}});
    }
    Send({{"type", "response.done"}, {"response", ResponseJson(r, status, details, true, true)}});
    Send({{"type", "rate_limits.updated"}, {"rate_limits", nlohmann::json::array()}});
    CADENCE_LOG(kInfo, "realtime",
                "response done id=%s resp=%s status=%s%s%s audio_ms=%lld deltas=%d total_ms=%.0f first_audio_ms=%.1f",
                identity_.id.c_str(), r.id.c_str(), status.c_str(), why.ok() ? "" : " why=",
                why.ok() ? "" : why.message().c_str(), static_cast<long long>(r.audio_ms()), r.audio_deltas,
                MsSince(r.created), r.first_audio_ms);
    if (stats_hook_) stats_hook_(r.first_audio_ms);
  }

  void CancelAllWork() {
    if (response_) response_->cancel.Cancel();
    response_.reset();
    CancelUtterance();
  }

  struct Utterance {
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
  int pending_transcriptions_ = 0;
  std::optional<paralinguistics::UtteranceCues> last_cues_;  // of the latest user utterance
  paralinguistics::SpeakerBaseline baseline_;
  std::optional<Clock::time_point> turn_end_;

  std::unique_ptr<Response> response_;
  std::string item_status_ = "in_progress";
  std::string cancel_reason_;
  std::map<std::string, std::vector<SentenceMark>> sentence_marks_;
  int turns_ = 0;
  int responses_ = 0;

 public:
  std::function<void(double)> stats_hook_;
};

template <typename F>
void Backchannel::Post(F&& fn) const {
  io->Post([weak = session, fn = std::forward<F>(fn)]() mutable {
    if (auto s = weak.lock(); s && !s->closed()) fn(*s);
  });
}

void SessionImpl::OnTranscriptDelta(const std::string& item_id, const std::string& delta) {
  if (!config_.transcription.enabled) return;
  // Only for the utterance still being spoken or one awaiting its transcript: a cancelled
  // utterance's late partials name an item that will never complete.
  const Item* item = conversation_.Find(item_id);
  const bool awaiting = item != nullptr && !item->content.empty() && !item->content[0].transcript_known;
  if (!awaiting && !(utterance_ && utterance_->item_id == item_id)) return;
  Send({{"type", "conversation.item.input_audio_transcription.delta"},
        {"item_id", item_id},
        {"content_index", 0},
        {"delta", delta}});
}

void SessionImpl::OnTranscript(const std::string& item_id, Result<speech::Transcript> result,
                               std::string last_delta, double audio_s,
                               std::optional<paralinguistics::UtteranceCues> cues) {
  if (pending_transcriptions_ > 0) --pending_transcriptions_;
  Item* item = conversation_.Find(item_id);
  std::string text;
  if (result.ok()) text = result->text;
  if (item != nullptr && !item->content.empty()) {
    item->content[0].transcript = text;
    item->content[0].transcript_known = true;
  }
  if (config_.transcription.enabled) {
    if (result.ok()) {
      if (!last_delta.empty()) {
        Send({{"type", "conversation.item.input_audio_transcription.delta"},
              {"item_id", item_id},
              {"content_index", 0},
              {"delta", std::move(last_delta)}});
      }
      Send({{"type", "conversation.item.input_audio_transcription.completed"},
            {"item_id", item_id},
            {"content_index", 0},
            {"transcript", text},
            {"usage", {{"type", "duration"}, {"seconds", audio_s}}}});
    } else {
      Send({{"type", "conversation.item.input_audio_transcription.failed"},
            {"item_id", item_id},
            {"content_index", 0},
            {"error",
             {{"type", "transcription_error"},
              {"code", std::string(StatusCodeName(result.status().code()))},
              {"message", result.status().message()},
              {"param", nullptr}}}});
    }
  }
  CADENCE_LOG(kInfo, "realtime", "transcript id=%s item=%s audio_s=%.2f %s\"%s\"", identity_.id.c_str(),
              item_id.c_str(), audio_s, result.ok() ? "" : "FAILED ",
              result.ok() ? text.c_str() : result.status().message().c_str());
  if (cues) {
    baseline_.Apply(&*cues);
    last_cues_ = cues;
    Send({{"type", "conversation.item.input_audio_paralinguistics.completed"},
          {"item_id", item_id},
          {"cues", CuesJson(*cues)}});
  }
  if (!options_.beta && item != nullptr) {
    Send({{"type", "conversation.item.done"}, {"item", ItemToJson(*item, options_.beta)}});
  }
  if (pending_transcriptions_ == 0) StartResponseCompute();
}

void SessionImpl::OnResponseText(const std::string& response_id, const std::string& spoken) {
  if (!IsActive(response_id) || spoken.empty()) return;
  Response& r = *response_;
  std::string delta = spoken;
  if (!r.text.empty() && static_cast<unsigned char>(r.text.back()) < 0x80 &&
      static_cast<unsigned char>(delta.front()) < 0x80) {
    delta.insert(delta.begin(), ' ');
  }
  r.text += delta;
  Send({{"type", names_.text_delta}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
        {"content_index", 0}, {"delta", delta}});
}

void SessionImpl::OnResponseSentenceStart(const std::string& response_id, const std::string& spoken) {
  if (!IsActive(response_id)) return;
  Response& r = *response_;
  SentenceMark mark;
  mark.transcript_begin = r.transcript.size();
  mark.audio_begin_ms = r.audio_ms();
  if (!spoken.empty()) {
    std::string delta = spoken;
    if (!r.transcript.empty() && static_cast<unsigned char>(r.transcript.back()) < 0x80 &&
        static_cast<unsigned char>(delta.front()) < 0x80) {
      delta.insert(delta.begin(), ' ');
      ++mark.transcript_begin;  // the sentence itself starts after the joining space
    }
    r.transcript += delta;
    Send({{"type", names_.transcript_delta}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
          {"content_index", 0}, {"delta", delta}});
  }
  mark.transcript_end = r.transcript.size();
  r.marks.push_back(mark);
}

void SessionImpl::OnResponseAudio(const std::string& response_id, std::string b64, int64_t samples_24k) {
  if (!IsActive(response_id) || closed_) return;
  Response& r = *response_;
  if (r.audio_deltas == 0) {
    r.first_audio_ms = r.turn_end ? MsSince(*r.turn_end) : MsSince(r.created);
  }
  ++r.audio_deltas;
  r.audio_samples_24k += samples_24k;
  // Built by hand: the payload is large and needs no escaping.
  std::string frame;
  frame.reserve(b64.size() + 256);
  frame += "{\"type\":\"";
  frame += names_.audio_delta;
  frame += "\",\"event_id\":\"";
  frame += NewEventId();
  frame += "\",\"response_id\":\"";
  frame += r.id;
  frame += "\",\"item_id\":\"";
  frame += r.item_id;
  frame += "\",\"output_index\":0,\"content_index\":0,\"delta\":\"";
  frame += b64;
  frame += "\"}";
  io_->Send(std::move(frame));
}

void SessionImpl::OnResponseSentenceEnd(const std::string& response_id) {
  if (!IsActive(response_id)) return;
  Response& r = *response_;
  if (!r.marks.empty()) r.marks.back().audio_end_ms = r.audio_ms();
}

void SessionImpl::OnResponseFinished(const std::string& response_id, Status status) {
  if (!IsActive(response_id)) return;
  if (status.ok()) {
    FinishResponse("completed", status);
  } else if (status.code() == StatusCode::kCancelled) {
    cancel_reason_ = "client_cancelled";
    FinishResponse("cancelled", status);
  } else {
    FinishResponse("failed", status);
  }
}

}  // namespace

std::shared_ptr<Session> Session::Create(const Engines& engines, SessionOptions options,
                                         std::shared_ptr<SessionIo> io) {
  return std::make_shared<SessionImpl>(engines, std::move(options), std::move(io));
}

}  // namespace cadence::realtime
