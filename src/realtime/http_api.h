// HTTP API bodies: the JSON the server returns outside the WebSocket (health, models, personas,
// HTTP errors) and the few `error` events the transport itself raises (binary or oversized frames).
//
// JSON stays in realtime/: src/server/ calls these and writes the strings as they are. Pure
// functions of their arguments; safe from any thread. Shapes follow OpenAI's REST API where one
// exists (`{"object":"list","data":[...]}`, `{"error":{type,code,message,param}}`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>
#include "speech/tts/synthesizer.h"

namespace cadence::persona {
struct Persona;
}

namespace cadence::realtime {

// Model names a client may put in `?model=`: Cadence answers to StepFun's and OpenAI's names.
const std::vector<std::string>& KnownModels();
bool IsKnownModel(std::string_view model);

// `{"error":{"type":..,"code":..,"message":..,"param":..|null}}` for an HTTP error response.
std::string HttpErrorJson(std::string_view type, std::string_view code, std::string_view message,
                          std::string_view param = {});

// A server `error` event raised by the transport (not the Session): `client_event_id` is the
// event_id of the client event at fault ("" when unknown), `param` the field at fault ("" = null).
std::string TransportErrorEventJson(std::string_view code, std::string_view message,
                                    std::string_view param, std::string_view client_event_id);

// Best-effort scan of the start of a (possibly truncated) JSON frame for `"event_id":"..."`, so an
// error about a frame too large to parse can still name the client's event. "" when not found.
std::string ScanEventId(std::string_view frame_prefix);

struct HealthInfo {
  std::string version;
  int64_t uptime_s = 0;
  int64_t active_sessions = 0;
  int64_t total_sessions = 0;
  bool auth_required = false;
  // Engine names ("" when absent): VadModel::name(), Recognizer::name(), brain kind, tts.
  std::string vad, asr, tts, brain;
};
std::string HealthJson(const HealthInfo& info);

// `GET /v1/models`: every known model as `{"id","object":"model","created","owned_by"}`.
std::string ModelsJson(int64_t created_unix_s);

// `GET /v1/personas`: `{"object":"list","default":id,"data":[{id,name,description,languages,
// voice,greeting,avatar}]}`. Pointers must be non-null.
std::string PersonasJson(const std::vector<const persona::Persona*>& personas, std::string_view default_id);

// `GET /v1/voices`: `{"object":"list","default":id,"data":[{id,engine,language,gender,description}]}`
// — the synthesizer's voices (Flite and eSpeak NG, or the neural voice's prompts).
std::string VoicesJson(const std::vector<speech::VoiceInfo>& voices, std::string_view default_id);

}  // namespace cadence::realtime
