// The per-frame kernel: autocorrelation pitch candidates (Boersma 1993, the method of Praat's
// "To Pitch (ac)"), Praat-style intensity, and eGeMAPS spectral balance from the same spectrum.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>

#include "paralinguistics/analyzer_impl.h"

namespace cadence::paralinguistics {
namespace {

std::mutex& PlannerMutex() {
  static std::mutex mutex;
  return mutex;
}

double BesselI0(double x) {
  // Power series; converges quickly for the arguments used here (< 21).
  double sum = 1.0, term = 1.0;
  const double q = x * x / 4.0;
  for (int k = 1; k < 200; ++k) {
    term *= q / (static_cast<double>(k) * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

// Kaiser window of Praat's "To Intensity": 2 * half samples, symmetric about the frame centre.
void MakeKaiser(double min_pitch_hz, std::vector<float>* w, int* half) {
  const double half_window_s = 3.2 / min_pitch_hz;
  *half = static_cast<int>(std::floor(half_window_s * Analyzer::kSampleRateHz));
  w->assign(2 * *half, 0.0f);
  const double alpha = 2.0 * std::numbers::pi * std::numbers::pi + 0.5;
  for (int j = -*half; j < *half; ++j) {
    const double x = (j + 0.5) / *half;
    const double root = 1.0 - x * x;
    const double v = root <= 0.0 ? 0.0 : BesselI0(alpha * std::sqrt(root));
    (*w)[j + *half] = static_cast<float>(v);
  }
}

// Windowed-sinc interpolation of the symmetric autocorrelation r(-i) == r(i), zero beyond ixmax.
// The raised-cosine window advances by a fixed angle per tap, so its cosine comes from the
// Chebyshev recurrence cos(a - d) = 2 cos(d) cos(a) - cos(a + d) rather than a libm call per tap.
double InterpolateR(const std::vector<double>& r, int ixmax, double x, int depth) {
  const int left = static_cast<int>(std::floor(x));
  const double frac = x - left;
  if (frac == 0.0) return std::abs(left) <= ixmax ? r[std::abs(left)] : 0.0;
  const double s0 = std::sin(std::numbers::pi * frac);
  const double span = depth + 0.5;
  const double step = std::numbers::pi / span;
  const int first = left - depth + 1;
  double angle = std::numbers::pi * (x - first) / span;
  double c = std::cos(angle), c_prev = std::cos(angle + step);
  const double two_cos_step = 2.0 * std::cos(step);
  double result = 0.0;
  for (int i = first; i <= left + depth; ++i) {
    const int ai = i < 0 ? -i : i;
    if (ai <= ixmax) {
      const double d = x - i;
      // sin(pi (x - i)) == sin(pi frac) * (-1)^(left - i)
      const double s = ((left - i) & 1) ? -s0 : s0;
      result += r[ai] * s / (std::numbers::pi * d) * (0.5 + 0.5 * c);
    }
    const double c_next = two_cos_step * c - c_prev;
    c_prev = c;
    c = c_next;
  }
  return result;
}

// Maximum of the interpolated r near x0: two rounds of a three-point parabola (steps of 0.25 and
// 0.04 lag samples), i.e. six interpolations where a golden-section search needs a dozen; the
// result is within ~0.005 lag samples of the true maximum for the smooth peaks of r.
double RefineMaximum(const std::vector<double>& r, int ixmax, double x0, int depth, double* x_max) {
  double x = x0, y = InterpolateR(r, ixmax, x0, depth);
  for (double h : {0.25, 0.04}) {
    const double ym = InterpolateR(r, ixmax, x - h, depth), yp = InterpolateR(r, ixmax, x + h, depth);
    const double d2 = ym - 2.0 * y + yp;
    double step = d2 < 0.0 ? 0.5 * h * (ym - yp) / d2 : (yp > ym ? h : -h);
    step = std::clamp(step, -2.0 * h, 2.0 * h);
    x += step;
    y = InterpolateR(r, ixmax, x, depth);
  }
  *x_max = x;
  return y;
}

inline float SampleAt(const float* samples, long n, long i) {
  return (i >= 0 && i < n) ? samples[i] : 0.0f;
}

// Praat's intensity: the mean-free signal squared under a Kaiser window, in dB re 4e-10 (i.e.
// (2e-5)^2). `stride` > 1 reads every stride-th sample, which estimates the same weighted mean
// power at a fraction of the cost (used for the smooth syllable contour only).
double KaiserIntensityDb(const float* samples, long n, long center, const std::vector<float>& w, int half,
                         int stride) {
  const long start = center - half;
  const bool inside = start >= 0 && start + 2 * half <= n;
  double mean = 0.0;
  int count = 0;
  for (int j = 0; j < 2 * half; j += stride, ++count)
    mean += inside ? samples[start + j] : SampleAt(samples, n, start + j);
  mean /= count;
  double acc = 0.0, w_sum = 0.0;
  for (int j = 0; j < 2 * half; j += stride) {
    const double x = (inside ? samples[start + j] : SampleAt(samples, n, start + j)) - mean;
    acc += w[j] * x * x;
    w_sum += w[j];
  }
  return 10.0 * std::log10(std::max(acc / w_sum, 1e-20) / 4e-10);
}

// Formant peaks from the frame's autocorrelation: pre-emphasis (0.97) applied in the lag domain,
// LPC by Levinson-Durbin, and the first four maxima of the LPC envelope above 150 Hz.
void FormantPeaks(const Analyzer::Impl& impl, const float* ac, FrameFeatures* out) {
  constexpr int p = Analyzer::Impl::kLpcOrder;
  constexpr double a_pe = 0.97;
  double r[p + 1];
  for (int l = 0; l <= p; ++l) {
    const double left = l > 0 ? ac[l - 1] : ac[1];
    r[l] = (1.0 + a_pe * a_pe) * ac[l] - a_pe * (left + ac[l + 1]);
  }
  if (r[0] <= 0.0) return;
  // White-noise correction of -40 dB (the 1.0001 factor of ITU-T G.729's LPC): the float
  // autocorrelation of a very clean periodic frame otherwise drives the prediction error to or
  // below zero and the recursion gives up.
  r[0] *= 1.0001;
  double a[p + 1] = {1.0}, tmp[p + 1];
  double err = r[0];
  for (int i = 1; i <= p; ++i) {
    double acc = r[i];
    for (int j = 1; j < i; ++j) acc += a[j] * r[i - j];
    const double k = -acc / err;
    for (int j = 0; j <= i; ++j) tmp[j] = a[j];
    for (int j = 1; j < i; ++j) a[j] = tmp[j] + k * tmp[i - j];
    a[i] = k;
    err *= 1.0 - k * k;
    if (err <= 0.0) return;
  }
  double prev2 = 0.0, prev1 = 0.0;
  int found = 0;
  for (int g = 0; g < Analyzer::Impl::kEnvelopePoints && found < 4; ++g) {
    const double* c = &impl.envelope_cos[g * (p + 1)];
    const double* sn = &impl.envelope_sin[g * (p + 1)];
    double re = 0.0, im = 0.0;
    for (int k = 0; k <= p; ++k) { re += a[k] * c[k]; im -= a[k] * sn[k]; }
    const double power = 1.0 / (re * re + im * im + 1e-30);
    if (g >= 2 && prev1 > prev2 && prev1 >= power && (g - 1) * 20.0 >= 150.0)
      out->formant_hz[found++] = static_cast<float>((g - 1) * 20.0);
    prev2 = prev1;
    prev1 = power;
  }
}

}  // namespace

std::vector<double> IntensityContourDb(std::span<const float> samples, size_t frame_count, double min_pitch_hz) {
  std::vector<float> window;
  int half = 0;
  MakeKaiser(min_pitch_hz, &window, &half);
  std::vector<double> db(frame_count);
  const long n = static_cast<long>(samples.size());
  for (size_t i = 0; i < frame_count; ++i) {
    const long center = static_cast<long>(Analyzer::kHopSamples) * static_cast<long>(i + 1);
    db[i] = KaiserIntensityDb(samples.data(), n, center, window, half, 4);
  }
  return db;
}

const char* FrameClassName(FrameClass c) {
  switch (c) {
    case FrameClass::kSilence: return "silence";
    case FrameClass::kUnvoiced: return "unvoiced";
    case FrameClass::kVoiced: return "voiced";
  }
  return "silence";
}

Analyzer::Impl::Impl(const AnalyzerConfig& c) : config(c) {
  constexpr double kPeriodsPerWindow = 3.0;
  constexpr double kInterpolationDepth = 0.5;
  const double dx = 1.0 / Analyzer::kSampleRateHz;
  nsamp_period = static_cast<int>(std::floor(1.0 / dx / config.pitch_floor_hz));
  half_period = nsamp_period / 2 + 1;
  const double dt_window = kPeriodsPerWindow / config.pitch_floor_hz;
  half_window = static_cast<int>(std::floor(dt_window / dx)) / 2 - 1;
  nsamp_window = half_window * 2;
  maximum_lag = std::min(static_cast<int>(std::floor(nsamp_window / kPeriodsPerWindow)) + 2, nsamp_window);
  brent_ixmax = static_cast<int>(std::floor(nsamp_window * kInterpolationDepth));
  fft_size = 1;
  while (fft_size < nsamp_window * (1 + kInterpolationDepth)) fft_size *= 2;
  max_candidates = std::min(kMaxPitchCandidates,
      std::max(kMaxPitchCandidates, static_cast<int>(config.pitch_ceiling_hz / config.pitch_floor_hz)));

  hann.resize(nsamp_window);
  for (int i = 0; i < nsamp_window; ++i)
    hann[i] = static_cast<float>(0.5 - 0.5 * std::cos((i + 1) * 2.0 * std::numbers::pi / (nsamp_window + 1)));

  // Plans are made on FFTW-aligned buffers; every stream's buffers are FFTW-aligned too, so the
  // SIMD codelets apply (FFTW_UNALIGNED would forbid them).
  FftwFloats buffer(fft_size);
  FftwComplexes spectrum(fft_size / 2 + 1);
  {
    std::lock_guard<std::mutex> lock(PlannerMutex());
    forward = fftwf_plan_dft_r2c_1d(fft_size, buffer.data(), reinterpret_cast<fftwf_complex*>(spectrum.data()),
                                    FFTW_ESTIMATE);
    backward = fftwf_plan_dft_c2r_1d(fft_size, reinterpret_cast<fftwf_complex*>(spectrum.data()), buffer.data(),
                                     FFTW_ESTIMATE);
  }
  std::fill(buffer.begin(), buffer.end(), 0.0f);
  // The window's own autocorrelation, to divide out of each frame's (Boersma 1993, eq. 9).
  std::copy(hann.begin(), hann.end(), buffer.begin());
  fftwf_execute_dft_r2c(forward, buffer.data(), reinterpret_cast<fftwf_complex*>(spectrum.data()));
  for (auto& v : spectrum) v = std::norm(v);
  fftwf_execute_dft_c2r(backward, reinterpret_cast<fftwf_complex*>(spectrum.data()), buffer.data());
  window_r.resize(brent_ixmax + 1);
  for (int i = 0; i <= brent_ixmax; ++i) window_r[i] = buffer[i] / buffer[0];

  MakeKaiser(config.intensity_min_pitch_hz, &kaiser, &kaiser_half);
  MakeKaiser(50.0, &syllable_kaiser, &syllable_kaiser_half);
  envelope_cos.resize(kEnvelopePoints * (kLpcOrder + 1));
  envelope_sin.resize(kEnvelopePoints * (kLpcOrder + 1));
  for (int g = 0; g < kEnvelopePoints; ++g)
    for (int k = 0; k <= kLpcOrder; ++k) {
      const double w = 2.0 * std::numbers::pi * (g * 20.0) / Analyzer::kSampleRateHz;
      envelope_cos[g * (kLpcOrder + 1) + k] = std::cos(w * k);
      envelope_sin[g * (kLpcOrder + 1) + k] = std::sin(w * k);
    }
  lookahead = std::max({half_window + 1, nsamp_period, kaiser_half, syllable_kaiser_half});
}

Analyzer::Impl::~Impl() {
  std::lock_guard<std::mutex> lock(PlannerMutex());
  if (forward) fftwf_destroy_plan(forward);
  if (backward) fftwf_destroy_plan(backward);
}

FrameScratch::FrameScratch(const Analyzer::Impl& impl)
    : frame(impl.fft_size), spectrum(impl.fft_size / 2 + 1), ac(impl.fft_size), r(impl.brent_ixmax + 1, 0.0) {}

void ComputeFrame(const Analyzer::Impl& impl, const float* samples, const float* band_samples, long n, long center,
                  FrameScratch* s, FrameFeatures* out) {
  const AnalyzerConfig& config = impl.config;
  const double fs = Analyzer::kSampleRateHz;
  out->time_s = center / fs;

  // Local mean over one longest period each side, then the windowed, DC-free frame.
  const long start = center - impl.half_window;
  const bool inside = start >= 0 && center + impl.nsamp_period <= n && start + impl.nsamp_window <= n &&
                      center - impl.nsamp_period >= 0;
  double local_mean = 0.0;
  if (inside) {
    for (long i = center - impl.nsamp_period; i < center + impl.nsamp_period; ++i) local_mean += samples[i];
  } else {
    for (long i = center - impl.nsamp_period; i < center + impl.nsamp_period; ++i) local_mean += SampleAt(samples, n, i);
  }
  local_mean /= 2.0 * impl.nsamp_period;
  float* frame = s->frame.data();
  const float mean_f = static_cast<float>(local_mean);
  if (inside) {
    for (int j = 0; j < impl.nsamp_window; ++j) frame[j] = (samples[start + j] - mean_f) * impl.hann[j];
  } else {
    for (int j = 0; j < impl.nsamp_window; ++j) frame[j] = (SampleAt(samples, n, start + j) - mean_f) * impl.hann[j];
  }
  std::fill(frame + impl.nsamp_window, frame + impl.fft_size, 0.0f);

  double local_peak = 0.0;
  const int peak_lo = std::max(0, impl.half_window - impl.half_period);
  const int peak_hi = std::min(impl.nsamp_window, impl.half_window + impl.half_period);
  for (int j = peak_lo; j < peak_hi; ++j) local_peak = std::max(local_peak, static_cast<double>(std::abs(frame[j])));
  out->local_peak = local_peak;

  double zc = 0.0;
  for (long i = center - 160; i < center + 160; ++i)
    if ((SampleAt(samples, n, i) >= 0.0f) != (SampleAt(samples, n, i + 1) >= 0.0f)) zc += 1.0;
  out->zero_crossing_rate = zc / 320.0;

  out->intensity_db = KaiserIntensityDb(samples, n, center, impl.kaiser, impl.kaiser_half, 1);
  out->syllable_intensity_db =
      KaiserIntensityDb(samples, n, center, impl.syllable_kaiser, impl.syllable_kaiser_half, 4);
  out->nucleus_intensity_db =
      KaiserIntensityDb(band_samples, n, center, impl.syllable_kaiser, impl.syllable_kaiser_half, 4);

  // Power spectrum; it serves the spectral-balance measures and, transformed back, the
  // autocorrelation (Wiener-Khinchin).
  fftwf_execute_dft_r2c(impl.forward, frame, reinterpret_cast<fftwf_complex*>(s->spectrum.data()));
  const int bins = impl.fft_size / 2 + 1;
  const double hz_per_bin = fs / impl.fft_size;
  double e_low = 0.0, e_high = 0.0, e_total = 0.0, e_below_1k = 0.0;
  double max_0_2k = 0.0, max_2_5k = 0.0;
  double sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0;
  int nreg = 0;
  double band[20] = {0.0};
  for (int k = 0; k < bins; ++k) {
    const double p = std::norm(s->spectrum[k]);
    s->spectrum[k] = static_cast<float>(p);
    const double f = k * hz_per_bin;
    e_total += p;
    if (f < 1000.0) e_below_1k += p;
    if (f >= 50.0 && f < 1000.0) e_low += p;
    if (f >= 1000.0 && f < 5000.0) e_high += p;
    if (f < 2000.0) max_0_2k = std::max(max_0_2k, p);
    else if (f < 5000.0) max_2_5k = std::max(max_2_5k, p);
    if (f > 0.0 && f < 5000.0) band[static_cast<int>(f / 250.0)] += p;
  }
  // Slope over 250 Hz bands rather than single bins: the same line, 20 logarithms per frame
  // instead of 320.
  for (int b = 0; b < 20; ++b) {
    const double x = (b + 0.5) * 0.25, y = 10.0 * std::log10(band[b] + 1e-20);
    sx += x; sy += y; sxx += x * x; sxy += x * y; ++nreg;
  }
  constexpr double kTiny = 1e-20;
  out->alpha_ratio_db = 10.0 * std::log10((e_high + kTiny) / (e_low + kTiny));  // eGeMAPS sign: usually < 0
  out->hammarberg_db = 10.0 * std::log10((max_0_2k + kTiny) / (max_2_5k + kTiny));
  const double denom = nreg * sxx - sx * sx;
  out->slope_db_per_khz = denom > 0.0 ? (nreg * sxy - sx * sy) / denom : 0.0;
  out->low_band_fraction = e_total > 0.0 ? e_below_1k / e_total : 0.0;

  fftwf_execute_dft_c2r(impl.backward, reinterpret_cast<fftwf_complex*>(s->spectrum.data()), s->ac.data());
  FormantPeaks(impl, s->ac.data(), out);

  // Candidates: the voiceless one is always present.
  out->candidates[0] = PitchCandidate{};
  out->candidate_count = 1;
  if (local_peak == 0.0 || s->ac[0] <= 0.0f) return;
  std::vector<double>& r = s->r;
  r[0] = 1.0;
  for (int i = 1; i <= impl.brent_ixmax; ++i) r[i] = s->ac[i] / (s->ac[0] * impl.window_r[i]);

  const double min_pitch = config.pitch_floor_hz;
  for (int i = 2; i < impl.maximum_lag && i < impl.brent_ixmax; ++i) {
    if (!(r[i] > 0.5 * config.voicing_threshold && r[i] > r[i - 1] && r[i] >= r[i + 1])) continue;
    const double dr = 0.5 * (r[i + 1] - r[i - 1]), d2r = 2.0 * r[i] - r[i - 1] - r[i + 1];
    const double frequency = fs / (i + dr / d2r);
    // Placement uses the parabolic peak height; the kept candidates get sinc-refined below
    // (Praat interpolates every maximum first, which costs more and changes little).
    double strength = r[i] + 0.5 * dr * dr / d2r;
    if (strength > 1.0) strength = 1.0 / strength;  // short windows can overshoot; reflect around 1
    int place = -1;
    if (out->candidate_count < impl.max_candidates) {
      place = out->candidate_count++;
    } else {
      // Replace the weakest, favouring high frequencies (octave cost) as the path finder will.
      double weakest = 2.0;
      for (int w = 1; w < impl.max_candidates; ++w) {
        const double local = out->candidates[w].strength -
                             config.octave_cost * std::log2(min_pitch / out->candidates[w].frequency_hz);
        if (local < weakest) { weakest = local; place = w; }
      }
      if (strength - config.octave_cost * std::log2(min_pitch / frequency) <= weakest) place = -1;
    }
    if (place >= 0) {
      out->candidates[place] = PitchCandidate{frequency, strength};
    }
  }
  // Second pass: maximize the sinc-interpolated autocorrelation for precision.
  for (int c = 1; c < out->candidate_count; ++c) {
    double x_max = fs / out->candidates[c].frequency_hz;
    double y = RefineMaximum(r, impl.brent_ixmax, x_max, 30, &x_max);
    if (y > 1.0) y = 1.0 / y;
    out->candidates[c].frequency_hz = fs / x_max;
    out->candidates[c].strength = y;
  }
}

}  // namespace cadence::paralinguistics
