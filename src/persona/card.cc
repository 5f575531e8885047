#include "persona/card.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "persona/png_card.h"
#include "persona/text.h"

namespace cadence::persona {

namespace {

using Json = nlohmann::json;

Status FieldError(const std::string& path, std::string_view what) {
  return Status::InvalidArgument("card field " + path + ": " + std::string(what));
}

// Each getter leaves `out` untouched when the key is absent or null; a present value of the wrong
// type is an error naming the field.
Status GetString(const Json& obj, const char* key, const std::string& path, std::string* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return FieldError(path + "." + key, "expected a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status GetStringList(const Json& obj, const char* key, const std::string& path, std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (it->is_string()) {  // a lone string where a list belongs: common in hand-written cards
    out->assign(1, it->get<std::string>());
    return Status::Ok();
  }
  if (!it->is_array()) return FieldError(path + "." + key, "expected an array of strings");
  out->clear();
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& v = (*it)[i];
    if (!v.is_string())
      return FieldError(path + "." + key + "[" + std::to_string(i) + "]", "expected a string");
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

Status GetNumber(const Json& obj, const char* key, const std::string& path, double* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_number()) return FieldError(path + "." + key, "expected a number");
  *out = it->get<double>();
  return Status::Ok();
}

Status GetInt(const Json& obj, const char* key, const std::string& path, int* out) {
  double v = *out;
  CADENCE_RETURN_IF_ERROR(GetNumber(obj, key, path, &v));
  if (v < -1e9 || v > 1e9) return FieldError(path + "." + key, "number out of range");
  *out = static_cast<int>(v);
  return Status::Ok();
}

Status GetBool(const Json& obj, const char* key, const std::string& path, bool* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean()) return FieldError(path + "." + key, "expected true or false");
  *out = it->get<bool>();
  return Status::Ok();
}

Status GetObject(const Json& obj, const char* key, const std::string& path, const Json** out) {
  *out = nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return FieldError(path + "." + key, "expected an object");
  *out = &*it;
  return Status::Ok();
}

Status ParseLorebook(const Json& book, const std::string& path, Lorebook* out) {
  CADENCE_RETURN_IF_ERROR(GetString(book, "name", path, &out->name));
  CADENCE_RETURN_IF_ERROR(GetInt(book, "scan_depth", path, &out->scan_depth));
  CADENCE_RETURN_IF_ERROR(GetInt(book, "token_budget", path, &out->token_budget));
  if (out->scan_depth < 1) out->scan_depth = 1;
  if (out->token_budget < 0) return FieldError(path + ".token_budget", "must not be negative");
  auto it = book.find("entries");
  if (it == book.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return FieldError(path + ".entries", "expected an array of entries");
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& e = (*it)[i];
    std::string epath = path + ".entries[" + std::to_string(i) + "]";
    if (!e.is_object()) return FieldError(epath, "expected an object");
    LoreEntry entry;
    CADENCE_RETURN_IF_ERROR(GetString(e, "name", epath, &entry.name));
    if (entry.name.empty()) CADENCE_RETURN_IF_ERROR(GetString(e, "comment", epath, &entry.name));
    CADENCE_RETURN_IF_ERROR(GetStringList(e, "keys", epath, &entry.keys));
    CADENCE_RETURN_IF_ERROR(GetStringList(e, "secondary_keys", epath, &entry.secondary_keys));
    CADENCE_RETURN_IF_ERROR(GetString(e, "content", epath, &entry.content));
    CADENCE_RETURN_IF_ERROR(GetBool(e, "enabled", epath, &entry.enabled));
    CADENCE_RETURN_IF_ERROR(GetBool(e, "constant", epath, &entry.constant));
    CADENCE_RETURN_IF_ERROR(GetBool(e, "selective", epath, &entry.selective));
    CADENCE_RETURN_IF_ERROR(GetBool(e, "case_sensitive", epath, &entry.case_sensitive));
    CADENCE_RETURN_IF_ERROR(GetInt(e, "insertion_order", epath, &entry.insertion_order));
    CADENCE_RETURN_IF_ERROR(GetInt(e, "priority", epath, &entry.priority));
    const Json* ext = nullptr;
    CADENCE_RETURN_IF_ERROR(GetObject(e, "extensions", epath, &ext));
    if (ext) CADENCE_RETURN_IF_ERROR(GetBool(*ext, "match_whole_words", epath + ".extensions", &entry.match_whole_words));
    if (entry.keys.empty() && !entry.constant)
      return FieldError(epath + ".keys", "an entry needs at least one key unless it is constant");
    out->entries.push_back(std::move(entry));
  }
  return Status::Ok();
}

Status ParseCadenceExtension(const Json& ext, const std::string& path, Persona* p) {
  std::string id;
  CADENCE_RETURN_IF_ERROR(GetString(ext, "id", path, &id));
  if (!id.empty()) p->id = id;
  const Json* voice = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(ext, "voice", path, &voice));
  if (voice) {
    std::string vpath = path + ".voice";
    CADENCE_RETURN_IF_ERROR(GetString(*voice, "engine", vpath, &p->voice.engine));
    CADENCE_RETURN_IF_ERROR(GetString(*voice, "voice", vpath, &p->voice.voice));
    CADENCE_RETURN_IF_ERROR(GetNumber(*voice, "base_pitch_st", vpath, &p->voice.base_pitch_st));
    CADENCE_RETURN_IF_ERROR(GetNumber(*voice, "rate", vpath, &p->voice.rate));
    if (p->voice.rate <= 0.1 || p->voice.rate > 4.0) return FieldError(vpath + ".rate", "must be within 0.1..4");
    if (p->voice.base_pitch_st < -24 || p->voice.base_pitch_st > 24)
      return FieldError(vpath + ".base_pitch_st", "must be within -24..24 semitones");
  }
  const Json* tone = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(ext, "tone", path, &tone));
  if (tone) {
    std::string tpath = path + ".tone";
    CADENCE_RETURN_IF_ERROR(GetString(*tone, "emotion", tpath, &p->tone.emotion));
    CADENCE_RETURN_IF_ERROR(GetNumber(*tone, "energy", tpath, &p->tone.energy));
    CADENCE_RETURN_IF_ERROR(GetNumber(*tone, "rate", tpath, &p->tone.rate));
    CADENCE_RETURN_IF_ERROR(GetNumber(*tone, "pitch_st", tpath, &p->tone.pitch_st));
    CADENCE_RETURN_IF_ERROR(GetNumber(*tone, "pitch_range", tpath, &p->tone.pitch_range));
    CADENCE_RETURN_IF_ERROR(GetNumber(*tone, "warmth", tpath, &p->tone.warmth));
    CADENCE_RETURN_IF_ERROR(GetNumber(*tone, "breathiness", tpath, &p->tone.breathiness));
  }
  CADENCE_RETURN_IF_ERROR(GetStringList(ext, "languages", path, &p->languages));
  for (size_t i = 0; i < p->languages.size(); ++i)
    if (p->languages[i] != "en" && p->languages[i] != "zh")
      return FieldError(path + ".languages[" + std::to_string(i) + "]", "expected \"en\" or \"zh\"");
  const Json* bounds = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(ext, "boundaries", path, &bounds));
  if (bounds) {
    CADENCE_RETURN_IF_ERROR(GetString(*bounds, "era", path + ".boundaries", &p->boundaries.era));
    CADENCE_RETURN_IF_ERROR(
        GetStringList(*bounds, "unknown_topics", path + ".boundaries", &p->boundaries.unknown_topics));
  }
  const Json* facts = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(ext, "facts", path, &facts));
  if (facts) {
    auto age = facts->find("age");
    if (age != facts->end() && age->is_number_integer()) {
      p->facts.age = std::to_string(age->get<int64_t>());
    } else {
      CADENCE_RETURN_IF_ERROR(GetString(*facts, "age", path + ".facts", &p->facts.age));
    }
    CADENCE_RETURN_IF_ERROR(GetString(*facts, "origin", path + ".facts", &p->facts.origin));
  }
  CADENCE_RETURN_IF_ERROR(GetStringList(ext, "lines", path, &p->lines));
  const Json* moods = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(ext, "mood_lines", path, &moods));
  if (moods) {
    for (auto it = moods->begin(); it != moods->end(); ++it) {
      std::vector<std::string> lines;
      CADENCE_RETURN_IF_ERROR(GetStringList(*moods, it.key().c_str(), path + ".mood_lines", &lines));
      p->mood_lines[it.key()] = std::move(lines);
    }
  }
  return Status::Ok();
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

