// Jitter and shimmer from glottal pulses, and mean HNR.
//
// Pulses follow the cross-correlation idea of Praat's "To PointProcess (periodic, cc)": within
// each voiced stretch, start at the largest extremum of its middle period, then walk outwards;
// each next pulse is where a one-period window best correlates with the current one, searched
// between 0.8 and 1.25 local periods away (parabolic refinement). Periods found this way follow
// the waveform's shape rather than single noisy peaks. The measures use Praat's definitions:
// local jitter = mean |T(i) - T(i-1)| / mean T over periods of 0.1-20 ms whose neighbours differ
// by at most a factor 1.3; local shimmer = mean |A(i) - A(i-1)| / mean A, with A the Hann-windowed
// RMS around each pulse (0.2 periods either side) and an amplitude factor of at most 1.6.
#include <algorithm>
#include <cmath>

#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {
namespace {

constexpr double kFs = Analyzer::kSampleRateHz;
constexpr double kShortestPeriodS = 0.0001, kLongestPeriodS = 0.02;
constexpr double kMaxPeriodFactor = 1.3, kMaxAmplitudeFactor = 1.6;

double At(std::span<const float> x, long i) { return (i >= 0 && i < static_cast<long>(x.size())) ? x[i] : 0.0; }

// The time in [tmin2, tmax2] where a window of `window_s` best matches the one centred at t1.
// Returns the correlation (-1 when nothing was found) and the peak |x| of the matching window.
double FindMaximumCorrelation(std::span<const float> x, double t1, double window_s, double tmin2, double tmax2,
                              double* tout, double* peak) {
  const long half = std::max(1L, std::lround(0.5 * window_s * kFs));
  const long c1 = std::lround(t1 * kFs);
  const long lo = std::lround(tmin2 * kFs), hi = std::lround(tmax2 * kFs);
  if (hi <= lo) return -1.0;
  double norm1 = 0.0;
  for (long j = -half; j <= half; ++j) norm1 += At(x, c1 + j) * At(x, c1 + j);
  double best = -1.0, best_prev = 0.0, best_next = 0.0;
  long best_c = -1;
  double r_prev = 0.0;
  std::vector<double> r(hi - lo + 1);
  std::vector<double> peaks(hi - lo + 1);
  for (long c2 = lo; c2 <= hi; ++c2) {
    double norm2 = 0.0, product = 0.0, local_peak = 0.0;
    for (long j = -half; j <= half; ++j) {
      const double a = At(x, c1 + j), b = At(x, c2 + j);
      norm2 += b * b;
      product += a * b;
      local_peak = std::max(local_peak, std::abs(b));
    }
    r[c2 - lo] = (norm1 > 0.0 && norm2 > 0.0) ? product / std::sqrt(norm1 * norm2) : 0.0;
    peaks[c2 - lo] = local_peak;
  }
  (void)r_prev;
  for (size_t k = 1; k + 1 < r.size(); ++k) {
    if (r[k] > best && r[k] >= r[k - 1] && r[k] >= r[k + 1]) {
      best = r[k];
      best_prev = r[k - 1];
      best_next = r[k + 1];
      best_c = lo + static_cast<long>(k);
      *peak = peaks[k];
    }
  }
  if (best_c < 0) return -1.0;
  double offset = 0.0;
  const double d2r = 2.0 * best - best_prev - best_next;
  if (d2r != 0.0) {
    const double dr = 0.5 * (best_next - best_prev);
    best += 0.5 * dr * dr / d2r;
    offset = dr / d2r;
  }
  *tout = (best_c + offset) / kFs;
  return best;
}

double HannWindowedRms(std::span<const float> x, double t_mid, double width_left, double width_right) {
  const long lo = static_cast<long>(std::ceil((t_mid - width_left) * kFs));
  const long hi = static_cast<long>(std::floor((t_mid + width_right) * kFs));
  if (hi - lo + 1 < 3) return NAN;
  double sum = 0.0, wsum = 0.0;
  for (long i = lo; i <= hi; ++i) {
    const double t = i / kFs;
    const double width = t < t_mid ? width_left : width_right;
    const double w = 0.5 + 0.5 * std::cos(M_PI * (t - t_mid) / width);
    const double v = At(x, i) * w;
    sum += v * v;
    wsum += w * w;
  }
  return wsum > 0.0 ? std::sqrt(sum / wsum) : NAN;
}

}  // namespace

