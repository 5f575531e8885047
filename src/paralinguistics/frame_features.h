// FrameFeatures: the per-frame track of the paralinguistic analyzer (10 ms hop, 16 kHz input).
//
// Plain data, copyable. Fields marked "final" are filled only when the utterance is finished
// (the pitch path is a Viterbi search over the whole utterance, as in Praat's "To Pitch (ac)");
// the others are available as soon as the frame is computed while streaming.
#pragma once

#include <array>
#include <cstdint>

namespace cadence::paralinguistics {

// Upper bound on pitch candidates per frame (Praat's default "max. number of candidates" is 15;
// with a 75-600 Hz range it never asks for more).
inline constexpr int kMaxPitchCandidates = 15;

struct PitchCandidate {
  double frequency_hz = 0.0;  // 0 == the voiceless candidate
  double strength = 0.0;      // normalized autocorrelation, window-corrected (Boersma 1993)
};

enum class FrameClass : uint8_t { kSilence = 0, kUnvoiced = 1, kVoiced = 2 };

struct FrameFeatures {
  double time_s = 0.0;  // centre of the analysis window
  // Pitch candidates (the voiceless one first) and the frame's windowed peak amplitude; the
  // path finder relates local_peak to the utterance's global peak to price voicelessness.
  std::array<PitchCandidate, kMaxPitchCandidates> candidates{};
  int candidate_count = 1;
  double local_peak = 0.0;

  double intensity_db = 0.0;           // Praat "To Intensity" (min. pitch 100 Hz), dB re 2e-5 Pa, full scale 1.0 == 1 Pa
  double syllable_intensity_db = 0.0;  // same with a 50 Hz minimum pitch (smoother): pauses, events
  double nucleus_intensity_db = 0.0;   // same over 500-4000 Hz (loudness_band.h): syllable nuclei
  double alpha_ratio_db = 0.0;         // energy 1-5 kHz over 50-1000 Hz (eGeMAPS; negative in most speech)
  double hammarberg_db = 0.0;          // peak level 0-2 kHz minus peak level 2-5 kHz (eGeMAPS)
  double slope_db_per_khz = 0.0;       // regression of the log power spectrum over 0-5 kHz
  double low_band_fraction = 0.0;      // fraction of 0-8 kHz energy below 1 kHz
  double zero_crossing_rate = 0.0;     // crossings per sample in the central 20 ms
  // The first four peaks of the LPC envelope (order 16, pre-emphasized, 0-5 kHz), 0 when not
  // found. Read only on voiced frames; used for the apparent vocal-tract length.
  float formant_hz[4] = {0.0f, 0.0f, 0.0f, 0.0f};

  // final: the chosen pitch (0 when unvoiced), its strength, HNR and the frame's class.
  double f0_hz = 0.0;
  double f0_strength = 0.0;
  double hnr_db = 0.0;  // 10 log10(r / (1 - r)) of the chosen candidate; 0 when unvoiced
  FrameClass frame_class = FrameClass::kSilence;
};

const char* FrameClassName(FrameClass c);  // "silence" | "unvoiced" | "voiced"

}  // namespace cadence::paralinguistics
