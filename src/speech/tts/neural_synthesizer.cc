#include "speech/tts/neural_synthesizer.h"

#include <map>

#include "engine/models/cosyvoice_lm.h"
#include "speech/tts/cosyvoice_text.h"

namespace cadence::speech {
namespace {

class NeuralSynthesizer : public Synthesizer {
 public:
  Status Init(const NeuralVoiceConfig& config);

  Status Synthesize(const SynthesisRequest& request, const CancelToken& cancel,
                    const AudioSink& on_audio) const override;
  std::vector<VoiceInfo> Voices() const override { return voices_->Voices(); }
  Result<std::string> ResolveVoice(std::string_view name) const override { return voices_->ResolveVoice(name); }

 private:
  NeuralVoiceConfig config_;
  std::unique_ptr<engine::CosyVoiceLm> lm_;
  std::unique_ptr<TokenVoices> voices_;
  std::map<std::string, std::vector<engine::TokenId>> prompt_text_;  // voice id -> its transcript's ids
};

Status NeuralSynthesizer::Init(const NeuralVoiceConfig& config) {
  config_ = config;
  engine::LoadOptions lm_options;
  lm_options.threads = config_.threads;
  lm_options.quantize_q8_0 = config_.lm_q8_0;
  auto lm = engine::CosyVoiceLm::Load(config_.lm_dir, lm_options);
  if (!lm.ok()) return lm.status().WithContext("--voice-model");
  lm_ = std::move(lm).value();
  TokenVoicesConfig voices;
  voices.token2wav_dir = config_.token2wav_dir.empty() ? config_.lm_dir : config_.token2wav_dir;
  voices.prompts = config_.prompts;
  voices.default_voice = config_.default_voice;
  voices.threads = config_.threads;
  voices.chunk_tokens = config_.chunk_tokens;
  voices.n_timesteps = config_.n_timesteps;
  voices.seed = config_.seed;
  voices.engine_name = "cosyvoice2";
  auto created = TokenVoices::Create(voices);
  if (!created.ok()) return created.status().WithContext("--voice-token2wav");
  voices_ = std::move(created).value();
  for (const VoiceInfo& info : voices_->Voices())
    prompt_text_[info.id] = lm_->EncodeText(voices_->Find(info.id).transcript);
  return Status::Ok();
}

Status NeuralSynthesizer::Synthesize(const SynthesisRequest& request, const CancelToken& cancel,
                                     const AudioSink& on_audio) const {
  const TokenVoice& voice = voices_->Find(request.voice);
  Tone tone = request.tone;
  tone.rate *= request.speed;
  const CosyVoiceText text = ToCosyVoiceText(request.text, tone);
  if (text.text.empty()) return Status::Ok();
  const std::vector<engine::TokenId> ids = lm_->EncodeText(text.text);
  // Instruct mode: the instruction is the LM's prompt and it hears no prompt speech (the flow keeps
  // the voice); zero-shot: the transcript and the clip's tokens.
  const bool instruct = !text.instruction.empty();
  const std::vector<engine::TokenId> prompt_text =
      instruct ? lm_->EncodeText(text.instruction) : prompt_text_.at(voice.info.id);
  std::vector<int> prompt_speech;
  if (!instruct) prompt_speech = voice.prompt_tokens;

  bool listening = true;
  auto speaker = voices_->Start(voice.info.id, [&](std::span<const float> audio) {
    listening = on_audio(audio) && listening;
    return listening;
  });
  if (!speaker.ok()) return speaker.status();
  Status failure = Status::Ok();
  auto on_token = [&](int token) {
    auto pushed = (*speaker)->Push(std::span<const int>(&token, 1));
    if (!pushed.ok()) {
      failure = pushed.status();
      return false;
    }
    return *pushed && !cancel.cancelled();
  };
  engine::CosyVoiceSampling sampling;
  auto tokens = lm_->Generate(ids, prompt_text, prompt_speech, sampling, config_.seed, on_token, &cancel);
  if (!tokens.ok()) return tokens.status();
  CADENCE_RETURN_IF_ERROR(failure);
  if (!listening || cancel.cancelled()) return Status::Ok();
  return (*speaker)->Finish();
}

}  // namespace

Result<std::unique_ptr<Synthesizer>> CreateNeuralSynthesizer(const NeuralVoiceConfig& config) {
  auto s = std::make_unique<NeuralSynthesizer>();
  CADENCE_RETURN_IF_ERROR(s->Init(config));
  return std::unique_ptr<Synthesizer>(std::move(s));
}

}  // namespace cadence::speech
