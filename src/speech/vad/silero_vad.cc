#include "speech/vad/silero_vad.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "core/log.h"
#include "engine/formats/onnx/interpreter.h"
#include "engine/formats/onnx/onnx_model.h"
#include "engine/kernels.h"

namespace cadence::speech {

namespace onnx = engine::onnx;

namespace {

// Silero VAD v5, 16 kHz: STFT of 256 taps, hop 128, over the 576-sample input reflect-padded by
// 64 on the right (4 frames, 129 bins); encoder convs 129->128 (s1), 128->64 (s2), 64->64 (s2),
// 64->128 (s1), kernel 3, pad 1, ReLU; LSTM cell 128; 1x1 conv 128->1; sigmoid. The 8 kHz branch
// (the other side of the graph's If on sr) is the same network at half the sizes in time and
// frequency: 256-sample windows with 32 samples of context, STFT of 128 taps, hop 64, right pad
// 32 (again 4 frames), 65 bins, first conv 65->128; its own weights.
struct SileroRate {
  int sample_rate_hz, window, context, filter, hop, pad_right, bins;
};
constexpr SileroRate kRate16k{16000, 512, 64, 256, 128, 64, 129};
constexpr SileroRate kRate8k{8000, 256, 32, 128, 64, 32, 65};
// Scratch sizes: the 16 kHz figures, the larger of the two.
constexpr int kFilter = 256, kBins = 129;
constexpr int kPadded = kSileroInputSamples + 64;              // 640
constexpr int kFrames = 4;                                     // both rates
constexpr int kHidden = 128;
constexpr float kSelfCheckTolerance = 1e-4f;

struct ConvLayer {
  int in_channels = 0, out_channels = 0, stride = 1;
  std::vector<float> weight;  // [out][in * 3], PyTorch/ONNX layout flattened
  std::vector<float> bias;
};

}  // namespace

struct SileroWeights {
  SileroRate rate = kRate16k;
  std::vector<float> basis;  // [2 * bins][filter]: real rows then imaginary rows
  ConvLayer encoder[4];
  std::vector<float> lstm_weight;  // [4 * kHidden][2 * kHidden]: [W_ih | W_hh], gates i, f, g, o
  std::vector<float> lstm_bias;    // b_ih + b_hh
  std::vector<float> out_weight;   // [kHidden]
  float out_bias = 0;
  engine::DotFn dot = nullptr;
};

namespace {

// --- Finding the 16 kHz weights in the graph -------------------------------------------------

using TensorPtr = std::shared_ptr<const onnx::Tensor>;

// Every named float tensor of the model: initializers and Constant outputs, at any depth.
void CollectTensors(const onnx::Graph& graph, std::map<std::string, TensorPtr>* tensors) {
  for (const auto& [name, t] : graph.initializers) (*tensors)[name] = t;
  for (const onnx::Node& node : graph.nodes) {
    if (node.op_type == "Constant" && !node.outputs.empty()) {
      if (const onnx::Attribute* v = node.Find("value"); v && v->t) (*tensors)[node.outputs[0]] = v->t;
    }
    for (const onnx::Attribute& a : node.attributes) {
      if (a.g) CollectTensors(*a.g, tensors);
    }
  }
}

// Names a graph's nodes (at any depth) read or define.
void CollectReferences(const onnx::Graph& graph, std::set<std::string>* names) {
  for (const auto& [name, t] : graph.initializers) names->insert(name);
  for (const onnx::Node& node : graph.nodes) {
    names->insert(node.inputs.begin(), node.inputs.end());
    names->insert(node.outputs.begin(), node.outputs.end());
    for (const onnx::Attribute& a : node.attributes) {
      if (a.g) CollectReferences(*a.g, names);
    }
  }
}

void ForEachGraph(const onnx::Graph& graph, const std::function<void(const onnx::Graph&)>& fn) {
  fn(graph);
  for (const onnx::Node& node : graph.nodes) {
    for (const onnx::Attribute& a : node.attributes) {
      if (a.g) ForEachGraph(*a.g, fn);
    }
  }
}

bool HasShape(const onnx::Tensor& t, std::vector<int64_t> shape) { return t.is_float() && t.shape == shape; }
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class WeightFinder {
 public:
  WeightFinder(const std::map<std::string, TensorPtr>& tensors, const std::set<std::string>& scope,
               const std::string& path)
      : tensors_(tensors), scope_(scope), path_(path) {}

  // The one tensor in scope whose name ends with `suffix` and has `shape`.
  Result<const onnx::Tensor*> Get(const std::string& suffix, std::vector<int64_t> shape) const {
    const onnx::Tensor* found = nullptr;
    for (const auto& [name, t] : tensors_) {
      if (!scope_.count(name) || !EndsWith(name, suffix) || !HasShape(*t, shape)) continue;
      if (found && found != t.get() && found->floats != t->floats) {
        return Status::InvalidArgument(path_ + ": two different tensors match '" + suffix + "' in this rate's branch");
      }
      found = t.get();
    }
    if (!found) {
      return Status::InvalidArgument(path_ + ": no float tensor named '*" + suffix + "' with shape " +
                                     onnx::ShapeString(shape) +
                                     " in this rate's branch; is this a Silero VAD v5 model?");
    }
    return found;
  }

 private:
  const std::map<std::string, TensorPtr>& tensors_;
  const std::set<std::string>& scope_;
  const std::string& path_;
};

Result<std::unique_ptr<SileroWeights>> ExtractWeights(const onnx::OnnxModel& model, const std::string& path,
                                                      const SileroRate& rate) {
  std::map<std::string, TensorPtr> tensors;
  CollectTensors(model.graph, &tensors);
  // The branch of this rate: the innermost graph that uses its STFT basis ([258,1,256] at 16 kHz,
  // [130,1,128] at 8 kHz) and not the other rate's. Single-rate exports are their own top graph.
  const SileroRate& other = rate.sample_rate_hz == 16000 ? kRate8k : kRate16k;
  const std::vector<int64_t> basis_shape = {2 * rate.bins, 1, rate.filter};
  const std::vector<int64_t> other_shape = {2 * other.bins, 1, other.filter};
  const std::string branch = rate.sample_rate_hz == 16000 ? "16 kHz" : "8 kHz";
  auto uses_shape = [&](const std::set<std::string>& names, std::vector<int64_t> shape) {
    for (const auto& name : names) {
      auto it = tensors.find(name);
      if (it != tensors.end() && HasShape(*it->second, shape)) return true;
    }
    return false;
  };
  std::set<std::string> scope;
  size_t best_size = SIZE_MAX;
  ForEachGraph(model.graph, [&](const onnx::Graph& g) {
    std::set<std::string> names;
    CollectReferences(g, &names);
    if (uses_shape(names, basis_shape) && !uses_shape(names, other_shape) && names.size() < best_size) {
      best_size = names.size();
      scope = std::move(names);
    }
  });
  if (scope.empty()) {
    return Status::InvalidArgument(path + ": no " + branch + " STFT basis " + onnx::ShapeString(basis_shape) +
                                   " found; is this a Silero VAD v5 ONNX file with a " + branch + " branch?");
  }
  WeightFinder find(tensors, scope, path);
  auto w = std::make_unique<SileroWeights>();
  w->rate = rate;
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* basis, find.Get("stft.forward_basis_buffer", basis_shape));
  w->basis = basis->floats;
  const int channels[5] = {rate.bins, 128, 64, 64, 128};
  const int strides[4] = {1, 2, 2, 1};
  for (int l = 0; l < 4; ++l) {
    const std::string prefix = "encoder." + std::to_string(l) + ".reparam_conv.";
    CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* weight, find.Get(prefix + "weight", {channels[l + 1], channels[l], 3}));
    CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* bias, find.Get(prefix + "bias", {channels[l + 1]}));
    w->encoder[l] = ConvLayer{channels[l], channels[l + 1], strides[l], weight->floats, bias->floats};
  }
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* w_ih, find.Get("decoder.rnn.weight_ih", {4 * kHidden, kHidden}));
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* w_hh, find.Get("decoder.rnn.weight_hh", {4 * kHidden, kHidden}));
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* b_ih, find.Get("decoder.rnn.bias_ih", {4 * kHidden}));
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* b_hh, find.Get("decoder.rnn.bias_hh", {4 * kHidden}));
  w->lstm_weight.resize(4 * kHidden * 2 * kHidden);
  w->lstm_bias.resize(4 * kHidden);
  for (int g = 0; g < 4 * kHidden; ++g) {
    std::copy_n(&w_ih->floats[g * kHidden], kHidden, &w->lstm_weight[g * 2 * kHidden]);
    std::copy_n(&w_hh->floats[g * kHidden], kHidden, &w->lstm_weight[g * 2 * kHidden + kHidden]);
    w->lstm_bias[g] = b_ih->floats[g] + b_hh->floats[g];
  }
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* out_w, find.Get("decoder.decoder.2.weight", {1, kHidden, 1}));
  CADENCE_ASSIGN_OR_RETURN(const onnx::Tensor* out_b, find.Get("decoder.decoder.2.bias", {1}));
  w->out_weight = out_w->floats;
  w->out_bias = out_b->floats[0];
  w->dot = engine::ResolveDotKernel(engine::DType::kF32, engine::BestIsa());
  return w;
}

