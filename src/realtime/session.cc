// SessionImpl: lifecycle, client event dispatch, ids and sending, session.update (session_impl.h).
#include "realtime/session_impl.h"

#include "core/json_depth.h"

namespace cadence::realtime::session_internal {

SessionImpl::SessionImpl(const Engines& engines, SessionOptions options, std::shared_ptr<SessionIo> io)
    : engines_(engines), options_(std::move(options)), io_(std::move(io)), names_(NamesFor(options_.beta)) {
  std::random_device rd;
  rng_.seed((uint64_t{rd()} << 32) ^ rd());
  if (options_.session_id.empty()) options_.session_id = NewId("sess");
  identity_.id = options_.session_id;
  identity_.model = options_.model;
  identity_.expires_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() +
      options_.limits.max_duration_s;
  if (engines_.asr != nullptr) config_.transcription.model = std::string(engines_.asr->name());
  if (HasVoices()) {
    Result<std::string> id = ResolveVoice(config_.voice);
    if (id.ok()) config_.voice_id = *id;
  }
  if (engines_.vad != nullptr) vad_ = engines_.vad->CreateStream();
  ConfigureInput();
  in_scratch_.reserve(8192);
  in_16k_.reserve(8192);
  vad_probs_.reserve(64);
}

void SessionImpl::Start() {
  nlohmann::json e = {{"type", "session.created"}, {"session", SessionToJson(config_, identity_, options_.beta)}};
  Send(std::move(e));
  CADENCE_LOG(kInfo, "realtime", "session start id=%s peer=%s model=%s names=%s", identity_.id.c_str(),
              options_.peer.c_str(), identity_.model.c_str(), options_.beta ? "beta" : "ga");
  ScheduleLifetime();
  PrepareBrain();  // the session's system message, before the first turn
}

void SessionImpl::ScheduleLifetime() {
  last_client_event_ = io_->Now();
  std::weak_ptr<SessionImpl> weak = std::static_pointer_cast<SessionImpl>(shared_from_this());
  const int lifetime_s = limits().max_duration_s;
  if (lifetime_s > 0) {
    if (lifetime_s > kExpiryWarningS) {
      io_->PostAfter((lifetime_s - kExpiryWarningS) * 1000, [weak] {
        auto s = weak.lock();
        if (!s || s->closed_ || s->ending_) return;
        // Not an `error`: standard clients ignore this type; Cadence's page shows it.
        s->Send({{"type", "session.expiring"}, {"expires_at", s->identity_.expires_at},
                 {"seconds_left", kExpiryWarningS}});
      });
    }
    io_->PostAfter(lifetime_s * 1000, [weak, lifetime_s] {
      auto s = weak.lock();
      if (!s || s->closed_) return;
      s->EndSession("session_expired", "Your session hit the maximum duration of " + std::to_string(lifetime_s / 60) +
                                           " minutes (" + std::to_string(lifetime_s) +
                                           " s, --max-session-minutes); open a new session to go on.");
    });
  }
  if (limits().idle_timeout_s > 0) io_->PostAfter(limits().idle_timeout_s * 1000, [weak] {
      if (auto s = weak.lock(); s && !s->closed_) s->OnIdleCheck();
    });
}

void SessionImpl::OnIdleCheck() {
  const auto idle = std::chrono::duration_cast<std::chrono::milliseconds>(io_->Now() - last_client_event_);
  const int64_t timeout_ms = int64_t{limits().idle_timeout_s} * 1000;
  // A session that is still speaking or recognizing is not idle.
  const bool busy = response_ != nullptr || !transcribing_.empty();
  if (idle.count() >= timeout_ms && !busy) {
    EndSession("session_idle_timeout", "no client event for " + std::to_string(limits().idle_timeout_s) +
                                           " s (--idle-timeout-s); the session is closed.");
    return;
  }
  const int64_t wait_ms = busy ? timeout_ms : std::max<int64_t>(1000, timeout_ms - idle.count());
  std::weak_ptr<SessionImpl> weak = std::static_pointer_cast<SessionImpl>(shared_from_this());
  io_->PostAfter(static_cast<int>(wait_ms), [weak] {
    if (auto s = weak.lock(); s && !s->closed_) s->OnIdleCheck();
  });
}

void SessionImpl::EndSession(const std::string& code, const std::string& message) {
  if (ending_ || closed_) return;
  ending_ = true;
  SendError(ProtocolError::Invalid(code, message));
  CADENCE_LOG(kInfo, "realtime", "session end id=%s: %s", identity_.id.c_str(), code.c_str());
  CancelAllWork();
  io_->Close(code);
}

void SessionImpl::NoteLimit(const std::string& code, const std::string& detail) {
  if (!limits_logged_.insert(code).second) return;
  CADENCE_LOG(kWarn, "realtime", "limit id=%s peer=%s code=%s: %s (logged once per session)", identity_.id.c_str(),
              options_.peer.c_str(), code.c_str(), detail.c_str());
}

void SessionImpl::OnClientFrame(std::string_view frame) {
  if (closed_ || ending_) return;
  last_client_event_ = io_->Now();
  std::string client_event_id;
  ProtocolError err;
  try {
    StageScope scope(Stage::kClientEvent);
    err = Dispatch(frame, &client_event_id);
  } catch (const std::exception& ex) {
    err = ProtocolError::Server("internal_error", std::string("internal error handling the event: ") + ex.what());
    CADENCE_LOG(kError, "realtime", "id=%s internal error handling an event: %s", identity_.id.c_str(), ex.what());
  }
  if (!err.ok()) {
    err.event_id = client_event_id.empty() ? ScanClientEventId(frame) : client_event_id;
    SendError(err);
  }
}

void SessionImpl::OnClose() {
  if (closed_) return;
  closed_ = true;
  CancelAllWork();
  CADENCE_LOG(kInfo, "realtime", "session close id=%s turns=%d responses=%d", identity_.id.c_str(), turns_,
              responses_);
}

std::string SessionImpl::NewId(const char* prefix) {
  static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string id = prefix;
  id += '_';
  for (int i = 0; i < 20; ++i) id += kChars[rng_() % 62];
  return id;
}

std::string SessionImpl::NewEventId() {
  char buf[48];
  if (event_prefix_.empty()) event_prefix_ = NewId("event").substr(0, 14);
  std::snprintf(buf, sizeof(buf), "%s%06llu", event_prefix_.c_str(),
                static_cast<unsigned long long>(++event_counter_));
  return buf;
}

void SessionImpl::Send(nlohmann::json event) {
  if (closed_) return;
  StageScope scope(Stage::kEventOut);
  event["event_id"] = NewEventId();
  io_->Send(event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void SessionImpl::SendError(const ProtocolError& e) {
  // Messages quote what the client sent (an unknown type, an id): an error never grows with it.
  const std::string message = Utf8Prefix(e.message, kMaxErrorMessageBytes);
  const std::string param = Utf8Prefix(e.param, kMaxQuotedBytes);
  const std::string event_id = Utf8Prefix(e.event_id, kMaxQuotedBytes);
  nlohmann::json err = {{"type", e.type.empty() ? "invalid_request_error" : e.type},
                        {"code", e.code},
                        {"message", message},
                        {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
                        {"event_id", event_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(event_id)}};
  Send({{"type", "error"}, {"error", std::move(err)}});
  CADENCE_LOG(kInfo, "realtime", "error id=%s code=%s param=%s: %s", identity_.id.c_str(), e.code.c_str(),
              param.c_str(), message.c_str());
}

ProtocolError SessionImpl::Dispatch(std::string_view frame, std::string* client_event_id) {
  // Depth first: a parsed value is copied and printed recursively (one stack frame per level).
  if (const size_t depth = JsonNestingDepth(frame); depth > kMaxJsonDepth) {
    *client_event_id = ScanClientEventId(frame);
    NoteLimit("json_too_deep", std::to_string(depth) + " levels");
    return ProtocolError::Invalid("json_too_deep", "the event nests " + std::to_string(depth) +
                                                       " levels of arrays or objects; at most " +
                                                       std::to_string(kMaxJsonDepth) + " are accepted");
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(frame);
  } catch (const nlohmann::json::exception& ex) {  // parse errors and out-of-range numbers (1e999)
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
                                "unknown event type \"" + Utf8Prefix(type, kMaxQuotedBytes) +
                                    "\"; expected session.update, input_audio_buffer.append|commit|clear, "
                                    "conversation.item.create|truncate|delete|retrieve, response.create|cancel or "
                                    "output_audio_buffer.clear",
                                "type");
}

std::string SessionImpl::ScanClientEventId(std::string_view frame) {
  const size_t k = frame.find("\"event_id\"");
  if (k == std::string_view::npos) return {};
  size_t q = frame.find('"', frame.find(':', k + 10) + 1);
  if (q == std::string_view::npos) return {};
  size_t e = frame.find('"', q + 1);
  if (e == std::string_view::npos || e - q > 128) return {};
  return std::string(frame.substr(q + 1, e - q - 1));
}

ProtocolError SessionImpl::HandleSessionUpdate(const nlohmann::json& j) {
  auto it = j.find("session");
  if (it == j.end()) {
    return ProtocolError::Invalid("missing_required_parameter", "session.update needs a 'session' object",
                                  "session");
  }
  SessionConfig next = config_;
  VoiceResolver resolve;
  if (HasVoices()) {
    resolve = [this](std::string_view name) { return ResolveVoice(name); };
  }
  if (auto e = ApplySessionUpdate(*it, resolve, &next); !e.ok()) return e;
  if (next.instructions.size() > limits().max_instructions_bytes) {
    NoteLimit("instructions_too_large", std::to_string(next.instructions.size()) + " bytes");
    return ProtocolError::Invalid("instructions_too_large",
                                  "'session.instructions' holds " + std::to_string(next.instructions.size()) +
                                      " bytes; at most " + std::to_string(limits().max_instructions_bytes) +
                                      " are accepted (--max-instructions-kib)",
                                  "session.instructions");
  }
  if (const size_t tools_bytes = next.tools.dump().size(); tools_bytes > limits().max_tools_bytes) {
    NoteLimit("tools_too_large", std::to_string(tools_bytes) + " bytes");
    return ProtocolError::Invalid("tools_too_large",
                                  "'session.tools' takes " + std::to_string(tools_bytes) + " bytes of JSON; at most " +
                                      std::to_string(limits().max_tools_bytes) + " are accepted",
                                  "session.tools");
  }
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
      Result<std::string> id = HasVoices() ? ResolveVoice(bound) : Result<std::string>(bound);
      if (!bound.empty() && id.ok()) {
        next.voice = bound;
        next.voice_id = *id;
      }
    }
  }
  const bool input_changed = next.input_format != config_.input_format;
  const bool td_changed = next.turn_detection.type != config_.turn_detection.type;
  const bool prompt_changed = next.instructions != config_.instructions || persona != persona_;
  config_ = std::move(next);
  persona_ = std::move(persona);
  if (prompt_changed) PrepareBrain();
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

void SessionImpl::CancelAllWork() {
  if (response_) response_->cancel.Cancel();
  response_.reset();
  CancelUtterance();
  // Turns already committed are recognized only for this session: nobody will read them now.
  for (auto& [item_id, pending] : transcribing_) pending.cancel.Cancel();
  transcribing_.clear();
}

}  // namespace cadence::realtime::session_internal

namespace cadence::realtime {

std::shared_ptr<Session> Session::Create(const Engines& engines, SessionOptions options,
                                         std::shared_ptr<SessionIo> io) {
  return std::make_shared<session_internal::SessionImpl>(engines, std::move(options), std::move(io));
}

}  // namespace cadence::realtime
