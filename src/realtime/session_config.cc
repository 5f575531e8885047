#include "realtime/session_config.h"

#include "realtime/json_fields.h"

namespace cadence::realtime {
namespace {

ProtocolError Bad(std::string code, std::string message, std::string param) {
  return ProtocolError::Invalid(std::move(code), std::move(message), std::move(param));
}

ProtocolError ParseModalities(const Json& value, const std::string& param, bool* audio_output) {
  if (!value.is_array()) return Bad("invalid_type", "'" + param + "' must be an array of \"text\" | \"audio\"", param);
  bool audio = false, text = false;
  for (const auto& m : value) {
    if (m == "audio") {
      audio = true;
    } else if (m == "text") {
      text = true;
    } else {
      return Bad("invalid_value", "'" + param + "' may hold only \"text\" and \"audio\", got " + m.dump(), param);
    }
  }
  if (!audio && !text) return Bad("invalid_value", "'" + param + "' must not be empty", param);
  *audio_output = audio;
  return {};
}

ProtocolError ParseTurnDetection(const Json& value, const std::string& param, TurnDetectionConfig* td) {
  if (value.is_null()) {
    td->type = TurnDetectionType::kNone;
    return {};
  }
  if (!value.is_object()) return Bad("invalid_type", "'" + param + "' must be an object or null", param);
  TurnDetectionConfig next = *td;
  std::string type = next.type == TurnDetectionType::kSemanticVad ? "semantic_vad" : "server_vad";
  if (auto e = GetString(value, "type", param, &type); !e.ok()) return e;
  if (type == "server_vad") {
    next.type = TurnDetectionType::kServerVad;
  } else if (type == "semantic_vad") {
    next.type = TurnDetectionType::kSemanticVad;
  } else if (type == "none") {
    next.type = TurnDetectionType::kNone;
  } else {
    return Bad("invalid_value", "'" + param + ".type' must be \"server_vad\" or \"semantic_vad\" (or null for "
               "manual commits), got \"" + type + "\"", Path(param, "type"));
  }
  if (auto e = GetNumber(value, "threshold", param, &next.threshold); !e.ok()) return e;
  if (next.threshold < 0.0 || next.threshold > 1.0) {
    return Bad("invalid_value", "'" + param + ".threshold' must be within [0, 1]", Path(param, "threshold"));
  }
  int64_t v = next.prefix_padding_ms;
  if (auto e = GetInt(value, "prefix_padding_ms", param, &v); !e.ok()) return e;
  if (v < 0 || v > 10000) {
    return Bad("invalid_value", "'" + param + ".prefix_padding_ms' must be within [0, 10000]",
               Path(param, "prefix_padding_ms"));
  }
  next.prefix_padding_ms = static_cast<int>(v);
  v = next.silence_duration_ms;
  if (auto e = GetInt(value, "silence_duration_ms", param, &v); !e.ok()) return e;
  if (v < 32 || v > 10000) {
    return Bad("invalid_value", "'" + param + ".silence_duration_ms' must be within [32, 10000]",
               Path(param, "silence_duration_ms"));
  }
  next.silence_duration_ms = static_cast<int>(v);
  if (auto e = GetBool(value, "create_response", param, &next.create_response); !e.ok()) return e;
  if (auto e = GetBool(value, "interrupt_response", param, &next.interrupt_response); !e.ok()) return e;
  if (auto e = GetString(value, "eagerness", param, &next.eagerness); !e.ok()) return e;
  if (next.eagerness != "auto" && next.eagerness != "low" && next.eagerness != "medium" &&
      next.eagerness != "high") {
    return Bad("invalid_value", "'" + param + ".eagerness' must be low | medium | high | auto",
               Path(param, "eagerness"));
  }
  if (next.type == TurnDetectionType::kSemanticVad && value.find("silence_duration_ms") == value.end()) {
    next.silence_duration_ms = SemanticEagernessSilenceMs(next.eagerness);
  }
  *td = next;
  return {};
}

ProtocolError ParseTranscription(const Json& value, const std::string& param, TranscriptionConfig* tc) {
  if (value.is_null()) {
    tc->enabled = false;
    return {};
  }
  if (!value.is_object()) return Bad("invalid_type", "'" + param + "' must be an object or null", param);
  TranscriptionConfig next = *tc;
  next.enabled = true;
  if (auto e = GetString(value, "model", param, &next.model); !e.ok()) return e;
  if (auto e = GetString(value, "language", param, &next.language); !e.ok()) return e;
  if (auto e = GetString(value, "prompt", param, &next.prompt); !e.ok()) return e;
  *tc = next;
  return {};
}

ProtocolError ParseMaxTokens(const Json& value, const std::string& param, int64_t* out) {
  if (value.is_null() || value == "inf") {
    *out = 0;
    return {};
  }
  if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 4096) {
    return Bad("invalid_value", "'" + param + "' must be an integer in [1, 4096] or \"inf\"", param);
  }
  *out = value.get<int64_t>();
  return {};
}

ProtocolError ParseVoice(const Json& value, const std::string& param, const VoiceResolver& resolve,
                         SessionConfig* config) {
  std::string name;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object() && value.contains("id") && value["id"].is_string()) {
    name = value["id"].get<std::string>();
  } else {
    return Bad("invalid_type", "'" + param + "' must be a voice name", param);
  }
  if (resolve) {
    Result<std::string> id = resolve(name);
    if (!id.ok()) {
      return Bad("invalid_value", "unknown voice \"" + name + "\" in '" + param + "': " + id.status().message(),
                 param);
    }
    config->voice_id = *id;
  }
  config->voice = name;
  return {};
}

}  // namespace

