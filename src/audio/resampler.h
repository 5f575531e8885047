// Resampler: streaming sample-rate conversion (libsoxr, high quality), mono float.
//
// One Resampler per stream; not thread-safe. Process() may be called with any chunk size and
// returns whatever output is ready; Flush() drains the filter tail at end of stream.
// Resample() is the one-shot form for whole buffers.
#pragma once

#include <memory>
#include <span>
#include <vector>

namespace cadence::audio {

class Resampler {
 public:
  Resampler(int input_rate_hz, int output_rate_hz);
  ~Resampler();
  Resampler(Resampler&&) noexcept;
  Resampler& operator=(Resampler&&) noexcept;

  // Appends converted samples to `out`.
  void Process(std::span<const float> in, std::vector<float>* out);
  void Flush(std::vector<float>* out);
  int input_rate_hz() const { return in_rate_; }
  int output_rate_hz() const { return out_rate_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int in_rate_;
  int out_rate_;
};

std::vector<float> Resample(std::span<const float> in, int input_rate_hz, int output_rate_hz);

}  // namespace cadence::audio
