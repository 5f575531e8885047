// Internal to src/paralinguistics: the shared, immutable tables of an Analyzer and the per-frame
// kernel. Not part of the public API; include only from this domain's .cc files and tests.
//
// Threading: Impl is read-only after construction. FFTW plans are executed with the new-array
// interface on per-stream buffers, which FFTW documents as thread-safe; plans are created under a
// process-wide mutex because FFTW's planner is not.
#pragma once

#include <fftw3.h>

#include <algorithm>
#include <complex>
#include <span>
#include <vector>

#include "paralinguistics/analyzer.h"

namespace cadence::paralinguistics {

struct Analyzer::Impl {
  explicit Impl(const AnalyzerConfig& config);
  ~Impl();

  AnalyzerConfig config;
  // Pitch (autocorrelation) geometry in samples at 16 kHz, as in Boersma (1993): a Hann window
  // of 3 periods of the pitch floor, zero-padded for lags up to half the window.
  int nsamp_window = 0, half_window = 0;
  int nsamp_period = 0, half_period = 0;
  int maximum_lag = 0, brent_ixmax = 0, fft_size = 0;
  int max_candidates = kMaxPitchCandidates;
  std::vector<float> hann;        // nsamp_window
  std::vector<double> window_r;   // normalized autocorrelation of the window, lags 0..brent_ixmax
  // Intensity Kaiser windows (Praat: physical length 6.4 / min. pitch; index j covers sample c + j).
  int kaiser_half = 0, syllable_kaiser_half = 0;
  std::vector<float> kaiser, syllable_kaiser;
  // LPC envelope grid for formant peaks: kLpcOrder + 1 cos/sin terms at each grid frequency.
  static constexpr int kLpcOrder = 16;
  static constexpr int kEnvelopePoints = 250;  // 0-5000 Hz in 20 Hz steps (Praat's usual formant ceiling)
  std::vector<double> envelope_cos, envelope_sin;
  // Furthest sample, either side of a frame centre, that any per-frame measure reads.
  int lookahead = 0;
  fftwf_plan forward = nullptr;   // r2c, fft_size
  fftwf_plan backward = nullptr;  // c2r, fft_size
};

// A fixed-size, FFTW-aligned array (fftwf_malloc), so plans may use SIMD.
template <typename T>
class FftwArray {
 public:
  explicit FftwArray(size_t n) : n_(n), p_(static_cast<T*>(fftwf_malloc(sizeof(T) * n))) {
    std::fill(p_, p_ + n_, T{});
  }
  ~FftwArray() { fftwf_free(p_); }
  FftwArray(const FftwArray&) = delete;
  FftwArray& operator=(const FftwArray&) = delete;
  T* data() { return p_; }
  T& operator[](size_t i) { return p_[i]; }
  T* begin() { return p_; }
  T* end() { return p_ + n_; }
  size_t size() const { return n_; }

 private:
  size_t n_;
  T* p_;
};
using FftwFloats = FftwArray<float>;
using FftwComplexes = FftwArray<std::complex<float>>;

// Per-stream buffers for the frame kernel (no allocation per frame).
struct FrameScratch {
  explicit FrameScratch(const Analyzer::Impl& impl);
  FftwFloats frame;          // fft_size
  FftwComplexes spectrum;    // fft_size / 2 + 1
  FftwFloats ac;             // fft_size
  std::vector<double> r;     // lags 0..brent_ixmax
};

// Computes one frame centred between samples center-1 and center (time center / 16000 s).
// `band_samples`: the same samples through LoudnessBandFilter. Samples outside [0, n) read as zero.
void ComputeFrame(const Analyzer::Impl& impl, const float* samples, const float* band_samples, long n, long center,
                  FrameScratch* scratch, FrameFeatures* out);

// Praat's intensity contour (Kaiser window of 6.4 / min_pitch_hz s) at the frame centres of
// frames 0..frame_count-1, read every 4th sample as the syllable contour of ComputeFrame is.
std::vector<double> IntensityContourDb(std::span<const float> samples, size_t frame_count, double min_pitch_hz);

// The Viterbi path through the frames' candidates (Praat's path finder); sets f0_hz,
// f0_strength and hnr_db. `global_peak` is the utterance's largest |sample - mean|. With
// `f0_only`, the frames are left as they are and the path's F0 (0 == unvoiced) goes there instead
// (a second reading of the same candidates under other costs).
void FindPitchPath(const AnalyzerConfig& config, double global_peak, double time_step_s,
                   std::vector<FrameFeatures>* frames, std::vector<double>* f0_only = nullptr);

}  // namespace cadence::paralinguistics