std::string Slugify(std::string_view name) {
  std::string slug;
  bool dash = false;
  for (char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      slug.push_back(c);
      dash = false;
    } else if (c >= 'A' && c <= 'Z') {
      slug.push_back(static_cast<char>(c - 'A' + 'a'));
      dash = false;
    } else if (!slug.empty() && !dash) {
      slug.push_back('-');
      dash = true;
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  if (slug.empty()) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "card-%08x", static_cast<unsigned>(Fnv1a(name) & 0xFFFFFFFFu));
    slug = buf;
  }
  return slug;
}

Result<Persona> ParseCardJson(std::string_view json_text, std::string_view source) {
  Json root = Json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded())
    return Status::InvalidArgument("card: not valid JSON (check quotes, commas and braces; a PNG card must "
                                   "start with the PNG signature)");
  if (!root.is_object()) return Status::InvalidArgument("card: the top level must be a JSON object");
  Persona p;
  p.source = std::string(source);
  const Json* data = &root;
  std::string path = "";
  auto spec = root.find("spec");
  if (spec != root.end()) {
    if (!spec->is_string()) return FieldError("spec", "expected a string");
    std::string s = spec->get<std::string>();
    if (s != "chara_card_v2" && s != "chara_card_v3")
      return FieldError("spec", "unsupported '" + s + "' (expected chara_card_v2 or chara_card_v3)");
    auto d = root.find("data");
    if (d == root.end() || !d->is_object()) return FieldError("data", "missing or not an object");
    data = &*d;
    path = "data";
  } else if (root.contains("data") && root["data"].is_object() && root["data"].contains("name")) {
    data = &root["data"];
    path = "data";
  } else if (!root.contains("name")) {
    return Status::InvalidArgument(
        "card: neither a Character Card V2/V3 (\"spec\" and \"data\") nor a V1 card (top-level \"name\")");
  }
  const std::string dp = path.empty() ? std::string("card") : path;
  CADENCE_RETURN_IF_ERROR(GetString(*data, "name", dp, &p.name));
  std::string nickname;
  CADENCE_RETURN_IF_ERROR(GetString(*data, "nickname", dp, &nickname));
  if (Trim(p.name).empty()) return FieldError(dp + ".name", "missing or empty (a character needs a name)");
  p.id = Slugify(p.name);
  if (!nickname.empty()) p.name = nickname;  // V3: {{char}} is the nickname when one is given
  CADENCE_RETURN_IF_ERROR(GetString(*data, "description", dp, &p.description));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "personality", dp, &p.personality));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "scenario", dp, &p.scenario));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "first_mes", dp, &p.first_mes));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "mes_example", dp, &p.mes_example));
  CADENCE_RETURN_IF_ERROR(GetStringList(*data, "alternate_greetings", dp, &p.alternate_greetings));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "system_prompt", dp, &p.system_prompt));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "post_history_instructions", dp, &p.post_history_instructions));
  CADENCE_RETURN_IF_ERROR(GetString(*data, "creator_notes", dp, &p.creator_notes));
  CADENCE_RETURN_IF_ERROR(GetStringList(*data, "tags", dp, &p.tags));
  const Json* book = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(*data, "character_book", dp, &book));
  if (book) CADENCE_RETURN_IF_ERROR(ParseLorebook(*book, dp + ".character_book", &p.lorebook));
  const Json* extensions = nullptr;
  CADENCE_RETURN_IF_ERROR(GetObject(*data, "extensions", dp, &extensions));
  if (extensions) {
    const Json* cadence = nullptr;
    CADENCE_RETURN_IF_ERROR(GetObject(*extensions, "cadence", dp + ".extensions", &cadence));
    if (cadence) CADENCE_RETURN_IF_ERROR(ParseCadenceExtension(*cadence, dp + ".extensions.cadence", &p));
  }
  if (p.languages.empty()) {
    std::string lang = DetectLanguage(p.first_mes + " " + p.description);
    p.languages.push_back(lang.empty() ? "en" : lang);
  }
  p.card_json = root.dump(-1, ' ', false, Json::error_handler_t::replace);
  return p;
}

