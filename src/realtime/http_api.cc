#include "realtime/http_api.h"

#include <atomic>
#include <nlohmann/json.hpp>

#include "persona/persona.h"

namespace cadence::realtime {
namespace {

using Json = nlohmann::json;

Json NullOr(std::string_view s) { return s.empty() ? Json(nullptr) : Json(std::string(s)); }

// Transport-raised error events get ids of their own prefix so they never collide with the
// Session's event ids.
std::string NextTransportEventId() {
  static std::atomic<uint64_t> counter{0};
  return "event_srv_" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

const std::vector<std::string>& KnownModels() {
  static const std::vector<std::string> kModels = {
      "step-2.5-realtime",
      "step-audio-2",
      "step-audio-2-mini",
      "step-1o-audio",
      "gpt-realtime",
      "gpt-realtime-mini",
      "gpt-4o-realtime-preview",
      "gpt-4o-realtime-preview-2024-12-17",
      "gpt-4o-realtime-preview-2025-06-03",
      "gpt-4o-mini-realtime-preview",
      "gpt-4o-mini-realtime-preview-2024-12-17",
      "cadence",
  };
  return kModels;
}

bool IsKnownModel(std::string_view model) {
  for (const auto& m : KnownModels())
    if (m == model) return true;
  return false;
}

std::string HttpErrorJson(std::string_view type, std::string_view code, std::string_view message,
                          std::string_view param) {
  Json error = {{"type", std::string(type)},
                {"code", std::string(code)},
                {"message", std::string(message)},
                {"param", NullOr(param)}};
  return Dump(Json{{"error", error}});
}

std::string TransportErrorEventJson(std::string_view code, std::string_view message,
                                    std::string_view param, std::string_view client_event_id) {
  Json error = {{"type", "invalid_request_error"},
                {"code", std::string(code)},
                {"message", std::string(message)},
                {"param", NullOr(param)},
                {"event_id", NullOr(client_event_id)}};
  return Dump(Json{{"type", "error"}, {"event_id", NextTransportEventId()}, {"error", error}});
}

std::string ScanEventId(std::string_view prefix) {
  static constexpr std::string_view kKey = "\"event_id\"";
  size_t at = prefix.find(kKey);
  if (at == std::string_view::npos) return {};
  size_t i = at + kKey.size();
  while (i < prefix.size() && (prefix[i] == ' ' || prefix[i] == '\t' || prefix[i] == '\n' || prefix[i] == '\r')) ++i;
  if (i >= prefix.size() || prefix[i] != ':') return {};
  ++i;
  while (i < prefix.size() && (prefix[i] == ' ' || prefix[i] == '\t' || prefix[i] == '\n' || prefix[i] == '\r')) ++i;
  if (i >= prefix.size() || prefix[i] != '"') return {};
  ++i;
  std::string id;
  // Event ids are short plain tokens; escapes or an unterminated string mean "not found".
  for (; i < prefix.size() && id.size() < 256; ++i) {
    if (prefix[i] == '"') return id;
    if (prefix[i] == '\\' || static_cast<unsigned char>(prefix[i]) < 0x20) return {};
    id.push_back(prefix[i]);
  }
  return {};
}

std::string HealthJson(const HealthInfo& info) {
  Json engines = {{"vad", NullOr(info.vad)}, {"asr", NullOr(info.asr)}, {"tts", NullOr(info.tts)},
                  {"brain", NullOr(info.brain)}};
  Json j = {{"status", "ok"},
            {"version", info.version},
            {"uptime_s", info.uptime_s},
            {"sessions", {{"active", info.active_sessions}, {"total", info.total_sessions}}},
            {"auth_required", info.auth_required},
            {"engines", engines}};
  return Dump(j);
}

std::string ModelsJson(int64_t created_unix_s) {
  Json data = Json::array();
  for (const auto& m : KnownModels())
    data.push_back({{"id", m}, {"object", "model"}, {"created", created_unix_s}, {"owned_by", "cadence"}});
  return Dump(Json{{"object", "list"}, {"data", data}});
}

std::string PersonasJson(const std::vector<const persona::Persona*>& personas, std::string_view default_id) {
  Json data = Json::array();
  for (const persona::Persona* p : personas) {
    Json voice = {{"engine", p->voice.engine}, {"voice", p->voice.voice}};
    data.push_back({{"id", p->id},
                    {"name", p->name},
                    {"description", p->description},
                    {"languages", p->languages},
                    {"voice", voice},
                    {"greeting", p->first_mes},
                    {"avatar", NullOr(p->avatar_data_url)}});
  }
  return Dump(Json{{"object", "list"}, {"default", NullOr(default_id)}, {"data", data}});
}

std::string VoicesJson(const std::vector<speech::VoiceInfo>& voices, std::string_view default_id) {
  Json data = Json::array();
  for (const auto& v : voices)
    data.push_back({{"id", v.id},
                    {"engine", v.engine},
                    {"language", v.language},
                    {"gender", NullOr(v.gender)},
                    {"description", v.description}});
  return Dump(Json{{"object", "list"}, {"default", NullOr(default_id)}, {"data", data}});
}

}  // namespace cadence::realtime
