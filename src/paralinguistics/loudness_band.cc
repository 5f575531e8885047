#include "paralinguistics/loudness_band.h"

#include <cmath>
#include <numbers>

#include "paralinguistics/analyzer.h"

namespace cadence::paralinguistics {
namespace {

// The Qs of the two second-order sections of a 4th-order Butterworth filter: 1 / (2 cos(pi/8))
// and 1 / (2 cos(3 pi/8)).
constexpr double kButterworthQ[2] = {0.54119610014619698, 1.3065629648763766};

// Robert Bristow-Johnson's cookbook low-pass / high-pass section at f0 with quality q.
void Design(bool high_pass, double f0, double q, double fs, double* b0, double* b1, double* b2, double* a1,
            double* a2) {
  const double w0 = 2.0 * std::numbers::pi * f0 / fs;
  const double c = std::cos(w0), alpha = std::sin(w0) / (2.0 * q);
  const double a0 = 1.0 + alpha;
  const double edge = high_pass ? (1.0 + c) / 2.0 : (1.0 - c) / 2.0;
  *b0 = edge / a0;
  *b1 = (high_pass ? -2.0 * edge : 2.0 * edge) / a0;
  *b2 = edge / a0;
  *a1 = -2.0 * c / a0;
  *a2 = (1.0 - alpha) / a0;
}

}  // namespace

LoudnessBandFilter::LoudnessBandFilter() {
  const double fs = Analyzer::kSampleRateHz;
  for (int s = 0; s < 4; ++s) {
    Biquad& b = stages_[s];
    const bool high_pass = s < 2;
    Design(high_pass, high_pass ? kLowHz : kHighHz, kButterworthQ[s % 2], fs, &b.b0, &b.b1, &b.b2, &b.a1, &b.a2);
  }
}

float LoudnessBandFilter::Process(float x) {
  double v = x;
  for (Biquad& b : stages_) {
    const double y = b.b0 * v + b.b1 * b.x1 + b.b2 * b.x2 - b.a1 * b.y1 - b.a2 * b.y2;
    b.x2 = b.x1;
    b.x1 = v;
    b.y2 = b.y1;
    b.y1 = y;
    v = y;
  }
  return static_cast<float>(v);
}

void LoudnessBandFilter::Reset() {
  for (Biquad& b : stages_) b.x1 = b.x2 = b.y1 = b.y2 = 0.0;
}

}  // namespace cadence::paralinguistics
