// Internal to src/paralinguistics: utterance-level measures computed at Finish() from the final
// frame track (and, for voice quality, the samples). Each function fills its part of the cues.
//
// Pure functions; safe from any thread. Times in seconds, pitch in Hz / semitones, levels in dB.
#pragma once

#include <span>
#include <vector>

#include "paralinguistics/analyzer.h"

namespace cadence::paralinguistics {

// Frame classes (silence / unvoiced / voiced) after the pitch path is known.
void ClassifyFrames(const AnalyzerConfig& config, std::vector<FrameFeatures>* frames);

// Pitch, loudness and spectral-balance statistics (cues.pitch, .loudness, .spectral, .duration_s).
void MeasureProsody(std::span<const FrameFeatures> frames, double duration_s, UtteranceCues* cues);

// Jitter (local) and shimmer (local) from glottal pulses found in the voiced stretches, and the
// mean HNR of voiced frames (cues.voice_quality). Praat's conventions: periods 0.1-20 ms,
// period factor 1.3, amplitude factor 1.6.
void MeasureVoiceQuality(std::span<const float> samples_16k, std::span<const FrameFeatures> frames,
                         UtteranceCues* cues);

// Syllable nuclei (de Jong & Wempe 2009; v3 parser, on the 500-4000 Hz loudness band) and pauses
// (cues.speaking_rate, .pauses, .speech_s). `band_samples_16k`: the utterance through
// LoudnessBandFilter. `nucleus_f0` is a per-frame F0 (0 == unvoiced) read with the syllable-nuclei
// script's permissive voicing settings (NucleusPitchConfig). Returns the nuclei times.
std::vector<double> MeasureRateAndPauses(const AnalyzerConfig& config, std::span<const float> band_samples_16k,
                                         std::span<const FrameFeatures> frames, std::span<const double> nucleus_f0,
                                         UtteranceCues* cues);

// The pitch settings de Jong & Wempe's script uses to call a peak voiced (voicing threshold 0.25,
// voiced/unvoiced cost 0.25, ceiling 450 Hz), on top of `config`.
AnalyzerConfig NucleusPitchConfig(const AnalyzerConfig& config);

// Nonverbal events from the frame track (cues.events).
void DetectEvents(std::span<const FrameFeatures> frames, UtteranceCues* cues);

// States and traits from the measured cues against population norms (cues.state, .traits).
void InferStatesAndTraits(UtteranceCues* cues);

// Whether the utterance's prosody is speech prosody: at least 0.15 s of voice, two syllable nuclei,
// and nonverbal events (a laugh, a cough, a sigh) filling no more than half of the sound. States
// are read from speech cues only when it holds, and only such utterances build a speaker's baseline.
bool HasSpeech(const UtteranceCues& cues);

}  // namespace cadence::paralinguistics
