#include "speech/tts/neural_synthesizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>

#include "audio/wav.h"
#include "engine/models/cosyvoice_lm.h"
#include "engine/models/token2wav.h"
#include "engine/parallel.h"
#include "speech/tts/cosyvoice_text.h"
#include "speech/tts/engine_voice.h"
#include "speech/tts/text_split.h"
#include "speech/voice_prompt/voice_prompt_encoder.h"

namespace cadence::speech {
namespace {

namespace fs = std::filesystem;

// What Flite's slt says to prompt the default voice when no --voice-prompt is given.
constexpr char kDefaultPromptText[] =
    "Hello there. It is a bright morning, and I am glad to help you with whatever you need today.";

struct Voice {
  VoiceInfo info;
  std::string transcript;
  engine::VoicePrompt prompt;                // the flow's
  std::vector<engine::TokenId> prompt_text;  // the LM's (transcript)
  // A token2wav stream with the prompt's caches computed once (the published set-up costs as much
  // as a few seconds of speech); each reply starts from a copy.
  std::shared_ptr<const engine::Token2Wav::Stream> primed;
};

class NeuralSynthesizer : public Synthesizer {
 public:
  Status Init(const NeuralVoiceConfig& config);

  Status Synthesize(const SynthesisRequest& request, const CancelToken& cancel,
                    const AudioSink& on_audio) const override;
  std::vector<VoiceInfo> Voices() const override {
    std::vector<VoiceInfo> out;
    for (const auto& v : voices_) out.push_back(v.info);
    return out;
  }
  Result<std::string> ResolveVoice(std::string_view name) const override;

 private:
  Status AddVoice(const std::string& name, const std::vector<float>& samples, int rate_hz,
                  const std::string& transcript, const voice_prompt::VoicePromptEncoder& encoder);

