// Fft: the power spectrum of a real frame of any fixed length on FFTW (double precision), for
// Whisper's 400-point STFT.
//
// Double precision so the log-mel features match a float64 reference to ~1e-6. The plan is made
// once per length (under a process-wide lock: FFTW's planner is not thread-safe); PowerSpectrum()
// is const and copies the frame into the calling thread's aligned buffers, so one Fft may be
// shared by many threads.
#pragma once

struct fftw_plan_s;

namespace cadence::speech::whisper {

class Fft {
 public:
  explicit Fft(int n);
  ~Fft();
  Fft(const Fft&) = delete;
  Fft& operator=(const Fft&) = delete;

  int size() const { return n_; }
  // out[k] = |sum_t in[t] e^{-2 pi i k t / n}|^2 for k in [0, n/2]; `in` has n reals, `out`
  // n/2 + 1.
  void PowerSpectrum(const double* in, double* out) const;

 private:
  int n_;
  fftw_plan_s* plan_;
};

}  // namespace cadence::speech::whisper
