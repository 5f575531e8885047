#include "speech/asr/whisper/fft.h"

#include <cmath>
#include <numbers>

namespace cadence::speech::whisper {

Fft::Fft(int n) : n_(n > 0 ? n : 1) {
  int rest = n_;
  for (int p = 2; rest > 1;) {
    if (rest % p == 0) {
      factors_.push_back(p);
      rest /= p;
    } else {
      p = (p == 2) ? 3 : p + 2;
    }
  }
  twiddle_.resize(n_);
  for (int j = 0; j < n_; ++j) {
    const double angle = -2.0 * std::numbers::pi * j / n_;
    twiddle_[j] = {std::cos(angle), std::sin(angle)};
  }
}

// Decimation in time: an n-point DFT of the stride-spaced input is p interleaved m-point DFTs
// (m = n / p) combined with twiddles. Each level costs n * p complex products.
void Fft::Transform(const std::complex<double>* in, std::complex<double>* out, int n, int stride,
                    size_t factor_index) const {
  if (n == 1) {
    out[0] = in[0];
    return;
  }
  const int p = factors_[factor_index];
  const int m = n / p;
  for (int q = 0; q < p; ++q) Transform(in + q * stride, out + q * m, m, stride * p, factor_index + 1);
  // Twiddle index scale: W_n^e = W_{n_}^{e * n_ / n}.
  const int scale = n_ / n;
  std::complex<double> sub[16];
  std::vector<std::complex<double>> big;
  std::complex<double>* y = sub;
  if (p > 16) {
    big.resize(p);
    y = big.data();
  }
  for (int k = 0; k < m; ++k) {
    for (int q = 0; q < p; ++q) y[q] = out[q * m + k];
    for (int s = 0; s < p; ++s) {
      const int kk = k + s * m;
      std::complex<double> acc = y[0];
      for (int q = 1; q < p; ++q) {
        acc += y[q] * twiddle_[(static_cast<int64_t>(q) * kk * scale) % n_];
      }
      out[kk] = acc;
    }
  }
}

void Fft::PowerSpectrum(const double* in, double* out, std::vector<std::complex<double>>* scratch) const {
  scratch->resize(2 * static_cast<size_t>(n_));
  std::complex<double>* x = scratch->data();
  std::complex<double>* spectrum = x + n_;
  for (int t = 0; t < n_; ++t) x[t] = {in[t], 0.0};
  Transform(x, spectrum, n_, 1, 0);
  for (int k = 0; k <= n_ / 2; ++k) out[k] = std::norm(spectrum[k]);
}

}  // namespace cadence::speech::whisper
