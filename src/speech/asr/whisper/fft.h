// Fft: a mixed-radix complex FFT of any fixed length, used for Whisper's 400-point STFT.
//
// Constructed once per length (twiddles precomputed); PowerSpectrum() is const and allocation-free
// given the caller's scratch, so one Fft may be shared by many threads. Computation is in double so
// the log-mel features match a float64 reference to ~1e-6.
#pragma once

#include <complex>
#include <vector>

namespace cadence::speech::whisper {

class Fft {
 public:
  explicit Fft(int n);
  int size() const { return n_; }
  // out[k] = |sum_t in[t] e^{-2 pi i k t / n}|^2 for k in [0, n/2]; `in` has n reals, `out`
  // n/2 + 1. `scratch` is resized to 2n on first use and reused.
  void PowerSpectrum(const double* in, double* out, std::vector<std::complex<double>>* scratch) const;

 private:
  void Transform(const std::complex<double>* in, std::complex<double>* out, int n, int stride,
                 size_t factor_index) const;

  int n_;
  std::vector<int> factors_;                   // prime factors of n_, small first
  std::vector<std::complex<double>> twiddle_;  // e^{-2 pi i j / n_}, j in [0, n_)
};

}  // namespace cadence::speech::whisper
