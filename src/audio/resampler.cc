#include "audio/resampler.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>

namespace cadence::audio {

struct Resampler::Impl {
  soxr_t soxr = nullptr;
  ~Impl() {
    if (soxr) soxr_delete(soxr);
  }
};

Resampler::Resampler(int input_rate_hz, int output_rate_hz)
    : impl_(std::make_unique<Impl>()), in_rate_(input_rate_hz), out_rate_(output_rate_hz) {
  if (in_rate_ != out_rate_) {
    soxr_error_t error = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    impl_->soxr = soxr_create(in_rate_, out_rate_, 1, &error, &io, &q, nullptr);
  }
}

Resampler::~Resampler() = default;
Resampler::Resampler(Resampler&&) noexcept = default;
Resampler& Resampler::operator=(Resampler&&) noexcept = default;

void Resampler::Process(std::span<const float> in, std::vector<float>* out) {
  if (!impl_->soxr) {
    out->insert(out->end(), in.begin(), in.end());
    return;
  }
  const size_t capacity =
      static_cast<size_t>(std::ceil(static_cast<double>(in.size()) * out_rate_ / in_rate_)) + 64;
  const size_t start = out->size();
  out->resize(start + capacity);
  size_t done = 0;
  soxr_process(impl_->soxr, in.data(), in.size(), nullptr, out->data() + start, capacity, &done);
  out->resize(start + done);
}

void Resampler::Flush(std::vector<float>* out) {
  if (!impl_->soxr) return;
  for (;;) {
    const size_t start = out->size();
    out->resize(start + 1024);
    size_t done = 0;
    soxr_process(impl_->soxr, nullptr, 0, nullptr, out->data() + start, 1024, &done);
    out->resize(start + done);
    if (done == 0) break;
  }
}

std::vector<float> Resample(std::span<const float> in, int input_rate_hz, int output_rate_hz) {
  if (input_rate_hz == output_rate_hz) return std::vector<float>(in.begin(), in.end());
  Resampler r(input_rate_hz, output_rate_hz);
  std::vector<float> out;
  r.Process(in, &out);
  r.Flush(&out);
  return out;
}

}  // namespace cadence::audio
