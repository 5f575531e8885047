// Analyzer: Cadence's own paralinguistic DSP — how the user speaks, not what they say.
//
//   Analyzer analyzer;                          // once per process; const and thread-safe
//   auto stream = analyzer.NewStream();         // one per session utterance stream
//   stream->Accept(samples_16k);                // any chunk size; frames computed every 10 ms
//   UtteranceCues cues = stream->Finish();      // at speech_stopped: final cues
//   baseline.Apply(&cues);                      // per session: relate to the speaker's own baseline
//   stream->Reset();                            // next utterance
//
// Units: input is mono float [-1, 1] at 16 kHz (Analyzer::kSampleRateHz); intensities are dB as
// Praat reports them (full-scale 1.0 read as 1 Pa, re 2e-5 Pa); times in seconds from the first
// accepted sample; pitch in Hz and semitones.
//
// Threading: an Analyzer is immutable after construction and may be shared by any number of
// threads. An AnalyzerStream belongs to one thread at a time (no locks inside). Accept() does the
// per-frame work (FFT autocorrelation, intensity, spectral balance); Finish() runs the pitch path
// finder, pulse-level voice quality, syllable nuclei and the cue inference over the utterance.
// The stream keeps the utterance's samples (64 KB per second) until Reset().
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "audio/wav.h"
#include "core/status.h"
#include "paralinguistics/cues.h"
#include "paralinguistics/loudness_band.h"
#include "paralinguistics/frame_features.h"
#include "paralinguistics/speaker_baseline.h"

namespace cadence::paralinguistics {

struct AnalyzerConfig {
  // Pitch: Praat "To Pitch (ac)" standard settings (Boersma 1993).
  double pitch_floor_hz = 75.0;
  double pitch_ceiling_hz = 600.0;
  double silence_threshold = 0.03;
  double voicing_threshold = 0.45;
  double octave_cost = 0.01;
  double octave_jump_cost = 0.35;
  double voiced_unvoiced_cost = 0.14;
  // Intensity: Praat "To Intensity" minimum pitch (sets the Kaiser window length).
  double intensity_min_pitch_hz = 100.0;
  // Syllable nuclei and pauses (de Jong & Wempe 2009 defaults).
  double silence_db_below_q99 = 25.0;
  double min_dip_db = 2.0;
  double min_pause_s = 0.3;
  double min_sounding_s = 0.1;
  // Articulation rate (syll/s) above which the nuclei contour's window is shortened in proportion
  // (see rate_and_pauses.cc); 0 keeps de Jong & Wempe's fixed 50 Hz window at every rate.
  double nuclei_reference_rate_syll_per_s = 4.0;
  // Frames quieter than this are silence whatever the utterance's own level (dB, Praat scale).
  double absolute_silence_db = 35.0;

  // Names the field at fault, e.g. "pitch_ceiling_hz (700) must be below 8000 Hz ...".
  Status Validate() const;
};

// Whole-file result: the cues plus the final frame track (for `cadence analyze --frames`).
struct Analysis {
  UtteranceCues cues;
  std::vector<FrameFeatures> frames;
};

class AnalyzerStream;

class Analyzer {
 public:
  static constexpr int kSampleRateHz = 16000;
  static constexpr int kHopSamples = 160;  // 10 ms

  // Default settings; always valid.
  Analyzer();
  // Checks `config` first; the error names the field at fault.
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerConfig& config);
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  std::unique_ptr<AnalyzerStream> NewStream() const;
  // Resamples to 16 kHz when needed, then streams the whole waveform through one stream.
  // An empty waveform is an error; silence or a cough alone are valid input.
  Result<Analysis> AnalyzeWaveform(const audio::Waveform& wave) const;

  const AnalyzerConfig& config() const;

  struct Impl;  // shared tables (windows, FFT plans); defined in analyzer_impl.h
  const Impl& impl() const { return *impl_; }

 private:
  explicit Analyzer(const AnalyzerConfig& config);
  std::unique_ptr<Impl> impl_;
};

class AnalyzerStream {
 public:
  explicit AnalyzerStream(const Analyzer& analyzer);  // `analyzer` must outlive the stream
  ~AnalyzerStream();
  AnalyzerStream(const AnalyzerStream&) = delete;
  AnalyzerStream& operator=(const AnalyzerStream&) = delete;

  // Appends 16 kHz mono samples; computes every frame whose window is complete.
  void Accept(std::span<const float> samples_16k);
  // Final cues of everything accepted since the last Reset(). Also finalizes frames().
  UtteranceCues Finish();
  // Frames computed so far; after Finish() with the final pitch, HNR and class.
  const std::vector<FrameFeatures>& frames() const { return frames_; }
  double accepted_s() const { return static_cast<double>(samples_.size()) / Analyzer::kSampleRateHz; }
  void Reset();

 private:
  void ComputeFramesUpTo(size_t available_samples, bool pad_end);

  const Analyzer& analyzer_;
  std::vector<float> samples_;
  LoudnessBandFilter band_filter_;
  std::vector<float> band_samples_;  // samples_ through band_filter_: the syllable nuclei's loudness
  std::vector<FrameFeatures> frames_;
  double sum_ = 0.0;
  float min_sample_ = 0.0f, max_sample_ = 0.0f;
  struct Scratch;
  std::unique_ptr<Scratch> scratch_;
};

}  // namespace cadence::paralinguistics
