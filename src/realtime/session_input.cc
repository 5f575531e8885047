// SessionImpl: input audio, server VAD turn detection, utterances fed to the recognizer and
// the paralinguistic analysis, commits and their transcripts (session_impl.h).
#include "realtime/session_impl.h"

namespace cadence::realtime::session_internal {

void SessionImpl::ConfigureInput() {
  const int rate = audio::SampleFormatRateHz(config_.input_format);
  to_16k_.emplace(rate, kRate16k);
  detector_.Configure(config_.turn_detection.threshold, config_.turn_detection.prefix_padding_ms,
                      config_.turn_detection.silence_duration_ms);
}

bool SessionImpl::VadActive() const {
  return config_.turn_detection.type != TurnDetectionType::kNone && vad_ != nullptr;
}

size_t SessionImpl::WireBytesOf16k(size_t samples) const {
  const int rate = audio::SampleFormatRateHz(config_.input_format);
  const auto bytes_per_sample = static_cast<size_t>(audio::SampleFormatBytes(config_.input_format));
  return samples * static_cast<size_t>(rate) / kRate16k * bytes_per_sample;
}

ProtocolError SessionImpl::HandleAppend(const nlohmann::json& j) {
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
    if (WireBytesOf16k(buffer_16k_.size()) + in_bytes_.size() > limits().max_input_buffer_bytes) {
      NoteLimit("input_audio_buffer_full", std::to_string(limits().max_input_buffer_bytes) + " bytes");
      return ProtocolError::Invalid(
          "input_audio_buffer_full",
          "input audio buffer is full (limit " + std::to_string(limits().max_input_buffer_bytes) +
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

void SessionImpl::ProcessInput16k(std::span<const float> chunk) {
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
    // Idle: keep only what prefix padding (and the leading-sound window) could need, trimming in
    // amortized batches.
    const int lead_ms = CueAnalyzer() != nullptr ? kLeadingSoundMs : 0;
    const size_t keep = static_cast<size_t>(config_.turn_detection.prefix_padding_ms + lead_ms + 256) * 16;
    if (buffer_16k_.size() > 2 * keep + 16000) DropBufferFront(buffer_16k_.size() - keep);
  }
}

void SessionImpl::DropBufferFront(size_t samples) {
  samples = std::min(samples, buffer_16k_.size());
  buffer_16k_.erase(buffer_16k_.begin(), buffer_16k_.begin() + static_cast<std::ptrdiff_t>(samples));
  buffer_start_ms_ += MsOf16k(static_cast<int64_t>(samples));
  // A long commit leaves megabytes of capacity behind: give them back rather than hold them for
  // the life of an idle session.
  if (buffer_16k_.capacity() > kRetainedBufferSamples && buffer_16k_.size() < buffer_16k_.capacity() / 4)
    buffer_16k_.shrink_to_fit();
}

void SessionImpl::KeepRecentAudio() {
  // The newest kHeardTurns - 1 user turns keep their audio (the new one makes kHeardTurns); older
  // ones go to the brain as their transcripts.
  int kept = 0;
  for (auto it = conversation_.items().rbegin(); it != conversation_.items().rend(); ++it) {
    if (it->content.empty() || !it->content[0].audio_16k) continue;
    if (++kept < kHeardTurns) continue;
    if (Item* item = conversation_.Find(it->id)) item->content[0].audio_16k.reset();
  }
}

void SessionImpl::BeginUtterance(int64_t start_ms) {
  utterance_.emplace();
  utterance_->item_id = NewId("item");
  utterance_->start_ms = start_ms;
  auto job = std::make_shared<UtteranceJob>();
  job->lane = SerialExecutor::Create(engines_.workers);
  job->item_id = utterance_->item_id;
  job->partials = config_.transcription.enabled && engines_.asr != nullptr;
  utterance_->job = job;
  // A brain that hears the audio needs no transcript: the recognizer runs only when the client
  // asked for transcription events.
  const bool brain_hears = engines_.brain != nullptr && engines_.brain->hears_audio();
  job->heard_only = brain_hears && !config_.transcription.enabled;
  const speech::Recognizer* asr = job->heard_only ? nullptr : engines_.asr;
  const paralinguistics::Analyzer* analyzer = CueAnalyzer();
  job->lane->Submit([job, asr, analyzer] {
    if (job->cancel.cancelled()) return;
    if (asr != nullptr) job->asr = asr->CreateStream();
    if (analyzer != nullptr) job->analysis = CreateUtteranceAnalysis(analyzer);
  });
}

void SessionImpl::FeedUtterance(std::span<const float> samples) {
  if (!utterance_ || samples.empty()) return;
  feed_pending_.insert(feed_pending_.end(), samples.begin(), samples.end());
  if (feed_pending_.size() >= kFeedBatchSamples) FlushFeed();
}

void SessionImpl::FlushFeed() {
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

void SessionImpl::CancelUtterance() {
  feed_pending_.clear();
  if (!utterance_) return;
  utterance_->job->cancel.Cancel();
  utterance_.reset();
}

const paralinguistics::Analyzer* SessionImpl::CueAnalyzer() const {
  return config_.paralinguistics ? engines_.analyzer : nullptr;
}

void SessionImpl::OnSpeechStarted(int64_t audio_start_ms) {
  ++turns_;
  // The item's audio begins at the padded start; older audio is dropped from the buffer. Up to
  // kLeadingSoundMs of it (all after the previous turn) is read for sounds that opened no turn.
  std::vector<float> lead;
  if (audio_start_ms > buffer_start_ms_) {
    const size_t before = std::min(buffer_16k_.size(), static_cast<size_t>(audio_start_ms - buffer_start_ms_) * 16);
    const size_t take = std::min(before, static_cast<size_t>(kLeadingSoundMs) * 16);
    // Under 0.3 s there is no room for an event (a cough alone lasts ~0.3 s).
    if (CueAnalyzer() != nullptr && take >= static_cast<size_t>(kRate16k * 3 / 10)) {
      lead.assign(buffer_16k_.begin() + static_cast<std::ptrdiff_t>(before - take),
                  buffer_16k_.begin() + static_cast<std::ptrdiff_t>(before));
    }
    DropBufferFront(before);
  }
  CancelUtterance();
  BeginUtterance(buffer_start_ms_);
  AnalyzeLeadingSound(std::move(lead));
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

void SessionImpl::AnalyzeLeadingSound(std::vector<float> lead) {
  const paralinguistics::Analyzer* analyzer = CueAnalyzer();
  if (lead.empty() || !utterance_ || analyzer == nullptr) return;
  auto job = utterance_->job;
  job->lane->Submit([job, analyzer, lead = std::move(lead)] {
    if (job->cancel.cancelled()) return;
    StageScope scope(Stage::kAnalysis);
    std::unique_ptr<UtteranceAnalysis> analysis = CreateUtteranceAnalysis(analyzer);
    analysis->Accept(lead);
    const double lead_s = static_cast<double>(lead.size()) / kRate16k;
    for (paralinguistics::NonverbalEvent e : analysis->Finish().events) {
      e.start_s -= lead_s;
      e.end_s -= lead_s;
      job->leading_events.push_back(std::move(e));
    }
  });
}

void SessionImpl::OnSpeechPaused() {
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

void SessionImpl::OnSpeechStopped(int64_t audio_end_ms) {
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

void SessionImpl::CommitUtterance(size_t samples) {
  if (!utterance_) BeginUtterance(buffer_start_ms_);
  FlushFeed();
  Utterance u = std::move(*utterance_);
  utterance_.reset();
  const double audio_s = static_cast<double>(samples) / kRate16k;
  std::shared_ptr<const std::vector<float>> heard;
  if (engines_.brain != nullptr && engines_.brain->hears_audio()) {
    const size_t n = std::min(samples, buffer_16k_.size());
    heard = std::make_shared<const std::vector<float>>(buffer_16k_.begin(),
                                                       buffer_16k_.begin() + static_cast<std::ptrdiff_t>(n));
    KeepRecentAudio();
  }
  DropBufferFront(samples);
  Item item;
  item.id = u.item_id;
  item.role = "user";
  ContentPart part;
  part.type = ContentPart::Type::kInputAudio;
  part.transcript_known = false;
  part.audio_ms = static_cast<int64_t>(audio_s * 1000);
  part.audio_16k = std::move(heard);
  item.content.push_back(part);
  std::string previous;
  (void)InsertItem(item, "", &previous);
  const nlohmann::json prev = previous.empty() ? nlohmann::json(nullptr) : nlohmann::json(previous);
  Send({{"type", "input_audio_buffer.committed"}, {"previous_item_id", prev}, {"item_id", item.id}});
  Send({{"type", options_.beta ? "conversation.item.created" : "conversation.item.added"},
        {"previous_item_id", prev},
        {"item", ItemToJson(item, options_.beta)}});
  auto job = u.job;
  transcribing_[item.id] = PendingTranscript{job->cancel, audio_s};
  Backchannel back = Back();
  const std::string item_id = item.id;
  job->lane->Submit([job, back, item_id, audio_s, at_pause = u.paused, submitted = Clock::now()] {
    RecordQueueWait(Stage::kAsrFinish, submitted);
    // The session closed (or the turn was abandoned with it): its recognizer stream, and the
    // decoder it holds, go back to the pool without decoding for nobody.
    if (job->cancel.cancelled()) return;
    Result<speech::Transcript> result = job->heard_only ? Result<speech::Transcript>(speech::Transcript{})
                                                        : Status::Unavailable("no speech recognizer is configured");
    std::optional<paralinguistics::UtteranceCues> cues;
    try {
      if (job->asr) {
        StageScope scope(Stage::kAsrFinish);
        result = at_pause ? job->asr->FinishAtPause() : job->asr->Finish();
      }
      if (job->analysis) {
        StageScope scope(Stage::kAnalysis);
        cues = job->analysis->Finish();
        cues->leading_events = std::move(job->leading_events);
      }
    } catch (const std::exception& e) {
      result = Status::Internal(std::string("recognition failed: ") + e.what());
      cues.reset();
    }
    // Released here, on the lane, not whenever the last reference to the job goes.
    job->asr.reset();
    job->analysis.reset();
    std::string last_delta = result.ok() ? job->deltas.Final(result->text) : std::string();
    back.Post([item_id, result = std::move(result), last_delta = std::move(last_delta), audio_s,
               cues = std::move(cues)](SessionImpl& s) mutable {
      s.OnTranscript(item_id, std::move(result), std::move(last_delta), audio_s, std::move(cues));
    });
  });
}

double SessionImpl::PendingAudioS() const {
  double total = 0;
  for (const auto& [id, pending] : transcribing_) total += pending.audio_s;
  return total;
}

ProtocolError SessionImpl::HandleCommit() {
  const int64_t ms = MsOf16k(static_cast<int64_t>(buffer_16k_.size()));
  if (ms < kMinCommitMs) {
    return ProtocolError::Invalid("input_audio_buffer_commit_empty",
                                  "buffer too small: expected at least " + std::to_string(kMinCommitMs) +
                                      " ms of audio, have " + std::to_string(ms) + " ms",
                                  "");
  }
  // Recognition backlog: a commit waits for earlier ones, so one session cannot queue hours of
  // work. One commit is always accepted when nothing is pending. The buffer stays as it is.
  if (static_cast<int>(transcribing_.size()) >= limits().max_pending_transcriptions) {
    NoteLimit("too_many_pending_transcriptions", std::to_string(transcribing_.size()) + " pending");
    return ProtocolError::Invalid("too_many_pending_transcriptions",
                                  std::to_string(transcribing_.size()) +
                                      " committed turns are still being transcribed (at most " +
                                      std::to_string(limits().max_pending_transcriptions) +
                                      "); wait for their transcription events, then commit again");
  }
  const double pending_s = PendingAudioS();
  if (!transcribing_.empty() && pending_s + static_cast<double>(ms) / 1000.0 > limits().max_pending_audio_s) {
    NoteLimit("recognition_backlog_full", std::to_string(pending_s) + " s pending");
    char text[200];
    std::snprintf(text, sizeof text,
                  "%.1f s of committed audio is still being recognized; with this buffer (%.1f s) it would pass "
                  "the limit of %.0f s: wait for the pending transcripts, then commit again",
                  pending_s, static_cast<double>(ms) / 1000.0, limits().max_pending_audio_s);
    return ProtocolError::Invalid("recognition_backlog_full", text);
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

ProtocolError SessionImpl::HandleClear() {
  CancelUtterance();
  DropBufferFront(buffer_16k_.size());
  if (VadActive()) {
    detector_.Reset(MsOf16k(total_16k_));
    vad_->Reset();
  }
  Send({{"type", "input_audio_buffer.cleared"}});
  return {};
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

void SessionImpl::SendCues(const std::string& item_id, const paralinguistics::UtteranceCues& cues) {
  if (closed_) return;
  // Built around the analyzer's own serialisation (its stable, ordered shape), printed once.
  std::string frame = R"({"type":"conversation.item.input_audio_paralinguistics.completed","event_id":")";
  frame += NewEventId();
  frame += R"(","item_id":")";
  frame += item_id;  // a server-made id: nothing to escape
  frame += R"(","cues":)";
  frame += paralinguistics::CuesToJson(cues, false);
  frame += '}';
  io_->Send(std::move(frame));
}

void SessionImpl::OnTranscript(const std::string& item_id, Result<speech::Transcript> result,
                               std::string last_delta, double audio_s,
                               std::optional<paralinguistics::UtteranceCues> cues) {
  transcribing_.erase(item_id);
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
    SendCues(item_id, *cues);
  }
  if (!options_.beta && item != nullptr) {
    Send({{"type", "conversation.item.done"}, {"item", ItemToJson(*item, options_.beta)}});
  }
  if (transcribing_.empty()) StartResponseCompute();
}

}  // namespace cadence::realtime::session_internal
