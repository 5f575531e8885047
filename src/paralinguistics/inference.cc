// States and traits from measured cues, designed from published norms rather than fitted to
// the test clips:
//  - gender: median F0; adult male speech averages ~120 Hz, adult female ~210 Hz (Titze 1994;
//    Hillenbrand et al. 1995), so the boundary sits at their geometric mean (~160 Hz) with a
//    spread of ~2.5 semitones; joined by the apparent vocal-tract length (see below);
//  - age group: children's F0 is ~250-400 Hz before puberty (Hillenbrand et al. 1995: 10-12 year
//    olds ~ 235-250 Hz; younger higher), so "child" needs a median above ~280 Hz in speech that is
//    not high-arousal; "senior" voices show raised jitter/shimmer and lower HNR (Ferrand 2002;
//    Xue & Deliyski 2001), which we weigh with low confidence and only well above connected-speech
//    values of young adults;
//  - arousal: the eGeMAPS arousal correlates (Eyben et al. 2016; Juslin & Laukka 2003): higher
//    F0 level relative to the speaker's sex norm, wider F0 range, flatter spectrum (higher alpha
//    ratio, lower Hammarberg index), faster rate. Each is turned into a z-like score against
//    population norms (and the session baseline when present) and averaged;
//  - fatigue: low arousal with slow rate, narrow range and long pauses (Krajewski et al. 2009);
//  - frustration / anger: high arousal with a flat, tense spectrum and fast rate (Banse & Scherer
//    1996); excitement / joy: high arousal with high, wide-ranging pitch;
//  - calm: low-to-normal arousal with steady pitch and no long pauses;
//  - valence is not reliably carried by prosody alone (Scherer 2003), so it is left unlabelled
//    unless laughter is heard (positive).
#include <cmath>

#include "paralinguistics/measures.h"
#include "paralinguistics/stats.h"

