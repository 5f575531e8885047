// SessionImpl: responses — parameters, the brain on a worker, sentences through the TTS lane,
// audio deltas, cancellation and response.done (session_impl.h).
#include "realtime/session_impl.h"

namespace cadence::realtime::session_internal {

namespace {

// `response.metadata` as OpenAI defines it: at most 16 pairs, keys of at most 64 characters,
// string values of at most 512.
ProtocolError CheckMetadata(const nlohmann::json& metadata) {
  const std::string param = "response.metadata";
  if (!metadata.is_object()) return ProtocolError::Invalid("invalid_type", "'" + param + "' must be an object", param);
  if (metadata.size() > 16)
    return ProtocolError::Invalid("invalid_value", "'" + param + "' holds at most 16 key-value pairs", param);
  for (const auto& [key, value] : metadata.items()) {
    if (key.size() > 64)
      return ProtocolError::Invalid("invalid_value", "'" + param + "' keys are at most 64 characters", param);
    if (!value.is_string() || value.get_ref<const std::string&>().size() > 512)
      return ProtocolError::Invalid("invalid_value", "'" + param + "' values are strings of at most 512 characters",
                                    Path(param, Utf8Prefix(key, kMaxQuotedBytes)));
  }
  return {};
}

}  // namespace

ProtocolError SessionImpl::ParseResponseParams(const nlohmann::json& r, ResponseParams* p) {
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
    if (s.size() > limits().max_instructions_bytes) {
      NoteLimit("instructions_too_large", std::to_string(s.size()) + " bytes");
      return ProtocolError::Invalid("instructions_too_large",
                                    "'response.instructions' holds " + std::to_string(s.size()) + " bytes; at most " +
                                        std::to_string(limits().max_instructions_bytes) + " are accepted",
                                    "response.instructions");
    }
    p->instructions = s;
  }
  auto voice_of = [&](const nlohmann::json& v, const std::string& param) -> ProtocolError {
    if (!v.is_string()) return ProtocolError::Invalid("invalid_type", "'" + param + "' must be a voice name", param);
    const std::string name = v.get<std::string>();
    if (HasVoices()) {
      Result<std::string> id = ResolveVoice(name);
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
  if (auto it = r.find("metadata"); it != r.end() && !it->is_null()) {
    if (auto e = CheckMetadata(*it); !e.ok()) return e;
    p->metadata = *it;
  }
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

ProtocolError SessionImpl::HandleResponseCreate(const nlohmann::json& j) {
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

ProtocolError SessionImpl::HandleResponseCancel(const nlohmann::json& j) {
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

ProtocolError SessionImpl::HandleOutputAudioClear() {
  std::string id;
  if (response_) {
    id = response_->id;
    CancelResponse("client_cancelled");
  }
  Send({{"type", "output_audio_buffer.cleared"},
        {"response_id", id.empty() ? nlohmann::json(nullptr) : nlohmann::json(id)}});
  return {};
}

nlohmann::json SessionImpl::ResponseJson(const Response& r, const std::string& status,
                                         const nlohmann::json& status_details, bool with_output, bool with_usage) {
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

Item SessionImpl::AssistantItem(const Response& r, const std::string& status) {
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

nlohmann::json SessionImpl::AssistantItemJson(const Response& r) {
  return ItemToJson(AssistantItem(r, r.item_status), options_.beta);
}

nlohmann::json SessionImpl::PartJson(const Response& r) {
  if (r.audio) return {{"type", "audio"}, {"transcript", r.transcript}};
  return {{"type", "text"}, {"text", r.text}};
}

void SessionImpl::StartResponse(ResponseParams params, std::optional<Clock::time_point> turn_end) {
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
  Response& resp = *response_;
  Send({{"type", "response.created"},
        {"response", ResponseJson(resp, "in_progress", nullptr, false, false)}});
  std::string previous;
  if (resp.in_conversation) (void)InsertItem(AssistantItem(resp, "in_progress"), "", &previous);
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
  if (transcribing_.empty()) StartResponseCompute();
}

std::vector<brain::Message> SessionImpl::History(const Response& r) {
  return HistoryOf(r.input ? *r.input : conversation_.items(), r.item_id);
}

std::vector<brain::Message> SessionImpl::HistoryOf(const std::vector<Item>& items, const std::string& skip_id) {
  std::vector<brain::Message> history;
  for (const Item& item : items) {
    if (item.id == skip_id) continue;
    std::string text = ItemText(item);
    std::shared_ptr<const std::vector<float>> audio;
    if (!item.content.empty() && item.role == "user") audio = item.content[0].audio_16k;
    if (text.empty() && !audio) continue;
    brain::Message m;
    m.audio_16k = std::move(audio);
    m.role = item.role == "assistant" ? brain::Message::Role::kAssistant
             : item.role == "system"  ? brain::Message::Role::kSystem
                                      : brain::Message::Role::kUser;
    m.text = std::move(text);
    history.push_back(std::move(m));
  }
  return history;
}

void SessionImpl::PrepareBrain() {
  if (engines_.brain == nullptr) return;
  brain::ReplyRequest request;
  request.instructions = config_.instructions;
  request.history = HistoryOf(conversation_.items(), "");
  request.language = config_.transcription.language;
  ThreadPool* pool = engines_.brain_workers != nullptr  ? engines_.brain_workers
                     : engines_.reply_workers != nullptr ? engines_.reply_workers
                                                         : engines_.workers;
  auto prepare = [brain = engines_.brain, persona = persona_, request = std::move(request)]() mutable {
    request.persona = persona.get();
    brain->Prepare(request);
  };
  if (pool != nullptr) {
    pool->Submit(std::move(prepare));
  } else {
    prepare();
  }
}

bool SessionImpl::SpeakingBrain() const {
  return engines_.brain != nullptr && engines_.brain->speaks() && engines_.token_voices != nullptr;
}

bool SessionImpl::HasVoices() const { return SpeakingBrain() || engines_.tts != nullptr; }

Result<std::string> SessionImpl::ResolveVoice(std::string_view name) const {
  if (SpeakingBrain()) return engines_.token_voices->ResolveVoice(name);
  if (engines_.tts != nullptr) return engines_.tts->ResolveVoice(name);
  return std::string(name);
}

void SessionImpl::StartResponseCompute() {
  if (!response_ || response_->compute_started) return;
  Response& r = *response_;
  r.compute_started = true;
  if (engines_.brain == nullptr) {
    FinishResponse("failed", Status::Unavailable("no brain is configured on this server"));
    return;
  }
  auto work = std::make_shared<ResponseWork>();
  work->response_id = r.id;
  work->audio = r.audio && (engines_.tts != nullptr || SpeakingBrain());
  work->format = r.format;
  work->cancel = r.cancel;
  work->brain = engines_.brain;
  work->tts = engines_.tts;
  if (SpeakingBrain()) {
    work->token_voices = engines_.token_voices;
    r.brain_speech_tokens = work->brain_speech_tokens = std::make_shared<std::atomic<int64_t>>(0);
  }
  work->back = Back();
  ThreadPool* reply_pool = engines_.reply_workers != nullptr ? engines_.reply_workers : engines_.workers;
  ThreadPool* brain_pool = engines_.brain_workers != nullptr ? engines_.brain_workers : reply_pool;
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
  if (r.audio && !work->audio) {
    CADENCE_LOG(kWarn, "realtime", "response id=%s wants audio but no synthesizer is configured; text only",
                r.id.c_str());
  }
  auto run = [work, submitted = Clock::now()] {
    RecordQueueWait(Stage::kBrain, submitted);
    StageScope scope(Stage::kBrain);
    try {
      RunBrain(work);
    } catch (const std::exception& e) {
      // The response fails; the session and every other one go on.
      CADENCE_LOG(kError, "realtime", "response id=%s: the brain threw: %s", work->response_id.c_str(), e.what());
      work->lane->Submit([work, status = Status::Internal(std::string("the brain failed: ") + e.what())] {
        FinishAudio(work, status);
      });
    }
  };
  if (brain_pool != nullptr) {
    brain_pool->Submit(std::move(run));
  } else {
    run();
  }
}

void SessionImpl::RunBrain(const std::shared_ptr<ResponseWork>& work) {
  if (work->audio && work->token_voices != nullptr) {
    RunSpeakingBrain(work);
    return;
  }
  // The first piece ends at its first comma, so first audio does not wait for a long sentence.
  speech::SentenceSplitter splitter({.max_bytes = 200, .cut_first_clause = true});
  std::vector<std::string> sentences;
  auto dispatch = [&](std::vector<std::string>* list) {
    for (std::string& s : *list) {
      if (work->audio) {
        work->lane->Submit([work, s = std::move(s), submitted = Clock::now()] {
          RecordQueueWait(Stage::kTts, submitted);
          StageScope scope(Stage::kTts);
          try {
            SynthesizeSentence(work, s);
          } catch (const std::exception& e) {
            work->synth_status = Status::Internal(std::string("speech synthesis failed: ") + e.what());
          }
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

void SessionImpl::RunSpeakingBrain(const std::shared_ptr<ResponseWork>& work) {
  // The text goes out as the transcript a sentence at a time; the speech tokens are rendered on the
  // reply lane while the brain goes on.
  speech::SentenceSplitter splitter({.max_bytes = 200, .cut_first_clause = true});
  std::vector<std::string> sentences;
  bool sentence_open = false;
  auto post_sentences = [&] {
    for (std::string& s : sentences) {
      std::string spoken = SpokenText(s);
      work->back.Post([id = work->response_id, spoken = std::move(spoken), close = sentence_open](SessionImpl& session) {
        if (close) session.OnResponseSentenceEnd(id);
        session.OnResponseSentenceStart(id, spoken);
      });
      sentence_open = true;
    }
    sentences.clear();
  };
  Status status = work->brain->ReplySpoken(
      work->request, work->cancel,
      [&](std::string_view text) {
        if (work->cancel.cancelled()) return false;
        splitter.Push(text, &sentences);
        post_sentences();
        return !work->cancel.cancelled();
      },
      [&](std::span<const int> tokens) {
        if (work->cancel.cancelled()) return false;
        work->brain_speech_tokens->fetch_add(static_cast<int64_t>(tokens.size()));
        work->lane->Submit([work, tokens = std::vector<int>(tokens.begin(), tokens.end()), submitted = Clock::now()] {
          RecordQueueWait(Stage::kTts, submitted);
          StageScope scope(Stage::kTts);
          SpeakTokens(work, tokens);
        });
        return !work->cancel.cancelled();
      },
      [&](std::string_view thinking) {
        if (work->cancel.cancelled()) return false;
        work->back.Post([id = work->response_id, delta = std::string(thinking)](SessionImpl& s) {
          s.OnResponseThinking(id, delta);
        });
        return !work->cancel.cancelled();
      });
  splitter.Flush(&sentences);
  if (!work->cancel.cancelled()) post_sentences();
  work->lane->Submit([work, status, sentence_open] {
    if (work->speaker && !work->cancel.cancelled() && work->synth_status.ok()) {
      StageScope scope(Stage::kTts);
      Status st = work->speaker->Finish();
      if (!st.ok()) work->synth_status = st;
    }
    FlushAudio(work);
    if (sentence_open) work->back.Post([id = work->response_id](SessionImpl& s) { s.OnResponseSentenceEnd(id); });
    FinishAudio(work, status);
  });
}

void SessionImpl::SpeakTokens(const std::shared_ptr<ResponseWork>& work, const std::vector<int>& tokens) {
  if (work->cancel.cancelled() || !work->synth_status.ok()) return;
  try {
    if (!work->speaker) {
      auto speaker = work->token_voices->Start(work->synth.voice, [work](std::span<const float> samples_24k) {
        if (work->cancel.cancelled()) return false;
        DeliverAudio(work, samples_24k);
        return !work->cancel.cancelled();
      });
      if (!speaker.ok()) {
        work->synth_status = speaker.status();
        return;
      }
      work->speaker = std::move(speaker).value();
    }
    auto pushed = work->speaker->Push(tokens);
    if (!pushed.ok()) work->synth_status = pushed.status();
  } catch (const std::exception& e) {
    work->synth_status = Status::Internal(std::string("speech rendering failed: ") + e.what());
  }
}

void SessionImpl::DeliverAudio(const std::shared_ptr<ResponseWork>& work, std::span<const float> samples_24k) {
  StageScope scope(Stage::kAudioOut);
  const int wire_rate = audio::SampleFormatRateHz(work->format);
  if (wire_rate != kTtsRate && !work->to_wire) work->to_wire.emplace(kTtsRate, wire_rate);
  const size_t chunk_bytes = static_cast<size_t>(wire_rate * kAudioChunkMs / 1000 *
                                                 audio::SampleFormatBytes(work->format));
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
}

void SessionImpl::FlushAudio(const std::shared_ptr<ResponseWork>& work) {
  if (!work->pending.empty() && !work->cancel.cancelled()) {
    StageScope scope(Stage::kAudioOut);
    SendPending(work, work->pending.size());
  }
}

void SessionImpl::SynthesizeSentence(const std::shared_ptr<ResponseWork>& work, const std::string& sentence) {
  if (work->cancel.cancelled()) return;
  const std::string spoken = SpokenText(sentence);
  work->back.Post([id = work->response_id, spoken](SessionImpl& s) { s.OnResponseSentenceStart(id, spoken); });
  speech::SynthesisRequest req = work->synth;
  req.text = sentence;
  Status st = work->tts->Synthesize(req, work->cancel, [&](std::span<const float> samples_24k) {
    if (work->cancel.cancelled()) return false;
    DeliverAudio(work, samples_24k);
    return !work->cancel.cancelled();
  });
  FlushAudio(work);
  if (!st.ok() && st.code() != StatusCode::kCancelled) {
    CADENCE_LOG(kWarn, "realtime", "response id=%s synthesis failed: %s", work->response_id.c_str(),
                st.ToString().c_str());
    work->synth_status = st;
  }
  work->back.Post([id = work->response_id](SessionImpl& s) { s.OnResponseSentenceEnd(id); });
}

void SessionImpl::SendPending(const std::shared_ptr<ResponseWork>& work, size_t bytes) {
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

void SessionImpl::FinishAudio(const std::shared_ptr<ResponseWork>& work, Status status) {
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

void SessionImpl::CancelResponse(const char* reason) {
  if (!response_) return;
  response_->cancel.Cancel();
  response_->cancel_reason = reason;
  response_->held.clear();  // never sent, so never heard: the item keeps only what was
  FinishResponse("cancelled", Status::Cancelled(reason));
}

void SessionImpl::FinishResponse(const std::string& status, const Status& why) {
  if (!response_) return;
  std::unique_ptr<Response> owned = std::move(response_);
  Response& r = *owned;
  nlohmann::json details = nullptr;
  if (status == "cancelled") {
    details = {{"type", "cancelled"}, {"reason", r.cancel_reason}};
    // What was sent is what the item holds: cut the transcript to the audio already delivered.
    if (r.audio) {
      sentence_marks_[r.item_id] = r.marks;
      // A speaking brain's text runs ahead of its audio: the sentence still open at the cut runs
      // to where the brain's speech has got (40 ms a token), not just to the audio sent.
      int64_t total_ms = r.audio_ms();
      if (r.brain_speech_tokens) total_ms = std::max(total_ms, r.brain_speech_tokens->load() * 40);
      r.transcript = TruncateTranscript(r.item_id, r.transcript, total_ms, r.audio_ms());
    }
  } else if (status == "failed") {
    details = {{"type", "failed"},
               {"error", {{"type", "server_error"}, {"code", std::string(StatusCodeName(why.code()))},
                          {"message", why.message()}}}};
  }
  r.item_status = status == "completed" ? "completed" : "incomplete";
  Item final_item = AssistantItem(r, r.item_status);
  if (r.in_conversation) {
    if (Item* stored = conversation_.Find(r.item_id)) *stored = final_item;
  }
  if (r.audio) sentence_marks_[r.item_id] = r.marks;
  const nlohmann::json part = PartJson(r);
  if (!r.thinking.empty()) {
    Send({{"type", "response.thinking.done"}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
          {"text", r.thinking}});
  }
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
  // While the user answers, the brain may evaluate the conversation so far.
  if (r.in_conversation && status != "failed") PrepareBrain();
  CADENCE_LOG(kInfo, "realtime",
              "response done id=%s resp=%s status=%s%s%s audio_ms=%lld deltas=%d total_ms=%.0f first_audio_ms=%.1f",
              identity_.id.c_str(), r.id.c_str(), status.c_str(), why.ok() ? "" : " why=",
              why.ok() ? "" : why.message().c_str(), static_cast<long long>(r.audio_ms()), r.audio_deltas,
              MsSince(r.created), r.first_audio_ms);
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

void SessionImpl::OnResponseThinking(const std::string& response_id, const std::string& delta) {
  if (!IsActive(response_id) || delta.empty()) return;
  Response& r = *response_;
  r.thinking += delta;
  Send({{"type", "response.thinking.delta"}, {"response_id", r.id}, {"item_id", r.item_id}, {"output_index", 0},
        {"delta", delta}});
}

void SessionImpl::OnResponseSentenceStart(const std::string& response_id, const std::string& spoken) {
  if (!IsActive(response_id)) return;
  Response& r = *response_;
  SentenceMark mark;
  mark.transcript_begin = r.transcript.size();
  mark.audio_begin_ms = r.produced_ms();
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
  r.produced_samples_24k += samples_24k;
  r.held.push_back(HeldAudio{std::move(b64), samples_24k});
  PumpAudio();
}

void SessionImpl::PumpAudio() {
  if (!response_ || closed_) return;
  Response& r = *response_;
  const auto now = io_->Now();
  const double lead_ms = limits().audio_lead_s * 1000.0;
  while (!r.held.empty()) {
    if (!r.audio_epoch) r.audio_epoch = now;
    // A listener plays in real time from the first delta on; more than the lead ahead of that
    // waits, so a slow reader holds a few seconds of audio, not the whole reply.
    const double played_ms = std::chrono::duration<double, std::milli>(now - *r.audio_epoch).count();
    const double ahead_ms = static_cast<double>(r.audio_ms()) - played_ms;
    if (ahead_ms >= lead_ms) {
      if (!r.pump_scheduled) {
        r.pump_scheduled = true;
        std::weak_ptr<SessionImpl> weak = std::static_pointer_cast<SessionImpl>(shared_from_this());
        const int wait_ms = std::max(10, static_cast<int>(ahead_ms - lead_ms) + 1);
        io_->PostAfter(wait_ms, [weak, id = r.id] {
          auto s = weak.lock();
          if (!s || !s->IsActive(id)) return;
          s->response_->pump_scheduled = false;
          s->PumpAudio();
        });
      }
      return;
    }
    HeldAudio chunk = std::move(r.held.front());
    r.held.pop_front();
    SendAudioDelta(r, chunk.b64, chunk.samples_24k);
  }
  if (r.finished) {
    const Status status = *r.finished;
    OnResponseFinished(r.id, status);
  }
}

void SessionImpl::SendAudioDelta(Response& r, const std::string& b64, int64_t samples_24k) {
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
  if (!r.marks.empty()) r.marks.back().audio_end_ms = r.produced_ms();
}

void SessionImpl::OnResponseFinished(const std::string& response_id, Status status) {
  if (!IsActive(response_id)) return;
  if (!response_->held.empty()) {
    response_->finished = status;  // PumpAudio finishes it once the held audio is out
    return;
  }
  if (status.ok()) {
    FinishResponse("completed", status);
  } else if (status.code() == StatusCode::kCancelled) {
    response_->cancel_reason = "client_cancelled";
    FinishResponse("cancelled", status);
  } else {
    FinishResponse("failed", status);
  }
}

}  // namespace cadence::realtime::session_internal
