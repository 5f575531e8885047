#include "engine/models/flow_matching.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cadence::engine {

Status CfmConfig::Validate() const {
  if (n_timesteps < 1) {
    return Status::InvalidArgument("CFM: n_timesteps is " + std::to_string(n_timesteps) + ", must be at least 1");
  }
  if (!(inference_cfg_rate > 0.0)) {
    return Status::InvalidArgument("CFM: inference_cfg_rate must be positive (the published solver requires it)");
  }
  return Status::Ok();
}

std::vector<float> CosineTimeSpan(int n_timesteps) {
  // torch.linspace in float: start + step * i for the first half, end - step * (steps - 1 - i) after.
  const int64_t steps = n_timesteps + 1;
  const float step = 1.0f / static_cast<float>(n_timesteps);
  const float half_pi_factor = 0.5f;
  const float pi = std::numbers::pi_v<float>;
  std::vector<float> span(steps);
  for (int64_t i = 0; i < steps; ++i) {
    const float s = i < steps / 2 ? step * static_cast<float>(i) : 1.0f - step * static_cast<float>(steps - 1 - i);
    span[i] = 1.0f - std::cos(s * half_pi_factor * pi);
  }
  return span;
}

void CfmStream::Trim(int64_t first, int64_t last) {
  for (DitCache& cache : steps_) cache.Trim(first, last);
}

int64_t CfmStream::bytes() const {
  int64_t n = 0;
  for (const DitCache& cache : steps_) n += cache.bytes();
  return n;
}

Result<std::unique_ptr<CausalConditionalCfm>> CausalConditionalCfm::Create(const Dit* dit, const CfmConfig& config,
                                                                           WorkerTeam* team) {
  CADENCE_RETURN_IF_ERROR(config.Validate());
  if (dit == nullptr) return Status::InvalidArgument("CFM: no estimator");
  std::unique_ptr<CausalConditionalCfm> cfm(new CausalConditionalCfm());
  cfm->dit_ = dit;
  cfm->config_ = config;
  const std::vector<float> span = CosineTimeSpan(config.n_timesteps);
  float t = span[0], dt = span[1] - span[0];
  for (int step = 1; step <= config.n_timesteps; ++step) {
    cfm->step_times_.push_back(t);
    cfm->step_dts_.push_back(dt);
    cfm->timesteps_.push_back(dit->Timestep(t, team));
    t = t + dt;
    if (step < config.n_timesteps) dt = span[step + 1] - t;
  }
  return cfm;
}

Status CausalConditionalCfm::Solve(const CfmInputs& in, float* mel, WorkerTeam* team) const {
  return Run(in, nullptr, mel, team);
}

Status CausalConditionalCfm::SolveChunk(const CfmInputs& in, CfmStream* stream, float* mel, WorkerTeam* team) const {
  if (stream->steps_.empty()) stream->steps_.resize(config_.n_timesteps);
  if (static_cast<int>(stream->steps_.size()) != config_.n_timesteps) {
    return Status::InvalidArgument("CFM: the stream was started with " + std::to_string(stream->steps_.size()) +
                                   " steps, the solver has " + std::to_string(config_.n_timesteps));
  }
  return Run(in, stream, mel, team);
}

Status CausalConditionalCfm::Run(const CfmInputs& in, CfmStream* stream, float* mel, WorkerTeam* team) const {
  if (in.frames < 1 || in.mu == nullptr || in.spks == nullptr || in.noise == nullptr) {
    return Status::InvalidArgument("CFM: frames, mu, spks and noise are required");
  }
  const int64_t channels = dit_->config().out_channels, n = in.frames * channels;
  // The pair: conditional (mu, spks, cond), then unconditional (zeros).
  std::vector<float> x(in.noise, in.noise + n), x2(2 * n), v(2 * n), mu2(2 * n, 0.0f), cond2(2 * n, 0.0f),
      spks2(2 * channels, 0.0f);
  std::copy_n(in.mu, n, mu2.begin());
  if (in.cond != nullptr) std::copy_n(in.cond, n, cond2.begin());
  std::copy_n(in.spks, channels, spks2.begin());
  const float conditional = static_cast<float>(1.0 + config_.inference_cfg_rate);
  const float unconditional = static_cast<float>(config_.inference_cfg_rate);
  for (int step = 0; step < config_.n_timesteps; ++step) {
    std::copy(x.begin(), x.end(), x2.begin());
    std::copy(x.begin(), x.end(), x2.begin() + n);
    const DitTimestep* ts[2] = {&timesteps_[step], &timesteps_[step]};
    DitInputs call{.batch = 2,
                   .frames = in.frames,
                   .x = x2.data(),
                   .mu = mu2.data(),
                   .spks = spks2.data(),
                   .cond = cond2.data(),
                   .timesteps = ts};
    CADENCE_RETURN_IF_ERROR(stream != nullptr ? dit_->ForwardChunk(call, &stream->steps_[step], v.data(), team)
                                              : dit_->Forward(call, v.data(), team));
    const float dt = step_dts_[step];
    for (int64_t i = 0; i < n; ++i) x[i] += dt * (conditional * v[i] - unconditional * v[n + i]);
  }
  std::copy(x.begin(), x.end(), mel);
  return Status::Ok();
}

}  // namespace cadence::engine
