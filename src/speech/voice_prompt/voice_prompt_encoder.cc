#include "speech/voice_prompt/voice_prompt_encoder.h"

#include <utility>

#include "audio/resampler.h"
#include "speech/asr/whisper/log_mel.h"
#include "speech/voice_prompt/kaldi_fbank.h"

namespace cadence::speech::voice_prompt {
namespace {

using engine::onnx::OnnxInterpreter;
using engine::onnx::OnnxModel;
using engine::onnx::Tensor;

constexpr int kTokenizerMels = 128;
constexpr int kCodebookSize = 6561;  // 3^8 FSQ codes
constexpr size_t kMaxTokenizerSamples = 30 * 16000;

Result<OnnxModel> LoadChecked(const std::string& path, const char* role, size_t inputs) {
  auto model = engine::onnx::LoadOnnxModel(path);
  if (!model.ok()) return Status(model.status().code(), std::string(role) + ": " + model.status().message());
  Status valid = OnnxInterpreter(*model).Validate();
  if (!valid.ok()) return Status(valid.code(), std::string(role) + " " + path + ": " + valid.message());
  if (model->graph.inputs.size() < inputs || model->graph.outputs.empty()) {
    return Status::InvalidArgument(std::string(role) + " " + path + ": the graph has " +
                                   std::to_string(model->graph.inputs.size()) + " inputs and " +
                                   std::to_string(model->graph.outputs.size()) + " outputs; expected " +
                                   std::to_string(inputs) + " inputs and an output");
  }
  return model;
}

}  // namespace

Status VoicePromptConfig::Validate() const {
  if (campplus_path.empty()) return Status::InvalidArgument("voice prompt: campplus_path (campplus.onnx) is not set");
  if (tokenizer_path.empty()) {
    return Status::InvalidArgument("voice prompt: tokenizer_path (speech_tokenizer_v2_25hz.onnx) is not set");
  }
  return Status::Ok();
}

std::string VoicePromptConfig::ToString() const {
  return "VoicePromptConfig(campplus_path=\"" + campplus_path + "\", tokenizer_path=\"" + tokenizer_path + "\")";
}

Result<std::unique_ptr<VoicePromptEncoder>> VoicePromptEncoder::Create(const VoicePromptConfig& config) {
  CADENCE_RETURN_IF_ERROR(config.Validate());
  CADENCE_ASSIGN_OR_RETURN(OnnxModel campplus, LoadChecked(config.campplus_path, "speaker encoder (CAM++)", 1));
  CADENCE_ASSIGN_OR_RETURN(OnnxModel tokenizer, LoadChecked(config.tokenizer_path, "speech tokenizer", 2));
  return std::unique_ptr<VoicePromptEncoder>(new VoicePromptEncoder(config, std::move(campplus), std::move(tokenizer)));
}

VoicePromptEncoder::VoicePromptEncoder(VoicePromptConfig config, OnnxModel campplus, OnnxModel tokenizer)
    : config_(std::move(config)),
      campplus_model_(std::move(campplus)),
      tokenizer_model_(std::move(tokenizer)),
      campplus_(campplus_model_),
      tokenizer_(tokenizer_model_) {}

Result<std::vector<float>> VoicePromptEncoder::SpeakerEmbedding(std::span<const float> samples_16k) const {
  CADENCE_ASSIGN_OR_RETURN(Fbank fbank, ComputeKaldiFbank(samples_16k));
  SubtractMeanOverTime(&fbank);
  Tensor input = Tensor::Float({1, fbank.n_frames, fbank.n_bins}, std::move(fbank.data));
  auto out = campplus_.Run({{campplus_.inputs()[0].name, std::move(input)}});
  if (!out.ok()) return Status(out.status().code(), config_.campplus_path + ": " + out.status().message());
  const Tensor& embedding = (*out)[0];
  if (!embedding.is_float()) return Status::InvalidArgument(config_.campplus_path + ": the embedding is not float");
  return embedding.floats;
}

Result<std::vector<int>> VoicePromptEncoder::SpeechTokens(std::span<const float> samples_16k) const {
  if (samples_16k.size() > kMaxTokenizerSamples) {
    return Status::InvalidArgument("speech tokenizer: the prompt is " + std::to_string(samples_16k.size() / 16000.0) +
                                   " s long; the S3 tokenizer takes at most 30 s");
  }
  whisper::LogMelOptions options;
  options.n_mels = kTokenizerMels;
  CADENCE_ASSIGN_OR_RETURN(whisper::LogMel mel, whisper::ComputeLogMel(samples_16k, options));
  const int64_t frames = mel.n_frames;
  Tensor feats = Tensor::Float({1, mel.n_mels, frames}, std::move(mel.data));
  Tensor length = Tensor::Int64({1}, {frames});
  auto out = tokenizer_.Run({{tokenizer_.inputs()[0].name, std::move(feats)}, {tokenizer_.inputs()[1].name, std::move(length)}});
  if (!out.ok()) return Status(out.status().code(), config_.tokenizer_path + ": " + out.status().message());
  const Tensor& indices = (*out)[0];
  std::vector<int> tokens(indices.size());
  for (int64_t i = 0; i < indices.size(); ++i) {
    const int64_t id = indices.AsInt(i);
    if (id < 0 || id >= kCodebookSize) {
      return Status::DataLoss(config_.tokenizer_path + ": token " + std::to_string(id) + " at " + std::to_string(i) +
                              " is outside 0.." + std::to_string(kCodebookSize - 1));
    }
    tokens[i] = static_cast<int>(id);
  }
  return tokens;
}

Result<VoicePrompt> VoicePromptEncoder::Encode(std::span<const float> samples_16k, std::span<const float> samples_24k,
                                               MelTokenAlignment alignment) const {
  VoicePrompt prompt;
  CADENCE_ASSIGN_OR_RETURN(prompt.speaker_embedding, SpeakerEmbedding(samples_16k));
  CADENCE_ASSIGN_OR_RETURN(prompt.tokens, SpeechTokens(samples_16k));
  CADENCE_ASSIGN_OR_RETURN(prompt.mel, ComputePromptMel(samples_24k));
  AlignMelToTokens(alignment, &prompt.mel, &prompt.tokens);
  return prompt;
}

Result<VoicePrompt> VoicePromptEncoder::EncodeAudio(std::span<const float> samples, int sample_rate_hz,
                                                    MelTokenAlignment alignment) const {
  if (sample_rate_hz < 8000 || sample_rate_hz > 192000) {
    return Status::InvalidArgument("voice prompt: sample rate " + std::to_string(sample_rate_hz) +
                                   " Hz is outside 8000..192000");
  }
  auto at = [&](int rate) {
    return rate == sample_rate_hz ? std::vector<float>(samples.begin(), samples.end())
                                  : audio::Resample(samples, sample_rate_hz, rate);
  };
  const std::vector<float> samples_16k = at(16000), samples_24k = at(kPromptMelSampleRateHz);
  return Encode(samples_16k, samples_24k, alignment);
}

}  // namespace cadence::speech::voice_prompt
