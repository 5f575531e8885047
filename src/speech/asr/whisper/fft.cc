#include "speech/asr/whisper/fft.h"

#include <fftw3.h>

#include <algorithm>
#include <mutex>

namespace cadence::speech::whisper {
namespace {

std::mutex& PlannerMutex() {
  static std::mutex mutex;
  return mutex;
}

// A thread's FFTW-aligned input and output of one length (the plan's SIMD codelets need the
// alignment they were planned with).
struct Buffers {
  int n = 0;
  double* in = nullptr;
  fftw_complex* out = nullptr;
  ~Buffers() { Release(); }
  void Release() {
    fftw_free(in);
    fftw_free(out);
    in = nullptr;
    out = nullptr;
  }
  void Fit(int size) {
    if (size == n) return;
    Release();
    n = size;
    in = fftw_alloc_real(static_cast<size_t>(n));
    out = fftw_alloc_complex(static_cast<size_t>(n / 2 + 1));
  }
};

}  // namespace

Fft::Fft(int n) : n_(std::max(n, 1)) {
  Buffers planning;
  planning.Fit(n_);
  std::lock_guard<std::mutex> lock(PlannerMutex());
  plan_ = fftw_plan_dft_r2c_1d(n_, planning.in, planning.out, FFTW_ESTIMATE);
}

Fft::~Fft() {
  std::lock_guard<std::mutex> lock(PlannerMutex());
  fftw_destroy_plan(plan_);
}

void Fft::PowerSpectrum(const double* in, double* out) const {
  thread_local Buffers buffers;
  buffers.Fit(n_);
  std::copy_n(in, n_, buffers.in);
  fftw_execute_dft_r2c(plan_, buffers.in, buffers.out);
  for (int k = 0; k <= n_ / 2; ++k) out[k] = buffers.out[k][0] * buffers.out[k][0] + buffers.out[k][1] * buffers.out[k][1];
}

}  // namespace cadence::speech::whisper
