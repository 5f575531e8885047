#include "speech/tts/token_voices.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audio/wav.h"
#include "engine/models/token2wav.h"
#include "engine/parallel.h"
#include "speech/tts/engine_voice.h"
#include "speech/tts/text_split.h"
#include "speech/voice_prompt/voice_prompt_encoder.h"

namespace cadence::speech {
namespace {

namespace fs = std::filesystem;

// What Flite's slt says to prompt the default voice when no --voice-prompt is given.
constexpr char kDefaultPromptText[] =
    "Hello there. It is a bright morning, and I am glad to help you with whatever you need today.";

struct PrimedVoice {
  TokenVoice voice;
  engine::VoicePrompt prompt;  // the flow's
  // A token2wav stream with the prompt's caches computed once (the published set-up costs as much
  // as a few seconds of speech); each reply starts from a copy.
  std::shared_ptr<const engine::Token2Wav::Stream> primed;
};

}  // namespace

struct TokenVoices::Impl {
  std::unique_ptr<engine::Token2Wav> t2w;
  std::unique_ptr<voice_prompt::VoicePromptEncoder> encoder;
  std::vector<PrimedVoice> voices;
};

struct TokenVoices::Speaker::State {
  AudioSink on_audio;
  std::unique_ptr<engine::WorkerTeam> team;
  std::unique_ptr<engine::Token2Wav::Stream> stream;
  std::vector<int32_t> pending;
  size_t chunk = 25, look = 3;
};

TokenVoices::~TokenVoices() = default;
TokenVoices::Speaker::~Speaker() = default;

Result<std::unique_ptr<TokenVoices>> TokenVoices::Create(const TokenVoicesConfig& config) {
  auto voices = std::unique_ptr<TokenVoices>(new TokenVoices());
  CADENCE_RETURN_IF_ERROR(voices->Init(config));
  return voices;
}

Status TokenVoices::Init(const TokenVoicesConfig& config) {
  config_ = config;
  impl_ = std::make_unique<Impl>();
  engine::Token2Wav::Options t2w_options;
  t2w_options.n_timesteps = config_.n_timesteps;
  t2w_options.seed = config_.seed;
  auto t2w = engine::Token2Wav::Load(config_.token2wav_dir, t2w_options);
  if (!t2w.ok()) return t2w.status();
  impl_->t2w = std::move(t2w).value();
  voice_prompt::VoicePromptConfig prompt_config;
  prompt_config.campplus_path = (fs::path(config_.token2wav_dir) / "campplus.onnx").string();
  prompt_config.tokenizer_path = (fs::path(config_.token2wav_dir) / "speech_tokenizer_v2_25hz.onnx").string();
  auto encoder = voice_prompt::VoicePromptEncoder::Create(prompt_config);
  if (!encoder.ok()) return encoder.status();
  impl_->encoder = std::move(encoder).value();
  for (const auto& p : config_.prompts) {
    auto wav = audio::ReadWav(p.wav_path);
    if (!wav.ok()) return wav.status().WithContext("--voice-prompt " + p.name);
    CADENCE_RETURN_IF_ERROR(AddVoice(p.name, wav->samples, wav->sample_rate_hz, p.transcript));
  }
  auto& list = impl_->voices;
  if (!config_.default_voice.empty() && !list.empty()) {
    auto it = std::find_if(list.begin(), list.end(),
                           [&](const PrimedVoice& v) { return v.voice.info.id == config_.default_voice; });
    if (it == list.end())
      return Status::InvalidArgument("--voice " + config_.default_voice +
                                     ": no neural voice of that name (give it with --voice-prompt)");
    std::rotate(list.begin(), it, it + 1);
  }
  if (list.empty()) {
    auto slt = CreateFliteVoice("slt");
    if (!slt.ok()) return slt.status().WithContext("the default neural voice's prompt (Flite slt)");
    std::vector<float> samples;
    CADENCE_RETURN_IF_ERROR((*slt)->Render(kDefaultPromptText, EngineProsody{}, CancelToken{}, &samples));
    CADENCE_RETURN_IF_ERROR(AddVoice("default", samples, (*slt)->sample_rate_hz(), kDefaultPromptText));
  }
  return Status::Ok();
}

Status TokenVoices::AddVoice(const std::string& name, const std::vector<float>& samples, int rate_hz,
                             const std::string& transcript) {
  // Step-Audio 2's token2wav pads the prompt mel to two frames per token with its last frame.
  auto encoded = impl_->encoder->EncodeAudio(samples, rate_hz, voice_prompt::MelTokenAlignment::kPadLastFrame);
  if (!encoded.ok()) return encoded.status().WithContext("voice prompt " + name);
  PrimedVoice v;
  v.prompt.tokens.assign(encoded->tokens.begin(), encoded->tokens.end());
  v.prompt.mel = std::move(encoded->mel.data);
  v.prompt.speaker_embedding = std::move(encoded->speaker_embedding);
  v.voice.info.id = name;
  v.voice.info.engine = config_.engine_name;
  v.voice.info.language = ContainsHan(transcript) ? "zh" : "en";
  v.voice.info.description = "zero-shot neural voice (" + config_.engine_name + ") prompted by " +
                             (name == "default" ? std::string("Flite slt") : name);
  v.voice.transcript = transcript;
  v.voice.prompt_tokens.assign(encoded->tokens.begin(), encoded->tokens.end());
  CADENCE_RETURN_IF_ERROR(impl_->t2w->CheckPrompt(v.prompt).WithContext("voice prompt " + name));
  engine::WorkerTeam team(config_.threads);
  auto primed = impl_->t2w->Start(v.prompt, config_.seed, &team);
  if (!primed.ok()) return primed.status().WithContext("voice prompt " + name);
  v.primed = std::move(primed).value();
  impl_->voices.push_back(std::move(v));
  return Status::Ok();
}

std::vector<VoiceInfo> TokenVoices::Voices() const {
  std::vector<VoiceInfo> out;
  for (const auto& v : impl_->voices) out.push_back(v.voice.info);
  return out;
}

const TokenVoice& TokenVoices::Find(std::string_view id) const {
  for (const auto& v : impl_->voices)
    if (v.voice.info.id == id) return v.voice;
  return impl_->voices.front().voice;
}

Result<std::string> TokenVoices::ResolveVoice(std::string_view name) const {
  for (const auto& v : impl_->voices)
    if (v.voice.info.id == name) return v.voice.info.id;
  static const char* kVendor[] = {"alloy", "ash",   "ballad", "coral", "echo",           "sage",
                                  "shimmer", "verse", "marin", "cedar", "qingchunshaonv", "wenrounansheng"};
  for (const char* vendor : kVendor)
    if (name == vendor) return impl_->voices.front().voice.info.id;
  std::string known;
  for (const auto& v : impl_->voices) known += (known.empty() ? "" : ", ") + v.voice.info.id;
  return Status::InvalidArgument("voice '" + std::string(name) + "' is not a neural voice here (voices: " + known +
                                 "; add one with --voice-prompt NAME=FILE.wav:TEXT)");
}

Result<std::unique_ptr<TokenVoices::Speaker>> TokenVoices::Start(std::string_view voice,
                                                                  const AudioSink& on_audio) const {
  const PrimedVoice* chosen = &impl_->voices.front();
  for (const auto& v : impl_->voices)
    if (v.voice.info.id == voice) chosen = &v;
  auto speaker = std::unique_ptr<Speaker>(new Speaker());
  auto st = std::make_unique<Speaker::State>();
  st->on_audio = on_audio;
  st->team = std::make_unique<engine::WorkerTeam>(config_.threads);
  st->stream = std::make_unique<engine::Token2Wav::Stream>(*chosen->primed);
  st->chunk = static_cast<size_t>(std::max(1, config_.chunk_tokens));
  st->look = static_cast<size_t>(impl_->t2w->config().encoder.pre_lookahead_len);
  speaker->state_ = std::move(st);
  return speaker;
}

Result<bool> TokenVoices::Speaker::Push(std::span<const int> tokens) {
  State& s = *state_;
  bool listening = true;
  for (int t : tokens) {
    s.pending.push_back(t);
    ++tokens_;
    if (s.pending.size() < s.chunk + s.look) continue;
    auto audio = s.stream->Push(std::span<const int32_t>(s.pending.data(), s.chunk + s.look), s.team.get());
    if (!audio.ok()) return audio.status();
    s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<std::ptrdiff_t>(s.chunk));
    if (!audio->empty() && !s.on_audio(*audio)) listening = false;
    if (!listening) break;
  }
  return listening;
}