inline float Sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// A deterministic test signal for the load-time check: a voiced-like harmonic tone with an
// envelope, then noise, so that the LSTM state moves through speech-like and quiet input.
std::vector<float> SelfCheckSignal(int windows, const SileroRate& rate) {
  std::vector<float> x(static_cast<size_t>(windows) * rate.window);
  uint32_t seed = 12345;
  for (size_t i = 0; i < x.size(); ++i) {
    const double t = static_cast<double>(i) / rate.sample_rate_hz;
    double v = 0;
    for (int h = 1; h <= 8; ++h) v += std::sin(2 * M_PI * 140.0 * h * t * (1.0 + 0.1 * t)) / h;
    seed = seed * 1664525u + 1013904223u;
    const double noise = (static_cast<double>(seed >> 8) / (1 << 24) - 0.5) * 0.05;
    const double envelope = i < x.size() / 2 ? 0.3 * std::sin(M_PI * i / (x.size() / 2.0)) : 0.0;
    x[i] = static_cast<float>(envelope * v + noise);
  }
  return x;
}

}  // namespace

// --- Stream --------------------------------------------------------------------------------

struct SileroVadStream::Scratch {
  std::array<float, kVadWindowSamples> pending{};
  int pending_count = 0;
  std::array<float, kSileroContextSamples> context{};
  std::array<float, kPadded> padded{};
  std::array<float, 2 * kBins * kFrames> spectrum{};  // [2*kBins][kFrames]
  std::array<float, 128 * kFrames> act_a{};           // [channels][frames], ping-pong
  std::array<float, 128 * kFrames> act_b{};
  std::array<float, kBins * 3 * kFrames> columns{};   // im2col: [frame][channel * 3 + tap]
  std::array<float, 2 * kHidden> xh{};                // LSTM input then hidden
  std::array<float, 4 * kHidden> gates{};
  std::array<float, kSileroStateSize> state{};        // h then c
};

