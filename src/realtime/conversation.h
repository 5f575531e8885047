// Conversation items (messages, function calls) and the ordered conversation of one session.
//
// Plain data owned by the Session and touched only on its strand. Items serialize in the
// connection's naming: beta content types "text"/"audio" for the assistant, GA "output_text"/
// "output_audio"; user content is "input_text"/"input_audio" in both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "realtime/protocol_error.h"

namespace cadence::realtime {

struct ContentPart {
  enum class Type { kInputText, kInputAudio, kOutputText, kOutputAudio };
  Type type = Type::kInputText;
  std::string text;          // input_text / output_text
  std::string transcript;    // input_audio / output_audio
  bool transcript_known = true;  // false: input_audio whose transcription is pending (sent as null)
  int64_t audio_ms = 0;      // output_audio: duration sent so far; input_audio: duration committed
  // input_audio: the committed samples (16 kHz mono), kept when the brain hears audio itself.
  std::shared_ptr<const std::vector<float>> audio_16k{};
};

struct Item {
  std::string id;
  std::string type = "message";  // message | function_call | function_call_output
  std::string role;              // user | assistant | system (messages)
  std::string status = "completed";  // completed | incomplete | in_progress
  std::vector<ContentPart> content;
  std::string call_id, name, arguments, output;  // function_call(_output)
};

nlohmann::json ContentPartJson(const ContentPart& part, bool beta);
nlohmann::json ItemToJson(const Item& item, bool beta);

// Parses a client `item` (conversation.item.create, response.create input). `param` prefixes
// field paths in errors ("item.content[0].type").
ProtocolError ParseItem(const nlohmann::json& value, const std::string& param, Item* item);

// The text a brain sees for an item ("" when it has none).
std::string ItemText(const Item& item);
// The bytes an item holds (its texts, transcripts, call arguments and output): what the
// session's history budget counts.
size_t ItemBytes(const Item& item);

class Conversation {
 public:
  // Inserts after `previous_item_id` ("" appends; "root" inserts first). NotFound-style error when
  // the previous id is unknown; an error when the item's id already exists.
  ProtocolError Insert(Item item, const std::string& previous_item_id, std::string* actual_previous_id);
  Item* Find(const std::string& id);
  bool Delete(const std::string& id);
  const std::vector<Item>& items() const { return items_; }
  std::string LastId() const { return items_.empty() ? std::string() : items_.back().id; }
  // Drops the oldest items until at most `max_items` remain and their ItemBytes add up to at most
  // `max_bytes` (history bound for long sessions). Returns the ids dropped, oldest first.
  std::vector<std::string> Trim(size_t max_items, size_t max_bytes);

 private:
  std::vector<Item> items_;
};

}  // namespace cadence::realtime