namespace cadence::paralinguistics {
namespace {

double Round2(double x) { return std::round(x * 100.0) / 100.0; }

bool HasVoice(const UtteranceCues& cues) {
  return cues.pitch.median_hz > 0.0 && cues.pitch.voiced_fraction * cues.speech_s >= 0.15;
}

}  // namespace

bool HasSpeech(const UtteranceCues& cues) {
  double event_s = 0.0;
  for (const NonverbalEvent& e : cues.events) event_s += e.end_s - e.start_s;
  const bool mostly_nonverbal = cues.speech_s > 0.0 && event_s > 0.5 * cues.speech_s;
  return HasVoice(cues) && cues.speaking_rate.syllables >= 2 && !mostly_nonverbal;
}

void InferStatesAndTraits(UtteranceCues* cues) {
  cues->state = UtteranceCues::State{};
  const double vocal_tract_cm = cues->traits.vocal_tract_cm;
  cues->traits = UtteranceCues::Traits{};
  cues->traits.vocal_tract_cm = vocal_tract_cm;
  auto& state = cues->state;
  auto& traits = cues->traits;
  const auto& p = cues->pitch;
  const double voiced_s = p.voiced_fraction * cues->speech_s;
  const bool has_voice = HasVoice(*cues);
  // When nonverbal events fill most of the sound (a laugh, a sigh), its prosody is not speech
  // prosody: states are then read from the events alone.
  const bool has_speech = HasSpeech(*cues);

  // Gender.
  double p_female = 0.5;
  if (has_voice) {
    // Two independent cues combined as log-odds (naive Bayes), as listeners combine them
    // (Gelfer & Mikos 2005: F0 leads, formants decide when F0 is ambiguous):
    //  - F0 around the 160 Hz boundary, 2.5 st per unit of log-odds, saturating at +-3: aroused
    //    men reach 200-350 Hz (Banse & Scherer 1996; Juslin & Laukka 2003), so F0 far above the
    //    female norm is no stronger evidence than F0 at it;
    //  - apparent vocal-tract length from the F1-F4 spacing (prosody.cc): adult norms ~17.0 cm
    //    for men and ~14.6 cm for women (the spacing of Hillenbrand et al. 1995's mean formants;
    //    Fitch & Giedd 1999; Pisanski et al. 2014), within-sex spread ~1 cm with measurement
    //    noise, i.e. Gaussian log-odds (17.0 - 14.6) / 1^2 = 2.4 per cm around 15.8 cm.
    double log_odds = std::clamp((HzToSemitones(p.median_hz) - HzToSemitones(160.0)) / 2.5, -3.0, 3.0);
    if (vocal_tract_cm > 0.0) log_odds += (15.8 - vocal_tract_cm) * 2.4;
    p_female = Logistic(log_odds);
    traits.gender.label = p_female >= 0.5 ? "female" : "male";
    // Short or pitch-poor evidence is weaker evidence.
    const double evidence = std::min(1.0, voiced_s / 1.0);
    traits.gender.confidence = Round2(0.5 + (std::max(p_female, 1.0 - p_female) - 0.5) * evidence);
  }
  const double sex_norm_hz = has_voice ? std::exp(p_female * std::log(210.0) + (1.0 - p_female) * std::log(120.0)) : 0.0;

  // Arousal components (each ~ standard-normal under ordinary conversational speech).
  double score = 0.0;
  double weight = 0.0;
  auto add = [&](double z, double w) { score += w * std::clamp(z, -3.0, 3.0); weight += w; };
  if (has_voice) {
    add((HzToSemitones(p.mean_hz) - HzToSemitones(sex_norm_hz)) / 2.5, 0.35);  // level vs sex norm
    if (has_speech) add((p.range_st - 7.0) / 3.0, 0.2);                         // typical range 4-10 st
    add((cues->spectral.alpha_ratio_db + 15.0) / 5.0 * 0.5 - (cues->spectral.hammarberg_db - 20.0) / 6.0 * 0.5, 0.25);
  }
  if (has_speech) add((cues->speaking_rate.syllables_per_s - 4.5) / 1.2, 0.2);  // ~4-5 syll/s conversational
  if (cues->relative.utterances >= 2) {
    add(cues->relative.pitch_z, 0.3);
    add(cues->relative.loudness_z, 0.3);
    add(cues->relative.rate_z, 0.15);
  }
  const double arousal = weight > 0.0 ? score / weight : 0.0;
  if (weight > 0.0) {
    state.arousal.label = arousal > 0.6 ? "high" : arousal < -0.6 ? "low" : "normal";
    const double margin = state.arousal.label == "normal" ? 0.6 - std::abs(arousal) : std::abs(arousal) - 0.6;
    state.arousal.confidence = Round2(std::min(0.9, 0.5 + margin * 0.6));
  }

  // States. Each is a product of soft conditions; only speech supports them.
  if (has_speech) {
    const double slow = Logistic((3.5 - cues->speaking_rate.syllables_per_s) / 0.6);
    const double narrow = Logistic((5.0 - p.range_st) / 1.5);
    const double pausy = Logistic((cues->pauses.mean_s - 0.6) / 0.25);
    const double low = Logistic((-arousal - 0.4) / 0.3);
    const double high = Logistic((arousal - 0.4) / 0.3);
    const double tense = Logistic(((cues->spectral.alpha_ratio_db + 12.0) / 4.0 - (cues->spectral.hammarberg_db - 18.0) / 5.0) / 1.0);
    const double wide = Logistic((p.range_st - 9.0) / 2.0);
    const double steady = Logistic((4.0 - p.stdev_st) / 1.0);
    state.fatigue = Round2(low * (0.4 + 0.6 * std::max({slow, narrow, pausy})));
    state.frustration = Round2(high * tense * (1.0 - 0.5 * wide));
    state.excitement = Round2(high * (0.4 + 0.6 * wide));
    state.calm = Round2((1.0 - high) * steady * (1.0 - pausy * 0.5) * (1.0 - low * 0.5));
  }
  for (const NonverbalEvent& e : cues->events) {
    if (e.type == "laughter") {
      state.excitement = std::max(state.excitement, Round2(0.6 * e.confidence));
      state.valence = {"positive", Round2(0.5 + 0.3 * e.confidence)};
    } else if (e.type == "sigh") {
      state.fatigue = std::max(state.fatigue, Round2(0.5 * e.confidence));
    }
  }
  struct Candidate { const char* word; double value; };
  const Candidate candidates[] = {{"tired", state.fatigue}, {"frustrated", state.frustration},
                                  {"excited", state.excitement}, {"calm", state.calm}};
  state.summary = "neutral";
  double best = 0.5;
  for (const Candidate& c : candidates)
    if (c.value > best) { best = c.value; state.summary = c.word; }

  // Age group.
  if (has_voice) {
    // Children have both a high F0 and a short vocal tract (~11-13 cm before puberty against
    // ~14.6 cm for adult women; Fitch & Giedd 1999), so a measured tract length joins the F0 cue
    // as log-odds around 13.5 cm (2.3 per cm: the 2.3 cm gap over a ~1 cm spread). High F0 in
    // aroused speech is as likely an excited adult (aroused women reach 350-450 Hz and their
    // raised larynx shortens the apparent tract), so under high arousal the result counts half.
    double child_log_odds = (HzToSemitones(p.median_hz) - HzToSemitones(280.0)) / 1.5;
    if (vocal_tract_cm > 0.0) child_log_odds += (13.5 - vocal_tract_cm) * 2.3;
    const double child = Logistic(child_log_odds) * (state.arousal.label == "high" ? 0.5 : 1.0);
    // Jitter and shimmer of connected speech run far above sustained-vowel norms even in young
    // voices (2-4 % local jitter is ordinary here), so only a clearly rough, noisy voice hints at
    // age, and never with much confidence.
    const double aged = Logistic((cues->voice_quality.jitter - 0.05) / 0.01) *
                        Logistic((cues->voice_quality.shimmer - 0.16) / 0.02) *
                        Logistic((7.0 - cues->voice_quality.hnr_db) / 1.5);
    if (child > 0.5) traits.age_group = {"child", Round2(std::min(0.85, child))};
    else if (aged > 0.5 && has_speech) traits.age_group = {"senior", Round2(std::min(0.55, aged))};
    else traits.age_group = {"adult", Round2(std::min(0.8, 0.5 + 0.3 * (1.0 - std::max(child, aged))))};
  }
}

}  // namespace cadence::paralinguistics