SileroVadStream::SileroVadStream(const SileroWeights& weights)
    : weights_(weights), scratch_(std::make_unique<Scratch>()) {}
SileroVadStream::~SileroVadStream() = default;

void SileroVadStream::Reset() {
  Scratch& s = *scratch_;
  s.pending_count = 0;
  s.context.fill(0.0f);
  s.state.fill(0.0f);
}

std::span<const float> SileroVadStream::state() const { return scratch_->state; }

void SileroVadStream::Process(std::span<const float> samples_16k, std::vector<float>* probabilities) {
  Scratch& s = *scratch_;
  const int window = weights_.rate.window;
  size_t i = 0;
  while (i < samples_16k.size()) {
    const size_t take = std::min<size_t>(window - s.pending_count, samples_16k.size() - i);
    std::copy_n(samples_16k.data() + i, take, s.pending.data() + s.pending_count);
    s.pending_count += static_cast<int>(take);
    i += take;
    if (s.pending_count == window) {
      s.pending_count = 0;
      const float p = ProcessWindow(s.pending.data());
      if (probabilities) probabilities->push_back(p);
    }
  }
}

float SileroVadStream::ProcessWindow(const float* window) {
  Scratch& s = *scratch_;
  const SileroWeights& w = weights_;
  const engine::DotFn dot = w.dot;
  const SileroRate& r = w.rate;
  const int input = r.context + r.window;
  // Input = context + window, reflect-padded on the right (the edge sample not repeated).
  float* padded = s.padded.data();
  std::copy_n(s.context.begin(), r.context, padded);
  std::copy_n(window, r.window, padded + r.context);
  for (int j = 0; j < r.pad_right; ++j) padded[input + j] = padded[input - 2 - j];
  std::copy_n(window + r.window - r.context, r.context, s.context.begin());

  // STFT as a strided convolution, then magnitude: spectrum is [bin][frame].
  float* spec = s.spectrum.data();
  for (int f = 0; f < 2 * r.bins; ++f) {
    const float* row = &w.basis[static_cast<size_t>(f) * r.filter];
    for (int t = 0; t < kFrames; ++t) spec[f * kFrames + t] = dot(row, padded + t * r.hop, {}, r.filter);
  }
  // Magnitudes overwrite the real half in place: [bins][kFrames].
  for (int i = 0; i < r.bins * kFrames; ++i) {
    const float re = spec[i], im = spec[r.bins * kFrames + i];
    spec[i] = std::sqrt(re * re + im * im);
  }

  // Encoder: im2col per output frame, then one dot per (channel, frame); ReLU.
  const float* in = spec;
  int in_frames = kFrames;
  float* outs[2] = {s.act_a.data(), s.act_b.data()};
  for (int l = 0; l < 4; ++l) {
    const ConvLayer& layer = w.encoder[l];
    const int out_frames = (in_frames + 2 - 3) / layer.stride + 1;
    const int cols = layer.in_channels * 3;
    float* col = s.columns.data();
    for (int t = 0; t < out_frames; ++t) {
      float* c = col + t * cols;
      for (int ch = 0; ch < layer.in_channels; ++ch) {
        for (int k = 0; k < 3; ++k) {
          const int src = t * layer.stride + k - 1;
          c[ch * 3 + k] = (src >= 0 && src < in_frames) ? in[ch * in_frames + src] : 0.0f;
        }
      }
    }
    float* out = outs[l % 2];
    for (int o = 0; o < layer.out_channels; ++o) {
      const float* row = &layer.weight[static_cast<size_t>(o) * cols];
      for (int t = 0; t < out_frames; ++t) {
        const float v = layer.bias[o] + dot(row, col + t * cols, {}, cols);
        out[o * out_frames + t] = v > 0.0f ? v : 0.0f;
      }
    }
    in = out;
    in_frames = out_frames;
  }

  // LSTM cell on frame 0 of the encoder output (the graph gathers that one frame).
  float* h = s.state.data();
  float* c = s.state.data() + kHidden;
  for (int j = 0; j < kHidden; ++j) s.xh[j] = in[j * in_frames];
  std::copy_n(h, kHidden, s.xh.data() + kHidden);
  for (int g = 0; g < 4 * kHidden; ++g) {
    s.gates[g] = w.lstm_bias[g] + dot(&w.lstm_weight[static_cast<size_t>(g) * 2 * kHidden], s.xh.data(), {}, 2 * kHidden);
  }
  float logit = w.out_bias;
  for (int j = 0; j < kHidden; ++j) {
    const float i_gate = Sigmoid(s.gates[j]);
    const float f_gate = Sigmoid(s.gates[kHidden + j]);
    const float g_gate = std::tanh(s.gates[2 * kHidden + j]);
    const float o_gate = Sigmoid(s.gates[3 * kHidden + j]);
    c[j] = f_gate * c[j] + i_gate * g_gate;
    h[j] = o_gate * std::tanh(c[j]);
    logit += w.out_weight[j] * (h[j] > 0.0f ? h[j] : 0.0f);
  }
  return Sigmoid(logit);
}

