// CausalConditionalCfm: the flow-matching solver of Step-Audio 2's token2wav (CosyVoice 2's
// CausalConditionalCFM with the DiT estimator, `cosyvoice2/flow/flow_matching.py`): integrates
// dx/dt = Dit(x, t | mu, spks, cond) from noise at t = 0 to a mel spectrogram at t = 1.
//
//   t_span   t_i = 1 - cos(i / n * pi / 2), i = 0 .. n (n = n_timesteps, 10 published): small
//            steps near the noise, large near the data.
//   Euler    x += dt * ((1 + rate) * v_cond - rate * v_uncond), rate = inference_cfg_rate (0.7);
//            v_cond sees (mu, spks, cond), v_uncond zeros for all three. Both run as one estimator
//            call of batch 2 (the weights are read once per step). t accumulates in float and the
//            next dt is t_{i+1} - t, as published.
//   noise    the start point x(0) is the caller's (published: a fixed N(0, 1) buffer [80][30000]
//            sliced at the stream's offset, times the temperature 1.0), so results are reproducible
//            and tests can supply the reference's.
//
// Streaming (SolveChunk): each Euler step keeps its own DitCache (a CfmStream holds n of them), as
// the published forward_chunk does: chunk k's step i attends to the step-i keys of every earlier
// chunk. The published decode first solves the prompt (cond = prompt mel) as a chunk, then each
// new chunk with cond = 0, and takes a chunk's noise from its buffer at offset
// CfmStream::cached_frames() (after any Trim).
//
// Layout time-major f32 ([frames][mel], mel = the Dit's out_channels). The solver is immutable
// after Create (it holds the n timesteps' modulation, computed once) and may be shared by many
// threads, each with its own CfmStream. `team` may be null. The Dit must outlive the solver.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/models/flow_dit.h"
#include "engine/parallel.h"

namespace cadence::engine {

struct CfmConfig {
  int n_timesteps = 10;
  double inference_cfg_rate = 0.7;  // double as in the published Python (1 + rate rounds once, to float)
  Status Validate() const;
};

// t_span as PyTorch computes it in float32: 1 - cos(linspace(0, 1, n + 1) * 0.5 * pi).
std::vector<float> CosineTimeSpan(int n_timesteps);

// One utterance or chunk; mel = the Dit's out_channels.
struct CfmInputs {
  int64_t frames = 0;
  const float* mu = nullptr;     // [frames][mel] (the encoder's output, projected)
  const float* spks = nullptr;   // [mel] (the projected speaker embedding)
  const float* cond = nullptr;   // [frames][mel] (prompt mel; zeros after the prompt); null: zeros
  const float* noise = nullptr;  // [frames][mel] x(0)
};

// A stream's estimator caches, one per Euler step.
class CfmStream {
 public:
  // The frames the next chunk attends to (equal over steps); the published noise offset.
  int64_t cached_frames() const { return steps_.empty() ? 0 : steps_[0].frames(); }
  // DitCache::Trim on every step's cache: keeps the first `first` and last `last` frames of the
  // published (newest chunk first) layout.
  void Trim(int64_t first, int64_t last);
  int64_t bytes() const;

 private:
  friend class CausalConditionalCfm;
  std::vector<DitCache> steps_;
};

class CausalConditionalCfm {
 public:
  static Result<std::unique_ptr<CausalConditionalCfm>> Create(const Dit* dit, const CfmConfig& config,
                                                             WorkerTeam* team = nullptr);

  const CfmConfig& config() const { return config_; }
  // The t at which each Euler step calls the estimator (accumulated as published).
  const std::vector<float>& step_times() const { return step_times_; }

  // A whole utterance: mel [frames][mel].
  Status Solve(const CfmInputs& in, float* mel, WorkerTeam* team) const;
  // The next chunk of a stream (`stream` empty at its start): mel [frames][mel].
  Status SolveChunk(const CfmInputs& in, CfmStream* stream, float* mel, WorkerTeam* team) const;

 private:
  CausalConditionalCfm() = default;
  Status Run(const CfmInputs& in, CfmStream* stream, float* mel, WorkerTeam* team) const;

  const Dit* dit_ = nullptr;
  CfmConfig config_;
  std::vector<float> step_times_, step_dts_;  // t and dt of each Euler step
  std::vector<DitTimestep> timesteps_;        // the estimator's conditioning at each step's t
};

}  // namespace cadence::engine