int SemanticEagernessSilenceMs(std::string_view eagerness) {
  if (eagerness == "high") return 300;
  if (eagerness == "low") return 1200;
  return 600;
}

ProtocolError ParseAudioFormat(const Json& value, const std::string& param, audio::SampleFormat* format) {
  if (value.is_string()) {
    if (!audio::ParseSampleFormat(value.get<std::string>(), format)) {
      return Bad("invalid_value", "'" + param + "' must be \"pcm16\", \"g711_ulaw\" or \"g711_alaw\", got \"" +
                 value.get<std::string>() + "\"", param);
    }
    return {};
  }
  if (!value.is_object()) return Bad("invalid_type", "'" + param + "' must be a format object", param);
  std::string type;
  if (auto e = RequireString(value, "type", param, &type); !e.ok()) return e;
  if (type == "audio/pcm") {
    int64_t rate = 24000;
    if (auto e = GetInt(value, "rate", param, &rate); !e.ok()) return e;
    if (rate != 24000) {
      return Bad("invalid_value", "'" + param + ".rate' must be 24000 (pcm16 is 24 kHz)", Path(param, "rate"));
    }
    *format = audio::SampleFormat::kPcm16;
  } else if (type == "audio/pcmu") {
    *format = audio::SampleFormat::kG711Ulaw;
  } else if (type == "audio/pcma") {
    *format = audio::SampleFormat::kG711Alaw;
  } else {
    return Bad("invalid_value", "'" + param + ".type' must be audio/pcm, audio/pcmu or audio/pcma, got \"" + type +
               "\"", Path(param, "type"));
  }
  return {};
}

Json AudioFormatJson(audio::SampleFormat format) {
  switch (format) {
    case audio::SampleFormat::kG711Ulaw: return {{"type", "audio/pcmu"}};
    case audio::SampleFormat::kG711Alaw: return {{"type", "audio/pcma"}};
    default: return {{"type", "audio/pcm"}, {"rate", 24000}};
  }
}

