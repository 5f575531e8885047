#include "engine/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

namespace cadence::engine {

TokenId Sampler::Sample(std::vector<float>& logits, const std::vector<TokenId>& history) {
  const int n = static_cast<int>(logits.size());
  if (params_.repetition_penalty != 1.0f && params_.repetition_penalty > 0) {
    std::unordered_set<TokenId> seen;
    const size_t start = history.size() > static_cast<size_t>(params_.repetition_window)
                             ? history.size() - static_cast<size_t>(params_.repetition_window) : 0;
    for (size_t i = start; i < history.size(); ++i) seen.insert(history[i]);
    for (TokenId t : seen) {
      if (t < 0 || t >= n) continue;
      float& l = logits[static_cast<size_t>(t)];
      l = l > 0 ? l / params_.repetition_penalty : l * params_.repetition_penalty;
    }
  }
  if (params_.temperature <= 0) {
    return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  std::vector<int> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  int k = params_.top_k > 0 ? std::min(params_.top_k, n) : n;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int a, int b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  idx.resize(static_cast<size_t>(k));
  std::vector<double> p(idx.size());
  const double max_l = logits[idx[0]];
  double sum = 0;
  for (size_t i = 0; i < idx.size(); ++i) sum += (p[i] = std::exp((logits[idx[i]] - max_l) / params_.temperature));
  size_t keep = idx.size();
  if (params_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < idx.size(); ++i) {
      cum += p[i] / sum;
      if (cum >= params_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i];
  std::uniform_real_distribution<double> uniform(0.0, total);
  double r = uniform(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= p[i];
    if (r <= 0) return idx[i];
  }
  return idx[keep - 1];
}

}  // namespace cadence::engine
