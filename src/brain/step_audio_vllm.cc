#include "brain/step_audio_vllm.h"

#include <algorithm>

#include "audio/wav.h"
#include "brain/sse_client.h"
#include "core/base64.h"
#include "core/json_depth.h"

namespace cadence::brain {

namespace {

constexpr std::string_view kTokenPrefix = "<audio_";
constexpr size_t kMaxDigits = 9;  // no speech code has more; longer runs are not tokens

std::string EndpointOf(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  constexpr std::string_view kPath = "/chat/completions";
  if (url.size() >= kPath.size() && url.compare(url.size() - kPath.size(), kPath.size(), kPath) == 0) return url;
  return url + std::string(kPath);
}

nlohmann::json HumanContent(const StepAudioTurn& turn) {
  nlohmann::json parts = nlohmann::json::array();
  // The backend's examples put audio before text.
  if (turn.audio_16k) {
    const std::vector<float>& audio = *turn.audio_16k;
    for (size_t at = 0; at < audio.size(); at += kStepAudioMaxChunkSamples) {
      const size_t n = std::min(kStepAudioMaxChunkSamples, audio.size() - at);
      const std::vector<uint8_t> wav = StepAudioWav(std::span<const float>(audio.data() + at, n));
      parts.push_back({{"type", "input_audio"},
                       {"input_audio", {{"data", Base64Encode(std::span<const uint8_t>(wav))}, {"format", "wav"}}}});
    }
  }
  if (!turn.text.empty()) parts.push_back({{"type", "text"}, {"text", turn.text}});
  return parts;
}

// Reads the chunks of one streamed answer.
struct AnswerReader {
  const std::function<bool(std::string_view)>* on_text = nullptr;
  const std::function<bool(std::span<const int>)>* on_speech = nullptr;
  AudioTokenParser tokens;
  std::vector<int> codes;
  bool consumer_stopped = false;
  Status error;  // a malformed chunk or an error sent in the stream

  SseControl Fail(Status status) {
    error = std::move(status);
    return SseControl::kStop;
  }

  // `value` at `field` must be a string or null; returns it ("" for null).
  bool StringField(const nlohmann::json& value, const char* field, std::string_view* out) {
    if (value.is_null()) {
      *out = {};
      return true;
    }
    if (!value.is_string()) {
      error = Status::InvalidArgument(std::string("malformed chunk: ") + field + " is " + value.type_name() +
                                      ", not a string");
      return false;
    }
    *out = value.get_ref<const std::string&>();
    return true;
  }