  NeuralVoiceConfig config_;
  std::unique_ptr<engine::CosyVoiceLm> lm_;
  std::unique_ptr<engine::Token2Wav> t2w_;
  std::vector<Voice> voices_;
};

Status NeuralSynthesizer::Init(const NeuralVoiceConfig& config) {
  config_ = config;
  if (config_.token2wav_dir.empty()) config_.token2wav_dir = config_.lm_dir;
  engine::LoadOptions lm_options;
  lm_options.threads = config_.threads;
  lm_options.quantize_q8_0 = config_.lm_q8_0;
  auto lm = engine::CosyVoiceLm::Load(config_.lm_dir, lm_options);
  if (!lm.ok()) return lm.status().WithContext("--voice-model");
  lm_ = std::move(lm).value();
  engine::Token2Wav::Options t2w_options;
  t2w_options.n_timesteps = config_.n_timesteps;
  t2w_options.seed = config_.seed;
  auto t2w = engine::Token2Wav::Load(config_.token2wav_dir, t2w_options);
  if (!t2w.ok()) return t2w.status().WithContext("--voice-token2wav");
  t2w_ = std::move(t2w).value();
  voice_prompt::VoicePromptConfig prompt_config;
  prompt_config.campplus_path = (fs::path(config_.token2wav_dir) / "campplus.onnx").string();
  prompt_config.tokenizer_path = (fs::path(config_.token2wav_dir) / "speech_tokenizer_v2_25hz.onnx").string();
  auto encoder = voice_prompt::VoicePromptEncoder::Create(prompt_config);
  if (!encoder.ok()) return encoder.status().WithContext("--voice-token2wav");
  for (const auto& p : config_.prompts) {
    auto wav = audio::ReadWav(p.wav_path);
    if (!wav.ok()) return wav.status().WithContext("--voice-prompt " + p.name);
    CADENCE_RETURN_IF_ERROR(AddVoice(p.name, wav->samples, wav->sample_rate_hz, p.transcript, **encoder));
  }
  if (!config_.default_voice.empty() && !voices_.empty()) {
    auto it = std::find_if(voices_.begin(), voices_.end(), [&](const Voice& v) { return v.info.id == config_.default_voice; });
    if (it == voices_.end())
      return Status::InvalidArgument("--voice " + config_.default_voice + ": no neural voice of that name (give it with --voice-prompt)");
    std::rotate(voices_.begin(), it, it + 1);
  }
  if (voices_.empty()) {
    auto slt = CreateFliteVoice("slt");
    if (!slt.ok()) return slt.status().WithContext("the default neural voice's prompt (Flite slt)");
    std::vector<float> samples;
    CADENCE_RETURN_IF_ERROR((*slt)->Render(kDefaultPromptText, EngineProsody{}, CancelToken{}, &samples));
    CADENCE_RETURN_IF_ERROR(AddVoice("default", std::move(samples), (*slt)->sample_rate_hz(), kDefaultPromptText, **encoder));
  }
  return Status::Ok();
}

Status NeuralSynthesizer::AddVoice(const std::string& name, const std::vector<float>& samples, int rate_hz,
                                   const std::string& transcript, const voice_prompt::VoicePromptEncoder& encoder) {
  // Step-Audio 2's token2wav pads the prompt mel to two frames per token with its last frame.
  auto encoded = encoder.EncodeAudio(samples, rate_hz, voice_prompt::MelTokenAlignment::kPadLastFrame);
  if (!encoded.ok()) return encoded.status().WithContext("voice prompt " + name);
  engine::VoicePrompt prompt;
  prompt.tokens.assign(encoded->tokens.begin(), encoded->tokens.end());
  prompt.mel = std::move(encoded->mel.data);
  prompt.speaker_embedding = std::move(encoded->speaker_embedding);
  Voice v;
  v.info.id = name;
  v.info.engine = "cosyvoice2";
  v.info.language = ContainsHan(transcript) ? "zh" : "en";
  v.info.description = "zero-shot neural voice (CosyVoice 2 LM + token2wav) prompted by " +
                       (name == "default" ? std::string("Flite slt") : name);
  v.transcript = transcript;
  v.prompt = std::move(prompt);
  v.prompt_text = lm_->EncodeText(transcript);
  CADENCE_RETURN_IF_ERROR(t2w_->CheckPrompt(v.prompt).WithContext("voice prompt " + name));
  engine::WorkerTeam team(config_.threads);
  auto primed = t2w_->Start(v.prompt, config_.seed, &team);
  if (!primed.ok()) return primed.status().WithContext("voice prompt " + name);
  v.primed = std::move(primed).value();
  voices_.push_back(std::move(v));
  return Status::Ok();
}

Result<std::string> NeuralSynthesizer::ResolveVoice(std::string_view name) const {
  for (const auto& v : voices_)
    if (v.info.id == name) return v.info.id;
  static const char* kVendor[] = {"alloy", "ash",   "ballad", "coral", "echo",           "sage",
                                  "shimmer", "verse", "marin", "cedar", "qingchunshaonv", "wenrounansheng"};
  for (const char* vendor : kVendor)
    if (name == vendor) return voices_.front().info.id;
  std::string known;
  for (const auto& v : voices_) known += (known.empty() ? "" : ", ") + v.info.id;
  return Status::InvalidArgument("voice '" + std::string(name) + "' is not a neural voice here (voices: " + known +
                                 "; add one with --voice-prompt NAME=FILE.wav:TEXT)");
}

Status NeuralSynthesizer::Synthesize(const SynthesisRequest& request, const CancelToken& cancel,
                                     const AudioSink& on_audio) const {
  const Voice* voice = &voices_.front();
  for (const auto& v : voices_)
    if (v.info.id == request.voice) voice = &v;
  Tone tone = request.tone;
  tone.rate *= request.speed;
  const CosyVoiceText text = ToCosyVoiceText(request.text, tone);
  if (text.text.empty()) return Status::Ok();
  const std::vector<engine::TokenId> ids = lm_->EncodeText(text.text);
  // Instruct mode: the instruction is the LM's prompt and it hears no prompt speech (the flow keeps
  // the voice); zero-shot: the transcript and the clip's tokens.
  const bool instruct = !text.instruction.empty();
  const std::vector<engine::TokenId> prompt_text = instruct ? lm_->EncodeText(text.instruction) : voice->prompt_text;
  std::vector<int> prompt_speech;
  if (!instruct) prompt_speech.assign(voice->prompt.tokens.begin(), voice->prompt.tokens.end());

  engine::WorkerTeam team(config_.threads);
  auto stream = std::make_unique<engine::Token2Wav::Stream>(*voice->primed);
  const size_t look = static_cast<size_t>(t2w_->config().encoder.pre_lookahead_len);
  const size_t chunk = static_cast<size_t>(config_.chunk_tokens);
  std::vector<int32_t> pending;
  Status failure = Status::Ok();
  bool listening = true;
  auto on_token = [&](int token) {
    pending.push_back(token);
    if (pending.size() < chunk + look) return true;
    auto audio = stream->Push(std::span<const int32_t>(pending.data(), chunk + look), &team);
    if (!audio.ok()) {
      failure = audio.status();
      return false;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(chunk));
    if (!audio->empty() && !on_audio(*audio)) listening = false;
    return listening && !cancel.cancelled();
  };
  engine::CosyVoiceSampling sampling;
  auto tokens = lm_->Generate(ids, prompt_text, prompt_speech, sampling, config_.seed, on_token, &cancel);
  if (!tokens.ok()) return tokens.status();
  CADENCE_RETURN_IF_ERROR(failure);
  if (!listening || cancel.cancelled()) return Status::Ok();
  auto tail = stream->Finish(pending, &team);
  if (!tail.ok()) return tail.status();
  if (!tail->empty()) on_audio(*tail);
  return Status::Ok();
}

}  // namespace

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

Result<std::unique_ptr<Synthesizer>> CreateNeuralSynthesizer(const NeuralVoiceConfig& config) {
  auto s = std::make_unique<NeuralSynthesizer>();
  CADENCE_RETURN_IF_ERROR(s->Init(config));
  return std::unique_ptr<Synthesizer>(std::move(s));
}

}  // namespace cadence::speech
