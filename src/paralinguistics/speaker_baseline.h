// SpeakerBaseline: running statistics of one speaker within a session, so that cues say how this
// utterance differs from the way this person usually speaks (a naturally quiet speaker is not
// "tired" just for being quiet).
//
// One per session; not thread-safe (the session's strand owns it). Units: pitch in semitones re
// 100 Hz, loudness in dB, rate in syllables per second. Welford running mean and variance.
#pragma once

#include "paralinguistics/cues.h"

namespace cadence::paralinguistics {

class SpeakerBaseline {
 public:
  // Fills cues->relative (z-scores against the utterances seen so far; 0 until there are two)
  // and then adds this utterance to the baseline. Utterances that are not speech (HasSpeech in
  // measures.h: no voice, fewer than two syllables, or mostly a laugh, cough or sigh) are ignored.
  void Apply(UtteranceCues* cues);
  int utterances() const { return count_; }
  void Reset() { *this = SpeakerBaseline(); }

 private:
  struct Running {
    double mean = 0.0, m2 = 0.0;
    int n = 0;
    void Add(double x);
    double Z(double x) const;  // 0 while fewer than 2 values or no spread
  };
  int count_ = 0;
  Running pitch_st_, loudness_db_, rate_;
};

}  // namespace cadence::paralinguistics
