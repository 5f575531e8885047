#include "brain/factory.h"

#include <algorithm>

#include "brain/engine_brain.h"
#include "brain/remote_brain.h"
#include "brain/step_audio_brain.h"
#include "core/log.h"

namespace cadence::brain {

Result<std::unique_ptr<Brain>> CreateBrain(const BrainConfig& config, std::unique_ptr<Brain> scripted) {
  std::string kind = config.kind;
  if (kind.empty()) kind = !config.model_path.empty() ? "engine" : !config.llm_url.empty() ? "remote" : "scripted";
  if (kind == "engine") {
    if (config.model_path.empty())
      return Status::InvalidArgument("brain: kind engine needs a model file (--model FILE.gguf)");
    EngineBrainOptions options;
    options.threads = config.threads;
    options.kv_tokens = config.kv_tokens;
    options.slots = config.slots;
    auto brain = CreateEngineBrain(config.model_path, options);
    if (!brain.ok()) return brain.status().WithContext("brain: loading --model");
    CADENCE_LOG(kInfo, "brain", "engine brain on %s", config.model_path.c_str());
    return std::move(brain).value();
  }
  if (kind == "remote") {
    if (config.llm_url.empty())
      return Status::InvalidArgument("brain: kind remote needs --llm-url http://HOST:PORT/v1");
    if (config.llm_url.rfind("http://", 0) != 0 && config.llm_url.rfind("https://", 0) != 0)
      return Status::InvalidArgument("brain: --llm-url '" + config.llm_url + "' must start with http:// or https://");
    RemoteBrainOptions options;
    options.base_url = config.llm_url;
    options.model = config.llm_model;
    options.api_key = config.api_key;
    options.first_byte_timeout_ms = config.timeout_ms;
    options.retries = config.retries;
    CADENCE_LOG(kInfo, "brain", "remote brain at %s model=%s", config.llm_url.c_str(), config.llm_model.c_str());
    return CreateRemoteBrain(std::move(options));
  }
  if (kind == "step-audio-2") {
    StepAudioBrainOptions options;
    options.model_dir = config.model_path;
    options.threads = config.threads;
    options.slots = std::min(config.slots, 8);
    options.vllm.url = config.llm_url;
    if (!config.llm_model.empty()) options.vllm.model = config.llm_model;
    options.vllm.api_key = config.api_key;
    options.vllm.timeout_s = config.timeout_ms / 1000.0;
    return CreateStepAudioBrain(options);
  }
  if (kind == "scripted") {
    if (!scripted) return Status::FailedPrecondition("brain: no scripted brain was provided");
    return scripted;
  }
  return Status::InvalidArgument("brain: unknown kind '" + kind + "' (scripted, engine, remote, step-audio-2)");
}

}  // namespace cadence::brain