Result<Persona> ParseCard(std::string_view bytes, std::string_view source) {
  if (LooksLikePng(bytes)) {
    auto json = ExtractCardJsonFromPng(bytes);
    if (!json.ok()) return json.status();
    auto persona = ParseCardJson(*json, source);
    if (!persona.ok()) return persona.status().WithContext("png card");
    persona->avatar_data_url = "data:image/png;base64," + Base64Encode(bytes);
    return persona;
  }
  std::string_view trimmed = Trim(bytes);
  if (trimmed.empty()) return Status::InvalidArgument("card: empty (expected card JSON or a PNG card)");
  if (trimmed.front() != '{')
    return Status::InvalidArgument("card: neither JSON (should start with '{') nor a PNG image");
  return ParseCardJson(bytes, source);
}

std::string ExportCardJson(const Persona& p, int indent) {
  Json root = p.card_json.empty() ? Json::object()
                                  : Json::parse(p.card_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) root = Json::object();
  if (!root.contains("spec")) {
    // V1 cards and personas built in code are written as V3.
    Json data = root.contains("data") && root["data"].is_object() ? root["data"] : root;
    root = Json::object();
    root["spec"] = "chara_card_v3";
    root["spec_version"] = "3.0";
    root["data"] = data;
  }
  if (!root["data"].is_object()) root["data"] = Json::object();
  Json& d = root["data"];
  bool nickname_is_name = d.contains("nickname") && d["nickname"].is_string() && d["nickname"] == p.name;
  if (!d.contains("name") || !d["name"].is_string() || !nickname_is_name) d["name"] = p.name;
  d["description"] = p.description;
  d["personality"] = p.personality;
  d["scenario"] = p.scenario;
  d["first_mes"] = p.first_mes;
  d["mes_example"] = p.mes_example;
  d["alternate_greetings"] = p.alternate_greetings;
  d["system_prompt"] = p.system_prompt;
  d["post_history_instructions"] = p.post_history_instructions;
  d["creator_notes"] = p.creator_notes;
  d["tags"] = p.tags;
  if (!p.lorebook.entries.empty() || d.contains("character_book")) {
    Json book = d.contains("character_book") && d["character_book"].is_object() ? d["character_book"] : Json::object();
    book["name"] = p.lorebook.name;
    book["scan_depth"] = p.lorebook.scan_depth;
    book["token_budget"] = p.lorebook.token_budget;
    Json old_entries = book.contains("entries") && book["entries"].is_array() ? book["entries"] : Json::array();
    Json entries = Json::array();
    for (size_t i = 0; i < p.lorebook.entries.size(); ++i) {
      const LoreEntry& e = p.lorebook.entries[i];
      Json je = i < old_entries.size() && old_entries[i].is_object() ? old_entries[i] : Json::object();
      je["name"] = e.name;
      je["keys"] = e.keys;
      je["secondary_keys"] = e.secondary_keys;
      je["content"] = e.content;
      je["enabled"] = e.enabled;
      je["constant"] = e.constant;
      je["selective"] = e.selective;
      je["case_sensitive"] = e.case_sensitive;
      je["insertion_order"] = e.insertion_order;
      je["priority"] = e.priority;
      if (!je.contains("extensions") || !je["extensions"].is_object()) je["extensions"] = Json::object();
      je["extensions"]["match_whole_words"] = e.match_whole_words;
      entries.push_back(std::move(je));
    }
    book["entries"] = entries;
    if (!book.contains("extensions")) book["extensions"] = Json::object();
    d["character_book"] = book;
  }
  if (!d.contains("extensions") || !d["extensions"].is_object()) d["extensions"] = Json::object();
  Json& c = d["extensions"]["cadence"];
  if (!c.is_object()) c = Json::object();
  c["id"] = p.id;
  c["voice"] = {{"engine", p.voice.engine}, {"voice", p.voice.voice}, {"base_pitch_st", p.voice.base_pitch_st},
                {"rate", p.voice.rate}};
  c["tone"] = {{"emotion", p.tone.emotion}, {"energy", p.tone.energy}, {"rate", p.tone.rate},
               {"pitch_st", p.tone.pitch_st}, {"pitch_range", p.tone.pitch_range}, {"warmth", p.tone.warmth},
               {"breathiness", p.tone.breathiness}};
  c["languages"] = p.languages;
  c["boundaries"] = {{"era", p.boundaries.era}, {"unknown_topics", p.boundaries.unknown_topics}};
  c["facts"] = {{"age", p.facts.age}, {"origin", p.facts.origin}};
  c["lines"] = p.lines;
  Json moods = Json::object();
  for (const auto& [mood, lines] : p.mood_lines) moods[mood] = lines;
  c["mood_lines"] = moods;
  // Replace rather than throw on invalid UTF-8 (a persona built in code may carry some).
  return root.dump(indent, ' ', false, Json::error_handler_t::replace);
}

