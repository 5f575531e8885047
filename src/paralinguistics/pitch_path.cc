// The pitch path finder: a Viterbi search through each frame's candidates that trades candidate
// strength against octave jumps and voiced/unvoiced switches (Boersma 1993, section 4; the costs
// and their 10 ms time-step correction follow Praat's "To Pitch (ac)").
#include <algorithm>
#include <cmath>
#include <vector>

#include "paralinguistics/analyzer_impl.h"

namespace cadence::paralinguistics {

void FindPitchPath(const AnalyzerConfig& config, double global_peak, double time_step_s,
                   std::vector<FrameFeatures>* frames_ptr, std::vector<double>* f0_only) {
  std::vector<FrameFeatures>& frames = *frames_ptr;
  const size_t n = frames.size();
  if (n == 0) return;
  const double ceiling = config.pitch_ceiling_hz;
  const double correction = 0.01 / time_step_s;
  const double octave_jump_cost = config.octave_jump_cost * correction;
  const double voiced_unvoiced_cost = config.voiced_unvoiced_cost * correction;
  auto voiced = [ceiling](double f) { return f > 0.0 && f < ceiling; };

  std::vector<std::array<double, kMaxPitchCandidates>> delta(n);
  std::vector<std::array<int, kMaxPitchCandidates>> psi(n);
  for (size_t t = 0; t < n; ++t) {
    const FrameFeatures& f = frames[t];
    const double intensity = global_peak > 0.0 ? std::min(1.0, f.local_peak / global_peak) : 0.0;
    double unvoiced = config.silence_threshold <= 0.0
                          ? 0.0
                          : 2.0 - intensity / (config.silence_threshold / (1.0 + config.voicing_threshold));
    unvoiced = config.voicing_threshold + std::max(0.0, unvoiced);
    for (int c = 0; c < f.candidate_count; ++c) {
      const PitchCandidate& cand = f.candidates[c];
      delta[t][c] = voiced(cand.frequency_hz)
                        ? cand.strength - config.octave_cost * std::log2(ceiling / cand.frequency_hz)
                        : unvoiced;
    }
  }
  for (size_t t = 1; t < n; ++t) {
    const FrameFeatures& prev = frames[t - 1];
    const FrameFeatures& cur = frames[t];
    for (int c2 = 0; c2 < cur.candidate_count; ++c2) {
      const double f2 = cur.candidates[c2].frequency_hz;
      const bool v2 = voiced(f2);
      double best = -1e30;
      int place = 0;
      for (int c1 = 0; c1 < prev.candidate_count; ++c1) {
        const double f1 = prev.candidates[c1].frequency_hz;
        const bool v1 = voiced(f1);
        double cost;
        if (!v2) cost = v1 ? voiced_unvoiced_cost : 0.0;
        else if (!v1) cost = voiced_unvoiced_cost;
        else cost = octave_jump_cost * std::abs(std::log2(f1 / f2));
        const double value = delta[t - 1][c1] - cost + delta[t][c2];
        if (value > best) { best = value; place = c1; }
      }
      delta[t][c2] = best;
      psi[t][c2] = place;
    }
  }
  int place = 0;
  double best = delta[n - 1][0];
  for (int c = 1; c < frames[n - 1].candidate_count; ++c)
    if (delta[n - 1][c] > best) { best = delta[n - 1][c]; place = c; }
  if (f0_only) f0_only->assign(n, 0.0);
  for (size_t t = n; t-- > 0;) {
    FrameFeatures& f = frames[t];
    const PitchCandidate& cand = f.candidates[place];
    if (f0_only) {
      (*f0_only)[t] = voiced(cand.frequency_hz) ? cand.frequency_hz : 0.0;
    } else if (voiced(cand.frequency_hz)) {
      f.f0_hz = cand.frequency_hz;
      f.f0_strength = cand.strength;
      const double r = std::clamp(cand.strength, 1e-6, 1.0 - 1e-6);
      f.hnr_db = 10.0 * std::log10(r / (1.0 - r));
    } else {
      f.f0_hz = 0.0;
      f.f0_strength = 0.0;
      f.hnr_db = 0.0;
    }
    if (t > 0) place = psi[t][place];
  }
}

}  // namespace cadence::paralinguistics