// --- Model ---------------------------------------------------------------------------------

SileroVadModel::SileroVadModel() = default;
SileroVadModel::~SileroVadModel() = default;

std::unique_ptr<VadStream> SileroVadModel::CreateStream() const { return CreateSileroStream(); }

std::unique_ptr<SileroVadStream> SileroVadModel::CreateSileroStream() const {
  return std::make_unique<SileroVadStream>(*weights_);
}

Result<float> SileroVadModel::RunGraph(std::span<const float> input_with_context, std::vector<float>* state) const {
  if (state->size() != kSileroStateSize) {
    return Status::InvalidArgument("Silero state must hold 256 values, has " + std::to_string(state->size()));
  }
  onnx::OnnxInterpreter interpreter(*graph_);
  std::map<std::string, onnx::Tensor> feeds;
  for (const onnx::ValueInfo& input : interpreter.inputs()) {
    if (input.name == "input") {
      feeds["input"] = onnx::Tensor::Float({1, static_cast<int64_t>(input_with_context.size())},
                                           {input_with_context.begin(), input_with_context.end()});
    } else if (input.name == "state") {
      feeds["state"] = onnx::Tensor::Float({2, 1, kHidden}, *state);
    } else if (input.name == "sr") {
      feeds["sr"] = onnx::Tensor::Int64({}, {weights_->rate.sample_rate_hz});
    } else {
      return Status::InvalidArgument(path_ + ": unexpected graph input '" + input.name +
                                     "' (Silero v5 has input, state, sr)");
    }
  }
  auto outputs = interpreter.Run(feeds);
  if (!outputs.ok()) return outputs.status().WithContext(path_);
  if (outputs->size() < 2 || (*outputs)[0].size() != 1 || (*outputs)[1].size() != kSileroStateSize) {
    return Status::InvalidArgument(path_ + ": graph outputs are not (output [1,1], stateN [2,1,128])");
  }
  *state = (*outputs)[1].floats;
  return (*outputs)[0].floats[0];
}