  SseControl operator()(std::string_view payload) {
    if (JsonNestingDepth(payload) > kMaxJsonDepth)
      return Fail(Status::InvalidArgument("malformed chunk: it nests deeper than " + std::to_string(kMaxJsonDepth)));
    const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Fail(Status::InvalidArgument("malformed chunk: not a JSON object: " +
                                          std::string(payload.substr(0, 200))));
    if (auto e = j.find("error"); e != j.end() && !e->is_null())
      return Fail(Status::Unavailable("the server reported an error mid-stream: " + ErrorMessageOf(*e)));
    auto choices = j.find("choices");
    if (choices == j.end()) return Fail(Status::InvalidArgument("malformed chunk: no choices"));
    if (!choices->is_array()) return Fail(Status::InvalidArgument("malformed chunk: choices is not an array"));
    if (choices->empty()) return SseControl::kContinue;  // a usage-only chunk
    const nlohmann::json& choice = (*choices)[0];
    if (!choice.is_object()) return Fail(Status::InvalidArgument("malformed chunk: choices[0] is not an object"));

    if (auto delta = choice.find("delta"); delta != choice.end() && !delta->is_null()) {
      if (!delta->is_object()) return Fail(Status::InvalidArgument("malformed chunk: choices[0].delta is not an object"));
      std::string_view content, tts_text, tts_audio;
      if (auto c = delta->find("content"); c != delta->end() && !StringField(*c, "choices[0].delta.content", &content))
        return SseControl::kStop;
      if (auto tts = delta->find("tts_content"); tts != delta->end() && !tts->is_null()) {
        if (!tts->is_object())
          return Fail(Status::InvalidArgument("malformed chunk: choices[0].delta.tts_content is not an object"));
        if (auto t = tts->find("tts_text");
            t != tts->end() && !StringField(*t, "choices[0].delta.tts_content.tts_text", &tts_text))
          return SseControl::kStop;
        if (auto a = tts->find("tts_audio");
            a != tts->end() && !StringField(*a, "choices[0].delta.tts_content.tts_audio", &tts_audio))
          return SseControl::kStop;
      }
      // As StepFun's client reads it: a spoken answer's text is tts_text, else the content.
      const std::string_view text = !tts_text.empty() ? tts_text : content;
      if (!text.empty() && !(*on_text)(text)) {
        consumer_stopped = true;
        return SseControl::kStop;
      }
      if (!tts_audio.empty()) {
        codes.clear();
        tokens.Feed(tts_audio, &codes);
        if (!codes.empty() && !(*on_speech)(std::span<const int>(codes))) {
          consumer_stopped = true;
          return SseControl::kStop;
        }
      }
    }
    if (auto finish = choice.find("finish_reason"); finish != choice.end() && finish->is_string())
      return SseControl::kComplete;
    return SseControl::kContinue;
  }
};

}  // namespace

void AudioTokenParser::Feed(std::string_view piece, std::vector<int>* out) {
  std::string s = std::move(pending_);
  pending_.clear();
  s.append(piece);
  size_t i = 0;
  while (i < s.size()) {
    const size_t p = s.find('<', i);
    if (p == std::string::npos) return;
    const std::string_view rest = std::string_view(s).substr(p);
    if (rest.size() < kTokenPrefix.size() && kTokenPrefix.substr(0, rest.size()) == rest) {
      pending_ = std::string(rest);  // "<aud" at the end: wait for the rest
      return;
    }
    if (rest.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
      i = p + 1;
      continue;
    }
    size_t j = p + kTokenPrefix.size();
    while (j < s.size() && j - (p + kTokenPrefix.size()) <= kMaxDigits && s[j] >= '0' && s[j] <= '9') ++j;
    const size_t digits = j - (p + kTokenPrefix.size());
    if (digits > kMaxDigits) {
      i = p + 1;
      continue;
    }
    if (j == s.size()) {  // "<audio_12" at the end: wait for the rest
      pending_ = std::string(rest);
      return;
    }
    if (s[j] == '>' && digits > 0) {
      const int code = std::stoi(s.substr(p + kTokenPrefix.size(), digits));
      if (code <= kStepAudioMaxSpeechCode) out->push_back(code);
      i = j + 1;
    } else {
      i = p + 1;
    }
  }
}

std::vector<int> ParseAudioTokens(std::string_view s) {
  std::vector<int> out;
  AudioTokenParser parser;
  parser.Feed(s, &out);
  return out;
}

std::string FormatAudioTokens(std::span<const int> tokens) {
  std::string out;
  out.reserve(tokens.size() * 11);
  for (int t : tokens) out += "<audio_" + std::to_string(t) + ">";
  return out;
}

std::vector<uint8_t> StepAudioWav(std::span<const float> samples_16k) {
  audio::Waveform wave;
  wave.sample_rate_hz = 16000;
  wave.samples.assign(samples_16k.begin(), samples_16k.end());
  return audio::EncodeWav(wave);
}

StepAudioVllmClient::StepAudioVllmClient(StepAudioVllmConfig config)
    : config_(std::move(config)), endpoint_(EndpointOf(config_.url)) {}

nlohmann::json StepAudioVllmClient::RequestBody(const std::vector<StepAudioTurn>& turns, bool spoken,
                                                const StepAudioSampling& sampling) const {
  nlohmann::json messages = nlohmann::json::array();
  for (const StepAudioTurn& turn : turns) {
    switch (turn.role) {
      case StepAudioTurn::Role::kSystem:
        messages.push_back({{"role", "system"}, {"content", turn.text}});
        break;
      case StepAudioTurn::Role::kHuman:
        messages.push_back({{"role", "human"}, {"content", HumanContent(turn)}});
        break;
      case StepAudioTurn::Role::kAssistant:
        if (turn.speech_tokens.empty()) {
          messages.push_back({{"role", "assistant"}, {"content", turn.text}});
        } else {
          // The backend's template renders tts_content as <tts_start> text/audio interleaved
          // <tts_end>, then appends `content` as plain text: empty, or the text would be said twice.
          messages.push_back({{"role", "assistant"},
                              {"content", ""},
                              {"tts_content",
                               {{"tts_text", turn.text}, {"tts_audio", FormatAudioTokens(turn.speech_tokens)}}}});
        }
        break;
    }
  }
  nlohmann::json body;
  body["model"] = config_.model;
  body["stream"] = true;
  body["max_tokens"] = sampling.max_tokens;
  body["temperature"] = sampling.temperature;
  body["top_p"] = sampling.top_p;
  body["repetition_penalty"] = sampling.repetition_penalty;
  body["skip_special_tokens"] = false;
  body["parallel_tool_calls"] = false;
  if (spoken) {
    messages.push_back({{"role", "assistant"}, {"content", "<tts_start>"}, {"eot", false}});
    body["continue_final_message"] = true;
    body["add_generation_prompt"] = false;
  } else {
    body["continue_final_message"] = false;
    body["add_generation_prompt"] = true;
  }
  body["messages"] = std::move(messages);
  return body;
}

Status StepAudioVllmClient::Stream(const std::vector<StepAudioTurn>& turns, bool spoken,
                                   const StepAudioSampling& sampling, const CancelToken& cancel,
                                   const std::function<bool(std::string_view)>& on_text,
                                   const std::function<bool(std::span<const int>)>& on_speech) const {
  SseRequest request;
  request.url = endpoint_;
  request.body = RequestBody(turns, spoken, sampling).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  request.api_key = config_.api_key;
  const int timeout_ms = static_cast<int>(std::max(0.001, config_.timeout_s) * 1000);
  request.first_byte_timeout_ms = timeout_ms;
  request.idle_timeout_ms = timeout_ms;
  request.unreachable_hint = "is the Step-Audio 2 vLLM server running?";

  AnswerReader reader;
  reader.on_text = &on_text;
  reader.on_speech = &on_speech;
  const SseResult r = StreamSse(request, cancel, [&reader](std::string_view payload) { return reader(payload); });
  if (r.status.code() == StatusCode::kCancelled) return Status::Cancelled("step-audio vllm: cancelled");
  if (reader.consumer_stopped) return Status::Ok();
  if (!reader.error.ok()) return Status(reader.error.code(), endpoint_ + ": " + reader.error.message());
  return r.status;
}

}  // namespace cadence::brain
