#include "server/engine_set.h"

#include "speech/tts/neural_synthesizer.h"
#include "speech/tts/token_voices.h"

#include <filesystem>

#include "brain/factory.h"
#include "brain/guarded_brain.h"
#include "brain/scripted_brain.h"
#include "paralinguistics/analyzer.h"
#include "persona/store.h"
#include "speech/asr/recognizer.h"
#include "speech/tts/synthesizer.h"
#include "speech/vad/vad.h"

namespace cadence::server {

EngineSet::~EngineSet() = default;

namespace {

// The voice prompts --voice-prompt and --voice-prompts give.
Result<std::vector<speech::NeuralVoicePrompt>> VoicePrompts(const EngineOptions& options) {
  std::vector<speech::NeuralVoicePrompt> out;
  if (!options.voice_prompt.empty()) {
    auto prompt = speech::ParseVoicePrompt(options.voice_prompt);
    if (!prompt.ok()) return prompt.status();
    out.push_back(std::move(prompt).value());
  }
  if (!options.voice_prompts.empty()) {
    auto prompts = speech::ReadVoicePromptFolder(options.voice_prompts);
    if (!prompts.ok()) return prompts.status();
    out.insert(out.end(), prompts->begin(), prompts->end());
  }
  return out;
}

// A speaking brain's voices: Step-Audio 2's token2wav/ (in the model folder, or --voice-token2wav,
// which the vLLM backend needs: the speech is rendered here).
Result<std::unique_ptr<speech::TokenVoices>> CreateTokenVoices(const EngineOptions& options) {
  speech::TokenVoicesConfig config;
  config.token2wav_dir = options.voice_token2wav;
  if (config.token2wav_dir.empty() && !options.llm_model.empty())
    config.token2wav_dir = (std::filesystem::path(options.llm_model) / "token2wav").string();
  if (config.token2wav_dir.empty())
    return Status::InvalidArgument(
        "--brain step-audio-2 --llm-url: the speech tokens are rendered here; give --voice-token2wav DIR (the "
        "token2wav/ folder of the Step-Audio-2-mini download)");
  config.n_timesteps = options.voice_steps;
  config.default_voice = options.voice;
  config.engine_name = "step-audio-2+token2wav";
  CADENCE_ASSIGN_OR_RETURN(config.prompts, VoicePrompts(options));
  auto voices = speech::TokenVoices::Create(config);
  if (!voices.ok()) return voices.status().WithContext("token2wav " + config.token2wav_dir);
  return voices;
}

Result<std::unique_ptr<speech::Synthesizer>> CreateNeuralVoice(const EngineOptions& options) {
  speech::NeuralVoiceConfig config;
  config.lm_dir = options.voice_model;
  config.token2wav_dir = options.voice_token2wav;
  config.n_timesteps = options.voice_steps;
  config.lm_q8_0 = !options.voice_lm_f32;
  config.default_voice = options.voice;
  CADENCE_ASSIGN_OR_RETURN(config.prompts, VoicePrompts(options));
  return speech::CreateNeuralSynthesizer(config);
}

}  // namespace

Result<std::unique_ptr<EngineSet>> EngineSet::Build(const EngineOptions& options) {
  std::unique_ptr<EngineSet> set(new EngineSet());
  auto store = persona::PersonaStore::Load(options.personas_dir);
  if (!store.ok()) return store.status().WithContext("--personas");
  set->personas_ = std::make_unique<persona::PersonaStore>(std::move(store).value());

  if (!options.vad_model.empty() && !std::filesystem::is_regular_file(options.vad_model))
    return Status::NotFound("--vad-model: no file '" + options.vad_model + "'");
  speech::VadConfig vad_config;
  vad_config.model_path = options.vad_model;
  set->vad_ = speech::CreateVad(vad_config);
  if (!set->vad_) return Status::Internal("no voice activity detector could be created");

  if (!options.asr_model.empty() && !std::filesystem::exists(options.asr_model))
    return Status::NotFound("--asr-model: no file '" + options.asr_model + "'");
  if (options.asr_beam < 1 || options.asr_beam > 16)
    return Status::InvalidArgument("--asr-beam must be a number from 1 to 16 (1: greedy)");
  if (options.asr_window != "full" && options.asr_window != "speech")
    return Status::InvalidArgument("--asr-window must be full (the padded 30-s window) or speech (the utterance only)");
  if (!(options.asr_temperature_inc >= 0.0 && options.asr_temperature_inc <= 1.0))
    return Status::InvalidArgument("--asr-temperature-inc must be a number from 0 (no fallback) to 1");
  if (options.asr_preload < 1 || options.asr_preload > 256)
    return Status::InvalidArgument("--asr-preload must be a number from 1 to 256 (decoders loaded at start)");
  speech::RecognizerConfig asr_config;
  asr_config.model_path = options.asr_model;
  asr_config.fast = !options.asr_accurate;
  asr_config.language = options.asr_language;
  asr_config.beam_size = options.asr_beam;
  asr_config.preload = options.asr_preload;
  asr_config.max_decoders = options.asr_max_decoders;
  asr_config.encode_padding = options.asr_window == "full";
  asr_config.temperature_increment = options.asr_temperature_inc;
  auto asr = speech::CreateRecognizer(asr_config);
  if (!asr.ok()) return asr.status().WithContext("speech recognizer");
  set->asr_ = std::move(asr).value();

  speech::SynthesizerConfig tts_config;
  auto tts = options.voice_model.empty() ? speech::CreateSynthesizer(tts_config) : CreateNeuralVoice(options);
  if (!tts.ok()) return tts.status().WithContext("speech synthesizer");
  set->tts_ = std::move(tts).value();
  set->default_voice_ = options.voice;
  set->neural_voice_ = !options.voice_model.empty();
  if (!options.voice.empty() && options.voice_model.empty()) {
    auto voice = set->tts_->ResolveVoice(options.voice);
    if (!voice.ok()) return voice.status().WithContext("--voice");
    tts_config.default_voice = *voice;
    auto voiced = speech::CreateSynthesizer(tts_config);
    if (!voiced.ok()) return voiced.status().WithContext("speech synthesizer");
    set->tts_ = std::move(voiced).value();
  }

  const bool step_audio = options.brain == "step-audio-2";
  if (!options.llm_url.empty() && options.llm_name.empty() && !step_audio)
    return Status::InvalidArgument("--llm-url needs --llm-model NAME (the model the endpoint serves)");
  brain::BrainConfig brain_config;
  brain_config.kind = options.brain;
  brain_config.model_path = options.llm_model;
  brain_config.slots = options.llm_slots;
  brain_config.llm_url = options.llm_url;
  brain_config.llm_model = options.llm_name;
  brain_config.api_key = options.llm_api_key;
  auto brain = brain::CreateBrain(brain_config, brain::CreateScriptedBrain(*set->personas_));
  if (!brain.ok()) return brain.status();
  if ((*brain)->speaks()) {
    auto voices = CreateTokenVoices(options);
    if (!voices.ok()) return voices.status();
    set->token_voices_ = std::move(voices).value();
  }
  // Every brain speaks through the out-of-character guard, whichever produced the text.
  set->brain_ = brain::CreateGuardedBrain(std::move(brain).value(), nullptr, &set->personas_->Default());

  auto analyzer = paralinguistics::Analyzer::Create(paralinguistics::AnalyzerConfig{});
  if (!analyzer.ok()) return analyzer.status().WithContext("paralinguistics analyzer");
  set->analyzer_ = std::move(analyzer).value();
  return set;
}

realtime::Engines EngineSet::Engines(ThreadPool* workers, ThreadPool* reply_workers,
                                     ThreadPool* brain_workers) const {
  realtime::Engines e;
  e.vad = vad_.get();
  e.asr = asr_.get();
  e.tts = tts_.get();
  e.brain = brain_.get();
  e.token_voices = token_voices_.get();
  e.personas = personas_.get();
  e.analyzer = analyzer_.get();
  e.workers = workers;
  e.reply_workers = reply_workers;
  e.brain_workers = brain_workers;
  return e;
}

realtime::HealthInfo EngineSet::Health() const {
  realtime::HealthInfo info;
  info.vad = std::string(vad_->name());
  info.asr = std::string(asr_->name());
  info.tts = token_voices_ ? "step-audio-2+token2wav" : neural_voice_ ? "cosyvoice2+token2wav" : "flite+espeak-ng";
  info.brain = std::string(brain_->kind());
  return info;
}

std::string EngineSet::PersonasJson() const {
  return realtime::PersonasJson(personas_->List(), personas_->Default().id);
}

std::string EngineSet::VoicesJson() const {
  if (token_voices_) return realtime::VoicesJson(token_voices_->Voices(), token_voices_->Voices().front().id);
  const auto voices = tts_->Voices();
  std::string default_id = voices.empty() ? "" : voices.front().id;
  if (auto resolved = tts_->ResolveVoice(default_voice_); !default_voice_.empty() && resolved.ok()) default_id = *resolved;
  return realtime::VoicesJson(voices, default_id);
}

}  // namespace cadence::server