void MeasureVoiceQuality(std::span<const float> x, std::span<const FrameFeatures> frames, UtteranceCues* cues) {
  std::vector<double> hnr;
  for (const FrameFeatures& f : frames)
    if (f.frame_class == FrameClass::kVoiced) hnr.push_back(f.hnr_db);
  cues->voice_quality.hnr_db = Mean(hnr);
  if (frames.empty() || x.empty()) return;

  double global_peak = 0.0;
  for (float v : x) global_peak = std::max(global_peak, static_cast<double>(std::abs(v)));
  const double t_first = frames.front().time_s;
  // F0 at t by linear interpolation between voiced frames; 0 (undefined) outside voiced stretches.
  auto f0_at = [&](double t) {
    const double k = (t - t_first) / 0.01;
    if (k < -0.5 || k > frames.size() - 0.5) return 0.0;
    const long a = static_cast<long>(std::floor(k));
    const long b = a + 1;
    const double fa = (a >= 0 && a < static_cast<long>(frames.size())) ? frames[a].f0_hz : 0.0;
    const double fb = (b >= 0 && b < static_cast<long>(frames.size())) ? frames[b].f0_hz : 0.0;
    if (fa > 0.0 && fb > 0.0) return fa + (k - a) * (fb - fa);
    const double nearest = (k - a) < 0.5 ? fa : fb;
    return nearest;
  };

  std::vector<double> pulses;
  size_t i = 0;
  double added_right = -1e30;
  while (i < frames.size()) {
    if (frames[i].f0_hz <= 0.0) { ++i; continue; }
    size_t j = i;
    while (j < frames.size() && frames[j].f0_hz > 0.0) ++j;
    const double t_left = frames[i].time_s - 0.005, t_right = frames[j - 1].time_s + 0.005;
    const double t_mid = 0.5 * (t_left + t_right);
    const double f0_mid = f0_at(t_mid) > 0.0 ? f0_at(t_mid) : frames[(i + j) / 2].f0_hz;
    // First pulse: the largest extremum of the middle period.
    long lo = std::lround((t_mid - 0.5 / f0_mid) * kFs), hi = std::lround((t_mid + 0.5 / f0_mid) * kFs);
    long best = lo;
    for (long s = lo; s <= hi; ++s)
      if (std::abs(At(x, s)) > std::abs(At(x, best))) best = s;
    double t_max = best / kFs;
    std::vector<double> run{t_max};
    for (double t = t_max;;) {  // leftwards
      const double f0 = f0_at(t);
      if (f0 <= 0.0) break;
      double peak = 0.0, tout = t - 1.0 / f0;
      const double corr = FindMaximumCorrelation(x, t, 1.0 / f0, t - 1.25 / f0, t - 0.8 / f0, &tout, &peak);
      t = corr == -1.0 ? t - 1.0 / f0 : tout;
      if (t < t_left) {
        if (corr > 0.7 && peak > 0.023333 * global_peak && t - added_right > 0.8 / f0) run.push_back(t);
        break;
      }
      if (corr > 0.3 && (peak == 0.0 || peak > 0.01 * global_peak) && t - added_right > 0.8 / f0) run.push_back(t);
    }
    for (double t = t_max;;) {  // rightwards
      const double f0 = f0_at(t);
      if (f0 <= 0.0) break;
      double peak = 0.0, tout = t + 1.0 / f0;
      const double corr = FindMaximumCorrelation(x, t, 1.0 / f0, t + 0.8 / f0, t + 1.25 / f0, &tout, &peak);
      t = corr == -1.0 ? t + 1.0 / f0 : tout;
      if (t > t_right) {
        if (corr > 0.7 && peak > 0.023333 * global_peak) { run.push_back(t); added_right = t; }
        break;
      }
      if (corr > 0.3 && (peak == 0.0 || peak > 0.01 * global_peak)) { run.push_back(t); added_right = t; }
    }
    pulses.insert(pulses.end(), run.begin(), run.end());
    i = j;
  }
  std::sort(pulses.begin(), pulses.end());
  if (pulses.size() < 3) return;

  auto valid = [](double p) { return p >= kShortestPeriodS && p <= kLongestPeriodS; };
  auto factor = [](double a, double b) { return a > b ? a / b : b / a; };
  // Jitter (local).
  double jitter_sum = 0.0, period_sum = 0.0;
  int jitter_n = 0, period_n = 0;
  for (size_t k = 1; k < pulses.size(); ++k) {
    const double p = pulses[k] - pulses[k - 1];
    if (valid(p)) { period_sum += p; ++period_n; }
  }
  for (size_t k = 1; k + 1 < pulses.size(); ++k) {
    const double p1 = pulses[k] - pulses[k - 1], p2 = pulses[k + 1] - pulses[k];
    if (valid(p1) && valid(p2) && factor(p1, p2) <= kMaxPeriodFactor) {
      jitter_sum += std::abs(p1 - p2);
      ++jitter_n;
    }
  }
  if (jitter_n > 0 && period_n > 0) cues->voice_quality.jitter = (jitter_sum / jitter_n) / (period_sum / period_n);
  // Shimmer (local): amplitudes at pulses whose two periods are valid.
  std::vector<std::pair<double, double>> amplitudes;  // (time, amplitude)
  for (size_t k = 1; k + 1 < pulses.size(); ++k) {
    const double p1 = pulses[k] - pulses[k - 1], p2 = pulses[k + 1] - pulses[k];
    if (!(valid(p1) && valid(p2) && factor(p1, p2) <= kMaxPeriodFactor)) continue;
    const double a = HannWindowedRms(x, pulses[k], 0.2 * p1, 0.2 * p2);
    if (std::isfinite(a) && a > 0.0) amplitudes.emplace_back(pulses[k], a);
  }
  double shimmer_sum = 0.0, amplitude_sum = 0.0;
  int shimmer_n = 0;
  for (const auto& [t, a] : amplitudes) amplitude_sum += a;
  for (size_t k = 1; k < amplitudes.size(); ++k) {
    const double p = amplitudes[k].first - amplitudes[k - 1].first;
    const double a1 = amplitudes[k - 1].second, a2 = amplitudes[k].second;
    if (valid(p) && factor(a1, a2) <= kMaxAmplitudeFactor) {
      shimmer_sum += std::abs(a1 - a2);
      ++shimmer_n;
    }
  }
  if (shimmer_n > 0 && !amplitudes.empty())
    cues->voice_quality.shimmer = (shimmer_sum / shimmer_n) / (amplitude_sum / amplitudes.size());
}

}  // namespace cadence::paralinguistics
