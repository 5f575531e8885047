// Tone: the scene-level register of a whole reply (emotion, energy, rate, pitch, warmth,
// breathiness). Plain data. Set from the persona's default, the brain's choice and client
// overrides; inline tags inside the text adjust it phrase by phrase.
#pragma once

#include <string>

namespace cadence::speech {

struct Tone {
  std::string emotion = "neutral";  // neutral | happy | sad | angry | tender | excited | tired | calm | whisper
  double energy = 0.0;       // -1 (subdued) .. +1 (energetic)
  double rate = 1.0;         // speaking-rate multiplier
  double pitch_st = 0.0;     // pitch offset in semitones
  double pitch_range = 1.0;  // multiplier on intonation range
  double warmth = 0.0;       // -1 .. +1 (spectral tilt)
  double breathiness = 0.0;  // 0 .. 1
};

}  // namespace cadence::speech