Result<std::unique_ptr<SileroVadModel>> SileroVadModel::Load(const std::string& path, bool self_check,
                                                            int sample_rate_hz) {
  if (sample_rate_hz != 16000 && sample_rate_hz != 8000) {
    return Status::InvalidArgument(path + ": Silero VAD runs at 16000 or 8000 Hz, not " + std::to_string(sample_rate_hz));
  }
  auto graph = onnx::LoadOnnxModel(path);
  if (!graph.ok()) return graph.status();
  std::unique_ptr<SileroVadModel> model(new SileroVadModel());
  model->path_ = path;
  model->graph_ = std::make_unique<onnx::OnnxModel>(std::move(graph).value());
  onnx::OnnxInterpreter interpreter(*model->graph_);
  CADENCE_RETURN_IF_ERROR(interpreter.Validate().WithContext(path));
  auto weights = ExtractWeights(*model->graph_, path, sample_rate_hz == 16000 ? kRate16k : kRate8k);
  if (!weights.ok()) return weights.status();
  model->weights_ = std::move(weights).value();
  if (self_check) {
    constexpr int kWindows = 6;
    const SileroRate& rate = model->weights_->rate;
    const std::vector<float> signal = SelfCheckSignal(kWindows, rate);
    auto stream = model->CreateSileroStream();
    std::vector<float> state(kSileroStateSize, 0.0f);
    std::vector<float> input(rate.context + rate.window, 0.0f);
    float worst = 0;
    for (int k = 0; k < kWindows; ++k) {
      const float* window = signal.data() + k * rate.window;
      std::copy_n(window, rate.window, input.begin() + rate.context);
      auto reference = model->RunGraph(input, &state);
      if (!reference.ok()) return reference.status();
      const float fast = stream->ProcessWindow(window);
      worst = std::max(worst, std::fabs(fast - *reference));
      for (int j = 0; j < kSileroStateSize; ++j) worst = std::max(worst, std::fabs(stream->state()[j] - state[j]));
      std::copy_n(window + rate.window - rate.context, rate.context, input.begin());
    }
    if (!(worst <= kSelfCheckTolerance)) {
      return Status::FailedPrecondition(path + ": Cadence's Silero kernels differ from the ONNX graph by " +
                                        std::to_string(worst) + " (> 1e-4) on the load-time check; this file's "
                                        "graph is not the Silero VAD v5 this code implements");
    }
    CADENCE_LOG(kDebug, "vad", "silero %s (%d Hz): kernels match the graph within %.2g", path.c_str(), sample_rate_hz,
                worst);
  }
  return model;
}

