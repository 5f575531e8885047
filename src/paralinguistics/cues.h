// UtteranceCues: how the user spoke one utterance — the paralinguistic reading handed to the
// brain as structured context and to clients as an event. Plain data; copyable; no threading.
//
// Owned by src/paralinguistics/ (the analyzer fills it). Field names are the stable JSON names of
// `cadence analyze --json` and of `conversation.item.input_audio_paralinguistics.completed`.
#pragma once

#include <string>
#include <vector>

namespace cadence::paralinguistics {

struct Labelled {
  std::string label;        // e.g. "female", "adult", "high"
  double confidence = 0.0;  // 0..1
};

struct NonverbalEvent {
  std::string type;  // laughter | sigh | breath | cough | ...
  double start_s = 0.0;
  double end_s = 0.0;
  double confidence = 0.0;
};

struct UtteranceCues {
  double duration_s = 0.0;
  double speech_s = 0.0;  // voiced + unvoiced speech, pauses excluded

  struct Pitch {
    double mean_hz = 0.0, median_hz = 0.0, min_hz = 0.0, max_hz = 0.0;
    double range_st = 0.0;        // semitones between 5th and 95th percentile
    double slope_st_per_s = 0.0;  // linear trend over the utterance
    double stdev_st = 0.0;
    double voiced_fraction = 0.0;
  } pitch;

  struct Loudness {
    double mean_db = 0.0, range_db = 0.0, stdev_db = 0.0;
  } loudness;

  struct Rate {
    double syllables_per_s = 0.0;   // over the whole utterance (speaking rate)
    double articulation_rate = 0.0; // syllables per second of phonation, pauses excluded
    int syllables = 0;
  } speaking_rate;

  struct Pauses {
    int count = 0;
    double mean_s = 0.0, longest_s = 0.0, total_s = 0.0;
  } pauses;

  struct VoiceQuality {
    double jitter = 0.0;   // local, fraction (0.01 == 1 %)
    double shimmer = 0.0;  // local, fraction
    double hnr_db = 0.0;
  } voice_quality;

  struct Spectral {
    double alpha_ratio_db = 0.0, hammarberg_db = 0.0, slope_db_per_khz = 0.0;
  } spectral;

  std::vector<NonverbalEvent> events;
  // Nonverbal sounds in the seconds just before the utterance that opened no turn of their own (a
  // sigh, a laugh, a breath before speaking), timed from the utterance's start (so negative).
  // Filled by the realtime session; empty from `cadence analyze`.
  std::vector<NonverbalEvent> leading_events;

  struct State {
    Labelled arousal;         // low | normal | high
    double fatigue = 0.0;     // confidences 0..1
    double frustration = 0.0;
    double excitement = 0.0;
    double calm = 0.0;
    Labelled valence;         // negative | neutral | positive; empty label when unsupported
    std::string summary;      // the dominant state in a word: "tired", "frustrated", "excited", "calm", "neutral"
  } state;

  struct Traits {
    Labelled gender;     // female | male
    Labelled age_group;  // child | adult | senior
    // Apparent vocal-tract length from the F1-F4 spacing (uniform-tube model); 0 when too
    // little voiced speech. Adult men ~17 cm, women ~14.6 cm, children shorter.
    double vocal_tract_cm = 0.0;
  } traits;

  // Deviation from this speaker's running baseline in the session (z-scores); 0 when no baseline yet.
  struct Baseline {
    int utterances = 0;
    double pitch_z = 0.0, loudness_z = 0.0, rate_z = 0.0;
  } relative;
};

}  // namespace cadence::paralinguistics
