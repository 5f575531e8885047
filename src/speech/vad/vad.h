// Voice activity detection: per-window speech probability for a 16 kHz mono stream.
//
// A VadModel is loaded once and shared (const, thread-safe); each session owns a VadStream that
// keeps the recurrent/energy state. Windows are kWindowSamples (512 samples = 32 ms at 16 kHz),
// the Silero VAD v5 framing, for every implementation, so turn detection (realtime/) is the same
// whichever model runs. Process() never allocates beyond `out` growth and never blocks.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace cadence::speech {

inline constexpr int kVadSampleRateHz = 16000;
inline constexpr int kVadWindowSamples = 512;

class VadStream {
 public:
  virtual ~VadStream() = default;
  // Feeds any number of samples; appends one probability in [0, 1] per completed window.
  virtual void Process(std::span<const float> samples_16k, std::vector<float>* probabilities) = 0;
  virtual void Reset() = 0;
};

class VadModel {
 public:
  virtual ~VadModel() = default;
  virtual std::string_view name() const = 0;  // "silero" | "energy"
  virtual std::unique_ptr<VadStream> CreateStream() const = 0;
};

struct VadConfig {
  std::string model_path;  // Silero ONNX file; empty: look in the default places, else energy VAD
};

// Loads the configured VAD, falling back to the energy VAD (with a log line saying why).
std::unique_ptr<VadModel> CreateVad(const VadConfig& config);
std::unique_ptr<VadModel> CreateEnergyVad();

}  // namespace cadence::speech
