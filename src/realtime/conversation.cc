#include "realtime/conversation.h"

#include <algorithm>

#include "realtime/json_fields.h"

namespace cadence::realtime {

Json ContentPartJson(const ContentPart& part, bool beta) {
  switch (part.type) {
    case ContentPart::Type::kInputText:
      return {{"type", "input_text"}, {"text", part.text}};
    case ContentPart::Type::kInputAudio:
      return {{"type", "input_audio"},
              {"transcript", part.transcript_known ? Json(part.transcript) : Json(nullptr)}};
    case ContentPart::Type::kOutputText:
      return {{"type", beta ? "text" : "output_text"}, {"text", part.text}};
    case ContentPart::Type::kOutputAudio:
      return {{"type", beta ? "audio" : "output_audio"}, {"transcript", part.transcript}};
  }
  return nullptr;
}

Json ItemToJson(const Item& item, bool beta) {
  Json j = {{"id", item.id}, {"object", "realtime.item"}, {"type", item.type}, {"status", item.status}};
  if (item.type == "message") {
    j["role"] = item.role;
    Json content = Json::array();
    for (const auto& part : item.content) content.push_back(ContentPartJson(part, beta));
    j["content"] = std::move(content);
  } else if (item.type == "function_call") {
    j["call_id"] = item.call_id;
    j["name"] = item.name;
    j["arguments"] = item.arguments;
  } else {
    j["call_id"] = item.call_id;
    j["output"] = item.output;
  }
  return j;
}

ProtocolError ParseItem(const Json& value, const std::string& param, Item* out) {
  if (!value.is_object()) {
    return ProtocolError::Invalid("invalid_type", "'" + param + "' must be an object", param);
  }
  Item item;
  if (auto e = GetString(value, "id", param, &item.id); !e.ok()) return e;
  if (item.id.size() > 64) {
    return ProtocolError::Invalid("invalid_value", "'" + param + ".id' must be at most 64 characters",
                                  Path(param, "id"));
  }
  if (auto e = GetString(value, "type", param, &item.type); !e.ok()) return e;
  if (item.type == "function_call") {
    if (auto e = RequireString(value, "call_id", param, &item.call_id); !e.ok()) return e;
    if (auto e = RequireString(value, "name", param, &item.name); !e.ok()) return e;
    if (auto e = GetString(value, "arguments", param, &item.arguments); !e.ok()) return e;
    *out = std::move(item);
    return {};
  }
  if (item.type == "function_call_output") {
    if (auto e = RequireString(value, "call_id", param, &item.call_id); !e.ok()) return e;
    if (auto e = RequireString(value, "output", param, &item.output, true); !e.ok()) return e;
    *out = std::move(item);
    return {};
  }
  if (item.type != "message") {
    return ProtocolError::Invalid("invalid_value",
                                  "'" + param + ".type' must be message, function_call or function_call_output, got \"" +
                                      item.type + "\"",
                                  Path(param, "type"));
  }
  if (auto e = RequireString(value, "role", param, &item.role); !e.ok()) return e;
  if (item.role != "user" && item.role != "assistant" && item.role != "system") {
    return ProtocolError::Invalid("invalid_value",
                                  "'" + param + ".role' must be user, assistant or system, got \"" + item.role + "\"",
                                  Path(param, "role"));
  }
  auto content = value.find("content");
  if (content == value.end() || !content->is_array()) {
    return ProtocolError::Invalid(content == value.end() ? "missing_required_parameter" : "invalid_type",
                                  "'" + param + ".content' must be an array of content parts",
                                  Path(param, "content"));
  }
  for (size_t i = 0; i < content->size(); ++i) {
    const Json& c = (*content)[i];
    const std::string cp = param + ".content[" + std::to_string(i) + "]";
    if (!c.is_object()) return ProtocolError::Invalid("invalid_type", "'" + cp + "' must be an object", cp);
    std::string type;
    if (auto e = RequireString(c, "type", cp, &type); !e.ok()) return e;
    ContentPart part;
    if (type == "input_text" || type == "text" || type == "output_text") {
      part.type = item.role == "assistant" ? ContentPart::Type::kOutputText : ContentPart::Type::kInputText;
      if (auto e = RequireString(c, "text", cp, &part.text, true); !e.ok()) return e;
    } else if (type == "input_audio" || type == "audio" || type == "output_audio") {
      part.type = item.role == "assistant" ? ContentPart::Type::kOutputAudio : ContentPart::Type::kInputAudio;
      if (auto e = GetString(c, "transcript", cp, &part.transcript); !e.ok()) return e;
      // Audio bytes in an item are accepted for compatibility but only the transcript is used.
      if (auto a = c.find("audio"); a != c.end() && !a->is_null() && !a->is_string()) {
        return ProtocolError::Invalid("invalid_type", "'" + cp + ".audio' must be a base64 string", cp + ".audio");
      }
    } else {
      return ProtocolError::Invalid("invalid_value",
                                    "'" + cp + ".type' must be input_text, input_audio, text, audio, output_text or "
                                    "output_audio, got \"" + type + "\"",
                                    cp + ".type");
    }
    if ((item.role == "system") && part.type != ContentPart::Type::kInputText) {
      return ProtocolError::Invalid("invalid_value", "system messages hold only input_text content", cp + ".type");
    }
    item.content.push_back(std::move(part));
  }
  item.status = "completed";
  *out = std::move(item);
  return {};
}

std::string ItemText(const Item& item) {
  if (item.type == "function_call") return item.name + "(" + item.arguments + ")";
  if (item.type == "function_call_output") return item.output;
  std::string text;
  for (const auto& part : item.content) {
    const std::string& t =
        (part.type == ContentPart::Type::kInputText || part.type == ContentPart::Type::kOutputText) ? part.text
                                                                                                    : part.transcript;
    if (t.empty()) continue;
    if (!text.empty()) text += ' ';
    text += t;
  }
  return text;
}

ProtocolError Conversation::Insert(Item item, const std::string& previous_item_id, std::string* actual_previous) {
  if (Find(item.id) != nullptr) {
    return ProtocolError::Invalid("item_already_exists", "an item with id '" + item.id + "' already exists",
                                  "item.id");
  }
  size_t pos = items_.size();
  if (previous_item_id == "root") {
    pos = 0;
  } else if (!previous_item_id.empty()) {
    auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.id == previous_item_id; });
    if (it == items_.end()) {
      return ProtocolError::Invalid("item_not_found",
                                    "previous_item_id '" + previous_item_id + "' is not in the conversation",
                                    "previous_item_id");
    }
    pos = static_cast<size_t>(it - items_.begin()) + 1;
  }
  if (actual_previous) *actual_previous = pos == 0 ? std::string() : items_[pos - 1].id;
  items_.insert(items_.begin() + static_cast<std::ptrdiff_t>(pos), std::move(item));
  return {};
}

Item* Conversation::Find(const std::string& id) {
  for (auto& item : items_) {
    if (item.id == id) return &item;
  }
  return nullptr;
}

bool Conversation::Delete(const std::string& id) {
  auto it = std::find_if(items_.begin(), items_.end(), [&](const Item& i) { return i.id == id; });
  if (it == items_.end()) return false;
  items_.erase(it);
  return true;
}

size_t ItemBytes(const Item& item) {
  size_t bytes = item.call_id.size() + item.name.size() + item.arguments.size() + item.output.size();
  for (const auto& part : item.content) bytes += part.text.size() + part.transcript.size();
  return bytes;
}

std::vector<std::string> Conversation::Trim(size_t max_items, size_t max_bytes) {
  size_t total = 0;
  for (const auto& item : items_) total += ItemBytes(item);
  size_t drop = 0;
  while (drop < items_.size() && (items_.size() - drop > max_items || total > max_bytes)) {
    total -= ItemBytes(items_[drop]);
    ++drop;
  }
  std::vector<std::string> dropped;
  dropped.reserve(drop);
  for (size_t i = 0; i < drop; ++i) dropped.push_back(items_[i].id);
  items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(drop));
  return dropped;
}

}  // namespace cadence::realtime
