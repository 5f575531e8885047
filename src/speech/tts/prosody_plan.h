// Prosody plan: scene tone (tone.h) + a segment's inline style (style_parser.h) → how to render
// one phrase: native engine controls plus what is sculpted on the waveform afterwards.
//
// Pure functions; thread-safe. Emotion presets are deliberate, documented guesses in the
// direction the speech literature reports (aroused emotions: higher, wider F0, faster, louder;
// low-arousal ones the reverse), tuned so that tests measuring the output with Praat see them.
#pragma once

#include <string_view>

#include "speech/tts/engine_voice.h"
#include "speech/tts/style_parser.h"
#include "speech/tts/tone.h"

namespace cadence::speech {

// The preset for an emotion name (neutral, happy, excited, sad, tired, angry, tender, calm,
// whisper), scaled by `degree` (0 = neutral, 1 = full). Unknown names give neutral.
Tone ToneForEmotion(std::string_view emotion, double degree = 1.0);
bool IsKnownEmotion(std::string_view emotion);

// The tone actually rendered: the emotion's preset with the tone's own numeric fields applied on
// top as offsets (rate and pitch_range multiply, pitch_st and energy add, breathiness maxes).
Tone EffectiveTone(const Tone& scene);

struct PhrasePlan {
  EngineProsody engine;      // rate, pitch, range, volume handed to the engine
  double breathiness = 0.0;  // 0..1, mixed on the waveform (1 = whisper)
};

// `speed` is the OpenAI speed multiplier.
PhrasePlan PlanPhrase(const Tone& scene, double speed, const StyleAdjust& style);

}  // namespace cadence::speech
