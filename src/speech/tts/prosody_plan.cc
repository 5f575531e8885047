#include "speech/tts/prosody_plan.h"

#include <algorithm>
#include <string>

namespace cadence::speech {
namespace {

struct Preset {
  const char* name;
  double energy, rate, pitch_st, pitch_range, breathiness;
};

// energy drives loudness; rate, pitch and range are set explicitly.
constexpr Preset kPresets[] = {
    {"neutral", 0.0, 1.00, 0.0, 1.00, 0.0},
    {"happy", 0.5, 1.08, 2.0, 1.35, 0.0},
    {"excited", 0.9, 1.18, 3.5, 1.70, 0.0},
    {"angry", 0.8, 1.08, 1.0, 1.40, 0.0},
    {"sad", -0.6, 0.85, -2.0, 0.60, 0.15},
    {"tired", -0.8, 0.80, -2.5, 0.50, 0.25},
    {"tender", -0.3, 0.92, 0.5, 0.85, 0.2},
    {"calm", -0.3, 0.92, -0.5, 0.80, 0.0},
    {"whisper", -0.5, 0.95, 0.0, 0.70, 1.0},
};

const Preset* Find(std::string_view name) {
  for (const Preset& p : kPresets)
    if (name == p.name) return &p;
  return nullptr;
}

}  // namespace

bool IsKnownEmotion(std::string_view emotion) { return Find(emotion) != nullptr; }

Tone ToneForEmotion(std::string_view emotion, double degree) {
  Tone tone;
  const Preset* p = Find(emotion);
  if (p == nullptr) return tone;
  double d = std::clamp(degree, 0.0, 1.0);
  tone.emotion = p->name;
  tone.energy = p->energy * d;
  tone.rate = 1.0 + (p->rate - 1.0) * d;
  tone.pitch_st = p->pitch_st * d;
  tone.pitch_range = 1.0 + (p->pitch_range - 1.0) * d;
  tone.breathiness = p->breathiness * d;
  return tone;
}

Tone EffectiveTone(const Tone& scene) {
  Tone t = ToneForEmotion(scene.emotion);
  t.energy = std::clamp(t.energy + scene.energy, -1.0, 1.0);
  t.rate *= scene.rate;
  t.pitch_st += scene.pitch_st;
  t.pitch_range *= scene.pitch_range;
  t.warmth = scene.warmth;
  t.breathiness = std::max(t.breathiness, scene.breathiness);
  return t;
}

PhrasePlan PlanPhrase(const Tone& scene, double speed, const StyleAdjust& style) {
  Tone base = scene;
  if (!style.emotion.empty()) {
    // An inline emotion replaces the scene's emotion but keeps the client's numeric overrides.
    base.emotion = style.emotion;
    Tone preset = ToneForEmotion(style.emotion, style.emotion_degree);
    Tone t = EffectiveTone(Tone{"neutral", scene.energy, scene.rate, scene.pitch_st, scene.pitch_range,
                                scene.warmth, scene.breathiness});
    t.energy = std::clamp(t.energy + preset.energy, -1.0, 1.0);
    t.rate *= preset.rate;
    t.pitch_st += preset.pitch_st;
    t.pitch_range *= preset.pitch_range;
    t.breathiness = std::max(t.breathiness, preset.breathiness);
    base = t;
  } else {
    base = EffectiveTone(scene);
  }
  double energy = std::clamp(base.energy, -1.0, 1.0);
  PhrasePlan plan;
  plan.engine.rate = std::clamp(base.rate * speed * style.rate * (1.0 + 0.05 * energy), 0.25, 4.0);
  plan.engine.pitch_st = std::clamp(base.pitch_st + style.pitch_st + 1.0 * energy, -12.0, 12.0);
  plan.engine.pitch_range = std::clamp(base.pitch_range * style.pitch_range * (1.0 + 0.15 * energy), 0.0, 3.0);
  // About ±3 dB across the energy scale, times the inline volume.
  plan.engine.volume = std::clamp((1.0 + 0.4 * energy) * style.volume, 0.0, 3.0);
  plan.breathiness = std::clamp(std::max(base.breathiness, style.breathiness), 0.0, 1.0);
  return plan;
}

}  // namespace cadence::speech