std::vector<std::vector<ExampleTurn>> SplitExamples(std::string_view mes_example, std::string_view char_name) {
  std::vector<std::vector<ExampleTurn>> blocks;
  std::string text(mes_example);
  std::string lower = AsciiLower(text);
  std::vector<std::string> raw_blocks;
  size_t pos = 0;
  while (true) {
    size_t next = lower.find("<start>", pos);
    raw_blocks.push_back(text.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) break;
    pos = next + 7;
  }
  std::string char_prefix = AsciiLower(char_name) + ":";
  for (const std::string& raw : raw_blocks) {
    std::vector<ExampleTurn> turns;
    size_t start = 0;
    while (start <= raw.size()) {
      size_t nl = raw.find('\n', start);
      std::string_view line = Trim(std::string_view(raw).substr(start, nl == std::string::npos ? std::string::npos : nl - start));
      start = nl == std::string::npos ? raw.size() + 1 : nl + 1;
      if (line.empty()) continue;
      std::string ll = AsciiLower(line);
      std::string speaker;
      size_t cut = 0;
      for (std::string_view prefix : {"{{char}}:", "<bot>:"}) {
        if (ll.starts_with(prefix)) {
          speaker = "char";
          cut = prefix.size();
        }
      }
      for (std::string_view prefix : {"{{user}}:", "<user>:"}) {
        if (ll.starts_with(prefix)) {
          speaker = "user";
          cut = prefix.size();
        }
      }
      if (speaker.empty() && !char_name.empty() && ll.starts_with(char_prefix)) {
        speaker = "char";
        cut = char_prefix.size();
      }
      std::string_view body = Trim(line.substr(cut));
      if (speaker.empty()) {
        if (turns.empty()) continue;  // stray text before the first speaker
        turns.back().text += "\n";
        turns.back().text += body;
        continue;
      }
      turns.push_back({speaker, std::string(body)});
    }
    if (!turns.empty()) blocks.push_back(std::move(turns));
  }
  return blocks;
}

}  // namespace cadence::persona
