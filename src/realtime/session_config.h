// SessionConfig: a Realtime session's settings in native types, parsed from `session.update`
// (beta and GA shapes, accepted on either connection) and written back in the connection's shape.
//
// Plain data; no threading. ApplySessionUpdate validates the whole update before changing
// anything, so a rejected update leaves the session exactly as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "audio/pcm.h"
#include "core/status.h"
#include "realtime/protocol_error.h"

namespace cadence::realtime {

enum class TurnDetectionType { kNone, kServerVad, kSemanticVad };

struct TurnDetectionConfig {
  TurnDetectionType type = TurnDetectionType::kServerVad;
  double threshold = 0.5;        // speech probability that starts speech
  int prefix_padding_ms = 300;   // audio kept before the detected start
  int silence_duration_ms = 500; // silence that ends a turn
  bool create_response = true;
  bool interrupt_response = true;
  std::string eagerness = "auto";  // semantic_vad only; mapped onto silence_duration_ms
};

struct TranscriptionConfig {
  bool enabled = true;  // false: input_audio_transcription null (no transcription events)
  std::string model;    // echoed back; Cadence uses its configured recognizer whatever the name
  std::string language;
  std::string prompt;
};

struct SessionConfig {
  bool audio_output = true;  // output modalities include audio (transcripts come with it)
  std::string instructions;
  std::string voice = "alloy";  // the name the client chose (echoed back)
  std::string voice_id;         // the Cadence voice it maps to ("" until resolved)
  audio::SampleFormat input_format = audio::SampleFormat::kPcm16;
  audio::SampleFormat output_format = audio::SampleFormat::kPcm16;
  TranscriptionConfig transcription;
  TurnDetectionConfig turn_detection;
  double temperature = 0.8;
  int64_t max_output_tokens = 0;  // 0: "inf"
  double speed = 1.0;
  nlohmann::json tools = nlohmann::json::array();
  std::string tool_choice = "auto";
  // Cadence additions.
  nlohmann::json persona;        // null, a persona id (string) or an inline card (object)
  bool paralinguistics = false;
};

// Maps a client voice name to a Cadence voice id; InvalidArgument for an unknown name.
using VoiceResolver = std::function<Result<std::string>(std::string_view name)>;

// Applies the `session` object of a session.update to `config`. Both shapes are accepted in one
// object: beta (modalities, voice, input_audio_format, turn_detection, input_audio_transcription,
// max_response_output_tokens) and GA (type "realtime", output_modalities, audio.input/output,
// max_output_tokens). On error `config` is unchanged.
ProtocolError ApplySessionUpdate(const nlohmann::json& session, const VoiceResolver& resolve_voice,
                                 SessionConfig* config);

// Parses an audio format: beta string ("pcm16", "g711_ulaw", "g711_alaw") or GA object
// ({type: "audio/pcm", rate: 24000} | {type: "audio/pcmu"} | {type: "audio/pcma"}).
ProtocolError ParseAudioFormat(const nlohmann::json& value, const std::string& param,
                               audio::SampleFormat* format);
// The GA object form of a format.
nlohmann::json AudioFormatJson(audio::SampleFormat format);

struct SessionIdentity {
  std::string id;
  std::string model;
  int64_t expires_at = 0;  // unix seconds
};

// The session object of session.created / session.updated in the connection's naming.
nlohmann::json SessionToJson(const SessionConfig& config, const SessionIdentity& identity, bool beta);

// Silence that ends a turn for a semantic_vad eagerness ("low" waits longest).
int SemanticEagernessSilenceMs(std::string_view eagerness);

}  // namespace cadence::realtime