Status TokenVoices::Speaker::Finish() {
  State& s = *state_;
  auto tail = s.stream->Finish(s.pending, s.team.get());
  if (!tail.ok()) return tail.status();
  s.pending.clear();
  if (!tail->empty()) s.on_audio(*tail);
  return Status::Ok();
}

Result<NeuralVoicePrompt> ParseVoicePrompt(const std::string& spec) {
  const size_t eq = spec.find('=');
  const size_t colon = eq == std::string::npos ? std::string::npos : spec.find(':', eq + 1);
  if (eq == std::string::npos || eq == 0 || colon == std::string::npos || colon == eq + 1 ||
      colon + 1 >= spec.size())
    return Status::InvalidArgument("--voice-prompt '" + spec + "': expected NAME=FILE.wav:TRANSCRIPT");
  return NeuralVoicePrompt{spec.substr(0, eq), spec.substr(eq + 1, colon - eq - 1), spec.substr(colon + 1)};
}

Result<std::vector<NeuralVoicePrompt>> ReadVoicePromptFolder(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("--voice-prompts " + dir + ": not a folder");
  std::vector<NeuralVoicePrompt> out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".wav") continue;
    fs::path txt = entry.path();
    txt.replace_extension(".txt");
    std::ifstream in(txt);
    if (!in) return Status::NotFound(txt.string() + ": missing; each prompt clip needs its transcript beside it");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    out.push_back({entry.path().stem().string(), entry.path().string(), text});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace cadence::speech
