// Internal to src/paralinguistics: small statistics helpers shared by the measures.
// Pure functions over copies; safe from any thread.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace cadence::paralinguistics {

// Linear-interpolated quantile (q in [0, 1]); 0 for an empty set.
inline double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

inline double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0.0;
  double s = 0.0;
  for (double x : v) s += x;
  return s / v.size();
}

inline double Stdev(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = Mean(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / (v.size() - 1));
}

// Semitones re 100 Hz.
inline double HzToSemitones(double hz) { return 12.0 * std::log2(hz / 100.0); }

inline double Logistic(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace cadence::paralinguistics