ProtocolError ApplySessionUpdate(const Json& session, const VoiceResolver& resolve_voice, SessionConfig* config) {
  const std::string p = "session";
  if (!session.is_object()) return Bad("invalid_type", "'session' must be an object", p);
  SessionConfig next = *config;
  std::string type;
  if (auto e = GetString(session, "type", p, &type); !e.ok()) return e;
  if (!type.empty() && type != "realtime") {
    return Bad("invalid_value", "'session.type' must be \"realtime\" (transcription sessions are not supported)",
               "session.type");
  }
  if (auto it = session.find("modalities"); it != session.end() && !it->is_null()) {
    if (auto e = ParseModalities(*it, "session.modalities", &next.audio_output); !e.ok()) return e;
  }
  if (auto it = session.find("output_modalities"); it != session.end() && !it->is_null()) {
    if (auto e = ParseModalities(*it, "session.output_modalities", &next.audio_output); !e.ok()) return e;
  }
  if (auto e = GetString(session, "instructions", p, &next.instructions); !e.ok()) return e;
  if (auto it = session.find("voice"); it != session.end() && !it->is_null()) {
    if (auto e = ParseVoice(*it, "session.voice", resolve_voice, &next); !e.ok()) return e;
  }
  if (auto it = session.find("input_audio_format"); it != session.end() && !it->is_null()) {
    if (auto e = ParseAudioFormat(*it, "session.input_audio_format", &next.input_format); !e.ok()) return e;
  }
  if (auto it = session.find("output_audio_format"); it != session.end() && !it->is_null()) {
    if (auto e = ParseAudioFormat(*it, "session.output_audio_format", &next.output_format); !e.ok()) return e;
  }
  if (auto it = session.find("input_audio_transcription"); it != session.end()) {
    if (auto e = ParseTranscription(*it, "session.input_audio_transcription", &next.transcription); !e.ok()) return e;
  }
  if (auto it = session.find("turn_detection"); it != session.end()) {
    if (auto e = ParseTurnDetection(*it, "session.turn_detection", &next.turn_detection); !e.ok()) return e;
  }
  if (auto e = GetNumber(session, "temperature", p, &next.temperature); !e.ok()) return e;
  if (next.temperature < 0.0 || next.temperature > 2.0) {
    return Bad("invalid_value", "'session.temperature' must be within [0, 2]", "session.temperature");
  }
  if (auto e = GetNumber(session, "speed", p, &next.speed); !e.ok()) return e;
  for (const char* key : {"max_response_output_tokens", "max_output_tokens"}) {
    if (auto it = session.find(key); it != session.end()) {
      if (auto e = ParseMaxTokens(*it, Path(p, key), &next.max_output_tokens); !e.ok()) return e;
    }
  }
  if (auto it = session.find("tools"); it != session.end() && !it->is_null()) {
    if (!it->is_array()) return Bad("invalid_type", "'session.tools' must be an array", "session.tools");
    next.tools = *it;
  }
  if (auto it = session.find("tool_choice"); it != session.end() && it->is_string()) {
    next.tool_choice = it->get<std::string>();
  }
  if (auto it = session.find("audio"); it != session.end() && !it->is_null()) {
    if (!it->is_object()) return Bad("invalid_type", "'session.audio' must be an object", "session.audio");
    if (auto in = it->find("input"); in != it->end() && !in->is_null()) {
      if (!in->is_object()) return Bad("invalid_type", "'session.audio.input' must be an object", "session.audio.input");
      if (auto f = in->find("format"); f != in->end() && !f->is_null()) {
        if (auto e = ParseAudioFormat(*f, "session.audio.input.format", &next.input_format); !e.ok()) return e;
      }
      if (auto t = in->find("transcription"); t != in->end()) {
        if (auto e = ParseTranscription(*t, "session.audio.input.transcription", &next.transcription); !e.ok()) {
          return e;
        }
      }
      if (auto t = in->find("turn_detection"); t != in->end()) {
        if (auto e = ParseTurnDetection(*t, "session.audio.input.turn_detection", &next.turn_detection); !e.ok()) {
          return e;
        }
      }
    }
    if (auto out = it->find("output"); out != it->end() && !out->is_null()) {
      if (!out->is_object()) {
        return Bad("invalid_type", "'session.audio.output' must be an object", "session.audio.output");
      }
      if (auto f = out->find("format"); f != out->end() && !f->is_null()) {
        if (auto e = ParseAudioFormat(*f, "session.audio.output.format", &next.output_format); !e.ok()) return e;
      }
      if (auto v = out->find("voice"); v != out->end() && !v->is_null()) {
        if (auto e = ParseVoice(*v, "session.audio.output.voice", resolve_voice, &next); !e.ok()) return e;
      }
      if (auto e = GetNumber(*out, "speed", "session.audio.output", &next.speed); !e.ok()) return e;
    }
  }
  if (next.speed < 0.25 || next.speed > 4.0) {
    return Bad("invalid_value", "speed must be within [0.25, 4]", "session.speed");
  }
  if (auto it = session.find("persona"); it != session.end()) {
    if (!it->is_null() && !it->is_string() && !it->is_object()) {
      return Bad("invalid_type", "'session.persona' must be a persona id, an inline character card or null",
                 "session.persona");
    }
    next.persona = *it;
  }
  if (auto e = GetBool(session, "paralinguistics", p, &next.paralinguistics); !e.ok()) return e;
  *config = std::move(next);
  return {};
}

