// Energy VAD: per 512-sample window, a speech score from the level above an adaptive noise floor,
// tempered by spectral flatness (speech is peaky, steady noise is flat).
//
// The noise floor is the minimum window level over the last 1.5 s (minimum statistics): steady
// noise becomes the floor after one window, and speech keeps it low through its own pauses and
// stop closures, which come at least every second or so in running speech.
// The score is smooth in SNR so that turn detection's hysteresis thresholds (e.g. 0.5 on, 0.35
// off) behave the same as with Silero.
#include <algorithm>
#include <array>
#include <cmath>
#include <complex>
#include <numbers>

#include "speech/vad/vad.h"

namespace cadence::speech {
namespace {

constexpr int kN = kVadWindowSamples;
constexpr double kAbsoluteFloorDb = -62.0;  // below this nothing is speech (digital near-silence)
constexpr double kInitialFloorDb = -50.0;   // assumed until the stream shows its own noise
constexpr double kSnrMidDb = 10.0;          // SNR at which the level score is 0.5
constexpr double kSnrSlopeDb = 2.5;
constexpr int kFloorHistoryWindows = 47;  // 1.5 s

// In-place radix-2 FFT of kN points (kN is a power of two).
void Fft(std::array<std::complex<float>, kN>& a) {
  for (int i = 1, j = 0; i < kN; ++i) {
    int bit = kN >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  for (int len = 2; len <= kN; len <<= 1) {
    float angle = -2.0f * std::numbers::pi_v<float> / len;
    std::complex<float> wlen(std::cos(angle), std::sin(angle));
    for (int i = 0; i < kN; i += len) {
      std::complex<float> w(1.0f, 0.0f);
      for (int k = 0; k < len / 2; ++k) {
        std::complex<float> u = a[i + k], v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
        w *= wlen;
      }
    }
  }
}

class EnergyVadStream final : public VadStream {
 public:
  EnergyVadStream() {
    for (int i = 0; i < kN; ++i)
      window_[i] = 0.5f - 0.5f * std::cos(2.0f * std::numbers::pi_v<float> * i / (kN - 1));
    Reset();
  }

  void Process(std::span<const float> samples_16k, std::vector<float>* probabilities) override {
    for (float s : samples_16k) {
      buffer_[filled_++] = s;
      if (filled_ == kN) {
        probabilities->push_back(ScoreWindow());
        filled_ = 0;
      }
    }
  }

  void Reset() override {
    filled_ = 0;
    floor_db_ = kInitialFloorDb;
    history_size_ = 0;
    history_next_ = 0;
  }

 private:
  float ScoreWindow() {
    // Pre-emphasis-free DC removal: subtract the mean so offsets don't read as energy.
    double mean = 0.0;
    for (float s : buffer_) mean += s;
    mean /= kN;
    double energy = 0.0;
    for (int i = 0; i < kN; ++i) {
      double x = buffer_[i] - mean;
      energy += x * x;
      spectrum_[i] = std::complex<float>(static_cast<float>(x) * window_[i], 0.0f);
    }
    double level_db = 10.0 * std::log10(energy / kN + 1e-12);

    // Spectral flatness over 250–4000 Hz (bins of 31.25 Hz).
    Fft(spectrum_);
    double log_sum = 0.0, lin_sum = 0.0;
    int bins = 0;
    for (int k = 8; k <= 128; ++k) {
      double p = std::norm(spectrum_[k]) + 1e-12;
      log_sum += std::log(p);
      lin_sum += p;
      ++bins;
    }
    double flatness = std::exp(log_sum / bins) / (lin_sum / bins);

    double snr_db = level_db - floor_db_;
    double level_score = 1.0 / (1.0 + std::exp(-(snr_db - kSnrMidDb) / kSnrSlopeDb));
    if (level_db < kAbsoluteFloorDb) level_score = 0.0;
    // White noise has flatness ~0.56 per frame; voiced speech ~0.01–0.2. Flat frames keep at most
    // 40 % of their level score (fricatives are flat too, so never zero).
    double t = std::clamp((flatness - 0.25) / (0.5 - 0.25), 0.0, 1.0);
    double score = level_score * (1.0 - 0.6 * t);

    history_db_[history_next_] = level_db;
    history_next_ = (history_next_ + 1) % kFloorHistoryWindows;
    history_size_ = std::min(history_size_ + 1, kFloorHistoryWindows);
    floor_db_ = *std::min_element(history_db_.begin(), history_db_.begin() + history_size_);
    return static_cast<float>(std::clamp(score, 0.0, 1.0));
  }

  std::array<float, kN> buffer_{};
  std::array<float, kN> window_{};
  std::array<std::complex<float>, kN> spectrum_{};
  int filled_ = 0;
  double floor_db_ = kInitialFloorDb;  // until the first window is seen
  std::array<double, kFloorHistoryWindows> history_db_{};
  int history_size_ = 0;
  int history_next_ = 0;
};

class EnergyVad final : public VadModel {
 public:
  std::string_view name() const override { return "energy"; }
  std::unique_ptr<VadStream> CreateStream() const override { return std::make_unique<EnergyVadStream>(); }
};

}  // namespace

std::unique_ptr<VadModel> CreateEnergyVad() { return std::make_unique<EnergyVad>(); }

}  // namespace cadence::speech
