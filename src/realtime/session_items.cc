// SessionImpl: conversation.item.create / truncate / delete / retrieve (session_impl.h).
#include "realtime/session_impl.h"

namespace cadence::realtime::session_internal {

ProtocolError SessionImpl::HandleItemCreate(const nlohmann::json& j) {
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
  if (const size_t bytes = ItemBytes(item); bytes > limits().max_history_bytes) {
    NoteLimit("item_too_large", std::to_string(bytes) + " bytes");
    return ProtocolError::Invalid("item_too_large",
                                  "the item holds " + std::to_string(bytes) + " bytes of text; the conversation keeps " +
                                      "at most " + std::to_string(limits().max_history_bytes) +
                                      " bytes in all (--max-history-kib)",
                                  "item");
  }
  std::string actual_previous;
  if (auto e = InsertItem(item, previous_id, &actual_previous); !e.ok()) return e;
  if (item.role == "user") last_cues_.reset();
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

ProtocolError SessionImpl::InsertItem(const Item& item, const std::string& previous_id,
                                      std::string* actual_previous) {
  if (auto e = conversation_.Insert(item, previous_id, actual_previous); !e.ok()) return e;
  // The oldest items go first, as with OpenAI's truncation; their sentence marks go with them.
  for (const std::string& dropped : conversation_.Trim(limits().max_history_items, limits().max_history_bytes))
    sentence_marks_.erase(dropped);
  return {};
}

ProtocolError SessionImpl::HandleItemTruncate(const nlohmann::json& j) {
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

ProtocolError SessionImpl::HandleItemDelete(const nlohmann::json& j) {
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

ProtocolError SessionImpl::HandleItemRetrieve(const nlohmann::json& j) {
  std::string item_id;
  if (auto e = RequireString(j, "item_id", "", &item_id); !e.ok()) return e;
  const Item* item = conversation_.Find(item_id);
  if (item == nullptr) {
    return ProtocolError::Invalid("item_not_found", "no conversation item with id '" + item_id + "'", "item_id");
  }
  Send({{"type", "conversation.item.retrieved"}, {"item", ItemToJson(*item, options_.beta)}});
  return {};
}

std::string SessionImpl::TruncateTranscript(const std::string& item_id, const std::string& transcript,
                                            int64_t total_ms, int64_t audio_end_ms) {
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

std::string SessionImpl::CutWords(const std::string& text, double fraction) {
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

}  // namespace cadence::realtime::session_internal