namespace {

Json TurnDetectionJson(const TurnDetectionConfig& td) {
  if (td.type == TurnDetectionType::kNone) return nullptr;
  if (td.type == TurnDetectionType::kSemanticVad) {
    return {{"type", "semantic_vad"},
            {"eagerness", td.eagerness},
            {"create_response", td.create_response},
            {"interrupt_response", td.interrupt_response}};
  }
  return {{"type", "server_vad"},
          {"threshold", td.threshold},
          {"prefix_padding_ms", td.prefix_padding_ms},
          {"silence_duration_ms", td.silence_duration_ms},
          {"create_response", td.create_response},
          {"interrupt_response", td.interrupt_response},
          {"idle_timeout_ms", nullptr}};
}

Json TranscriptionJson(const TranscriptionConfig& tc) {
  if (!tc.enabled) return nullptr;
  Json j = {{"model", tc.model}};
  j["language"] = tc.language.empty() ? Json(nullptr) : Json(tc.language);
  if (!tc.prompt.empty()) j["prompt"] = tc.prompt;
  return j;
}

Json MaxTokensJson(int64_t n) { return n == 0 ? Json("inf") : Json(n); }

}  // namespace

Json SessionToJson(const SessionConfig& c, const SessionIdentity& id, bool beta) {
  Json j;
  if (beta) {
    j = {{"id", id.id},
         {"object", "realtime.session"},
         {"model", id.model},
         {"expires_at", id.expires_at},
         {"modalities", c.audio_output ? Json::array({"text", "audio"}) : Json::array({"text"})},
         {"instructions", c.instructions},
         {"voice", c.voice},
         {"input_audio_format", std::string(audio::SampleFormatName(c.input_format))},
         {"output_audio_format", std::string(audio::SampleFormatName(c.output_format))},
         {"input_audio_transcription", TranscriptionJson(c.transcription)},
         {"input_audio_noise_reduction", nullptr},
         {"turn_detection", TurnDetectionJson(c.turn_detection)},
         {"tools", c.tools},
         {"tool_choice", c.tool_choice},
         {"temperature", c.temperature},
         {"max_response_output_tokens", MaxTokensJson(c.max_output_tokens)},
         {"speed", c.speed},
         {"tracing", nullptr}};
  } else {
    j = {{"type", "realtime"},
         {"object", "realtime.session"},
         {"id", id.id},
         {"model", id.model},
         {"expires_at", id.expires_at},
         {"output_modalities", c.audio_output ? Json::array({"audio"}) : Json::array({"text"})},
         {"instructions", c.instructions},
         {"audio",
          {{"input",
            {{"format", AudioFormatJson(c.input_format)},
             {"transcription", TranscriptionJson(c.transcription)},
             {"noise_reduction", nullptr},
             {"turn_detection", TurnDetectionJson(c.turn_detection)}}},
           {"output", {{"format", AudioFormatJson(c.output_format)}, {"voice", c.voice}, {"speed", c.speed}}}}},
         {"tools", c.tools},
         {"tool_choice", c.tool_choice},
         {"max_output_tokens", MaxTokensJson(c.max_output_tokens)},
         {"tracing", nullptr},
         {"truncation", "auto"},
         {"prompt", nullptr},
         {"include", nullptr}};
  }
  if (c.persona.is_object()) {
    // An inline card is echoed by its character name, not in full.
    const Json::json_pointer data_name("/data/name"), name("/name");
    j["persona"] = c.persona.contains(data_name) && c.persona[data_name].is_string() ? c.persona[data_name]
                   : c.persona.contains(name) && c.persona[name].is_string()         ? c.persona[name]
                                                                                       : Json("inline");
  } else {
    j["persona"] = c.persona;
  }
  j["paralinguistics"] = c.paralinguistics;
  return j;
}

}  // namespace cadence::realtime