int SileroVadModel::sample_rate_hz() const { return weights_->rate.sample_rate_hz; }
int SileroVadModel::window_samples() const { return weights_->rate.window; }
int SileroVadModel::context_samples() const { return weights_->rate.context; }

std::vector<SpeechSegment> FindSpeechSegments(std::span<const float> probabilities, size_t total_samples,
                                              const SegmentOptions& options) {
  const int rate_hz = options.sample_rate_hz == 8000 ? 8000 : kVadSampleRateHz;
  const size_t window = rate_hz == 8000 ? kRate8k.window : kRate16k.window;
  const double sample_s = 1.0 / rate_hz;
  const size_t min_speech = static_cast<size_t>(options.min_speech_ms) * rate_hz / 1000;
  const size_t min_silence = static_cast<size_t>(options.min_silence_ms) * rate_hz / 1000;
  const float off_threshold = std::max(options.threshold - 0.15f, 0.01f);
  std::vector<SpeechSegment> segments;
  bool triggered = false;
  size_t start = 0, temp_end = 0;
  for (size_t i = 0; i < probabilities.size(); ++i) {
    const size_t at = i * window;
    const float p = probabilities[i];
    if (p >= options.threshold && temp_end) temp_end = 0;
    if (p >= options.threshold && !triggered) {
      triggered = true;
      start = at;
      continue;
    }
    if (p < off_threshold && triggered) {
      if (!temp_end) temp_end = at;
      if (at - temp_end < min_silence) continue;
      if (temp_end - start > min_speech) segments.push_back({start * sample_s, temp_end * sample_s});
      triggered = false;
      temp_end = 0;
    }
  }
  if (triggered && total_samples > start && total_samples - start > min_speech) {
    segments.push_back({start * sample_s, total_samples * sample_s});
  }
  return segments;
}

std::string FindDefaultSileroModel() {
  namespace fs = std::filesystem;
  std::vector<fs::path> starts;
  std::error_code ec;
  starts.push_back(fs::current_path(ec));
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  for (fs::path dir : starts) {
    for (int up = 0; up < 4 && !dir.empty(); ++up) {
      const fs::path candidate = dir / kSileroNpmRelativePath;
      if (fs::exists(candidate, ec)) return candidate.string();
      if (dir == dir.parent_path()) break;
      dir = dir.parent_path();
    }
  }
  return "";
}

}  // namespace cadence::speech
