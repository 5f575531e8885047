// Long-form audio for Whisper: an utterance longer than the model's window (30 s for released
// checkpoints) is cut into consecutive segments of at most one window each, and each segment is
// transcribed on its own. A cut falls at the quietest 100 ms in the last sixth of the window (the
// last 5 s of 30), so a word is rarely split; openai-whisper instead seeks by the timestamps it
// decodes, which Cadence does not decode yet.
//
// The cuts depend only on the audio from a segment's start to one window later, so a stream that
// finishes segments as soon as a window of audio is buffered cuts exactly where a batch pass over
// the whole utterance does.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace cadence::speech::whisper {

struct Segment {
  size_t begin = 0, end = 0;  // samples [begin, end)
};

// The cut after `begin`: the end of the segment that starts there, for audio holding more than one
// window after `begin` (samples.size() - begin > window).
size_t NextCut(std::span<const float> samples, size_t begin, size_t window);

// All segments of `samples` (one when it fits a window; none when empty): the cuts NextCut makes
// one after another, as a stream makes them while the audio arrives.
std::vector<Segment> LongFormSegments(std::span<const float> samples, size_t window);

}  // namespace cadence::speech::whisper
