#include "speech/asr/whisper/long_form.h"

#include <algorithm>

#include "speech/asr/whisper/log_mel.h"

namespace cadence::speech::whisper {

size_t NextCut(std::span<const float> samples, size_t begin, size_t window) {
  const size_t step = kHopSamples;  // candidates every 10 ms
  // 100 ms of audio around each candidate (less for windows under 2 s, as in tests' tiny models).
  const size_t span = std::max(step, std::min<size_t>(kSampleRateHz / 10, window / 20));
  const size_t search_from = begin + window - window / 6;
  const size_t search_to = begin + window;  // the cut lies in (search_from, search_to]
  // The candidate whose surrounding span has the least energy wins; the latest on ties, keeping
  // segments long.
  double best = -1.0;
  size_t cut = search_to;
  for (size_t c = search_from + step; c <= search_to; c += step) {
    const size_t lo = c - std::min(c, span / 2), hi = std::min(samples.size(), c + span / 2);
    double e = 0.0;
    for (size_t i = lo; i < hi; ++i) e += static_cast<double>(samples[i]) * samples[i];
    if (best < 0.0 || e <= best) {
      best = e;
      cut = c;
    }
  }
  return cut;
}

std::vector<Segment> LongFormSegments(std::span<const float> samples, size_t window) {
  std::vector<Segment> segments;
  size_t begin = 0;
  while (samples.size() - begin > window) {
    const size_t cut = NextCut(samples, begin, window);
    segments.push_back({begin, cut});
    begin = cut;
  }
  if (begin < samples.size()) segments.push_back({begin, samples.size()});
  return segments;
}

}  // namespace cadence::speech::whisper
