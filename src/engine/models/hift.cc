#include "engine/models/hift.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numbers>
#include <sstream>

namespace cadence::engine {
namespace {

using nn::Conv1d;
using nn::Conv1dSpec;
using nn::ConvTranspose1d;
using nn::ConvTranspose1dSpec;

// Elementwise passes are spread over the team in ranges of this many values.
constexpr int64_t kGrain = 16384;

void ForRange(WorkerTeam* team, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t chunks = (n + kGrain - 1) / kGrain;
  auto run = [&](int64_t c) { fn(c * kGrain, std::min(n, (c + 1) * kGrain)); };
  if (team != nullptr && team->threads() > 1 && chunks > 1) {
    team->ParallelFor(chunks, run);
  } else {
    for (int64_t c = 0; c < chunks; ++c) run(c);
  }
}

void LeakyRelu(float* x, int64_t n, float slope, WorkerTeam* team) {
  ForRange(team, n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) x[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
  });
}

// An uninitialized float buffer (every use writes before it reads; zeroing 15 MB buffers per call
// showed up in profiles).
std::unique_ptr<float[]> Buffer(int64_t n) { return std::unique_ptr<float[]>(new float[static_cast<size_t>(n)]); }

std::string Dims(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// The prefix every tensor name carries: "" for hift.pt, "generator." inside a HiFiGan checkpoint.
std::string NamePrefix(const TorchCheckpoint& ckpt) {
  if (ckpt.Find("conv_pre.bias") == nullptr && ckpt.Find("generator.conv_pre.bias") != nullptr) return "generator.";
  return "";
}

// A weight-normed conv's weight (PyTorch order, `shape`), from weight_g / weight_v, from
// parametrizations.weight.original0 / original1, or from a folded `weight`.
Result<std::vector<float>> NormedWeight(const TorchCheckpoint& ckpt, const std::string& module,
                                        const std::vector<int64_t>& shape) {
  std::vector<int64_t> g_shape(shape.size(), 1);
  g_shape[0] = shape[0];
  const std::pair<std::string, std::string> forms[] = {
      {module + ".weight_g", module + ".weight_v"},
      {module + ".parametrizations.weight.original0", module + ".parametrizations.weight.original1"}};
  for (const auto& [g_name, v_name] : forms) {
    if (ckpt.Find(g_name) == nullptr && ckpt.Find(v_name) == nullptr) continue;
    CADENCE_ASSIGN_OR_RETURN(std::vector<float> g, ckpt.Floats(g_name, g_shape));
    CADENCE_ASSIGN_OR_RETURN(std::vector<float> v, ckpt.Floats(v_name, shape));
    return nn::WeightNorm(g, v);
  }
  if (ckpt.Find(module + ".weight") != nullptr) return ckpt.Floats(module + ".weight", shape);
  return Status::NotFound(ckpt.path() + ": missing tensor " + module + ".weight_g (or " + module +
                          ".parametrizations.weight.original0, or " + module + ".weight), shape " + Dims(shape));
}

Result<Conv1d> LoadConv(const TorchCheckpoint& ckpt, const std::string& module, const Conv1dSpec& spec, bool normed,
                        Isa isa) {
  const std::vector<int64_t> shape = {spec.out_channels, spec.in_channels / spec.groups, spec.kernel};
  std::vector<float> w;
  if (normed) {
    CADENCE_ASSIGN_OR_RETURN(w, NormedWeight(ckpt, module, shape));
  } else {
    CADENCE_ASSIGN_OR_RETURN(w, ckpt.Floats(module + ".weight", shape));
  }
  CADENCE_ASSIGN_OR_RETURN(std::vector<float> b, ckpt.Floats(module + ".bias", {spec.out_channels}));
  return Conv1d::Create(spec, w, b, isa, module);
}

Conv1dSpec SameConv(int in, int out, int kernel, int dilation) {
  Conv1dSpec s;
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = kernel;
  s.dilation = dilation;
  s.pad_left = s.pad_right = (kernel * dilation - dilation) / 2;
  return s;
}

}  // namespace

int HiftConfig::samples_per_frame() const {
  int n = hop;
  for (int r : upsample_rates) n *= r;
  return n;
}

Status HiftConfig::Validate() const {
  auto bad = [](const std::string& m) { return Status::InvalidArgument("hift config: " + m); };
  if (in_channels <= 0 || base_channels <= 0 || f0_cond_channels <= 0 || nb_harmonics < 0) {
    return bad("channel counts must be positive");
  }
  if (upsample_rates.empty() || upsample_rates.size() != upsample_kernel_sizes.size()) {
    return bad("upsample_rates and upsample_kernel_sizes must be non-empty and of one length");
  }
  if (source_resblock_kernel_sizes.size() != upsample_rates.size() ||
      source_resblock_dilation_sizes.size() != upsample_rates.size()) {
    return bad("one source resblock per upsample is needed");
  }
  if (resblock_kernel_sizes.empty() || resblock_kernel_sizes.size() != resblock_dilation_sizes.size()) {
    return bad("resblock_kernel_sizes and resblock_dilation_sizes must be non-empty and of one length");
  }
  if (base_channels % (1 << upsample_rates.size()) != 0) return bad("base_channels must halve at each upsample");
  if (n_fft <= 0 || n_fft % 2 != 0 || hop <= 0 || sampling_rate_hz <= 0) return bad("n_fft must be even, hop > 0");
  for (size_t i = 0; i < upsample_rates.size(); ++i) {
    if (upsample_rates[i] <= 0 || upsample_kernel_sizes[i] < upsample_rates[i]) return bad("bad upsample rate");
  }
  return Status::Ok();
}

std::string HiftConfig::ToString() const {
  std::ostringstream s;
  auto list = [&](const std::vector<int>& v) {
    s << "[";
    for (size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
    s << "]";
  };
  s << "hift{in " << in_channels << ", base " << base_channels << ", harmonics " << nb_harmonics << ", "
    << sampling_rate_hz << " Hz, ups ";
  list(upsample_rates);
  s << " k ";
  list(upsample_kernel_sizes);
  s << ", n_fft " << n_fft << " hop " << hop << ", resblocks ";
  list(resblock_kernel_sizes);
  s << ", source resblocks ";
  list(source_resblock_kernel_sizes);
  s << ", f0 cond " << f0_cond_channels << "}";
  return s.str();
}

Status Hift::LoadResBlock(const TorchCheckpoint& ckpt, const std::string& prefix, int channels, int kernel,
                          const std::vector<int>& dilations, Isa isa, ResBlock* block) {
  for (size_t j = 0; j < dilations.size(); ++j) {
    const std::string n = std::to_string(j);
    CADENCE_ASSIGN_OR_RETURN(
        Conv1d c1, LoadConv(ckpt, prefix + ".convs1." + n, SameConv(channels, channels, kernel, dilations[j]), true, isa));
    CADENCE_ASSIGN_OR_RETURN(Conv1d c2,
                             LoadConv(ckpt, prefix + ".convs2." + n, SameConv(channels, channels, kernel, 1), true, isa));
    CADENCE_ASSIGN_OR_RETURN(std::vector<float> a1, ckpt.Floats(prefix + ".activations1." + n + ".alpha", {channels}));
    CADENCE_ASSIGN_OR_RETURN(std::vector<float> a2, ckpt.Floats(prefix + ".activations2." + n + ".alpha", {channels}));
    block->convs1.push_back(std::move(c1));
    block->convs2.push_back(std::move(c2));
    block->activations1.emplace_back(std::move(a1));
    block->activations2.emplace_back(std::move(a2));
  }
  return Status::Ok();
}

Result<std::unique_ptr<Hift>> Hift::Load(const TorchCheckpoint& ckpt, const HiftConfig& config, Isa isa) {
  CADENCE_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<Hift> h(new Hift());
  h->config_ = config;
  h->isa_ = isa;
  const std::string p = NamePrefix(ckpt);
  const HiftConfig& c = config;

  for (int i = 0; i < 5; ++i) {
    const int in = i == 0 ? c.in_channels : c.f0_cond_channels;
    CADENCE_ASSIGN_OR_RETURN(Conv1d conv, LoadConv(ckpt, p + "f0_predictor.condnet." + std::to_string(2 * i),
                                                   SameConv(in, c.f0_cond_channels, 3, 1), true, isa));
    h->f0_convs_.push_back(std::move(conv));
  }
  CADENCE_ASSIGN_OR_RETURN(h->f0_classifier_w_,
                           ckpt.Floats(p + "f0_predictor.classifier.weight", {1, c.f0_cond_channels}));
  CADENCE_ASSIGN_OR_RETURN(std::vector<float> f0_b, ckpt.Floats(p + "f0_predictor.classifier.bias", {1}));
  h->f0_classifier_b_ = f0_b[0];

  const int harmonics = c.nb_harmonics + 1;
  CADENCE_ASSIGN_OR_RETURN(h->source_linear_w_, ckpt.Floats(p + "m_source.l_linear.weight", {1, harmonics}));
  CADENCE_ASSIGN_OR_RETURN(std::vector<float> src_b, ckpt.Floats(p + "m_source.l_linear.bias", {1}));
  h->source_linear_b_ = src_b[0];

  CADENCE_ASSIGN_OR_RETURN(h->conv_pre_, LoadConv(ckpt, p + "conv_pre", SameConv(c.in_channels, c.base_channels, 7, 1),
                                                  true, isa));
  const int stages = static_cast<int>(c.upsample_rates.size());
  for (int i = 0; i < stages; ++i) {
    ConvTranspose1dSpec s;
    s.in_channels = c.base_channels >> i;
    s.out_channels = c.base_channels >> (i + 1);
    s.kernel = c.upsample_kernel_sizes[i];
    s.stride = c.upsample_rates[i];
    s.padding = (s.kernel - s.stride) / 2;
    const std::string name = p + "ups." + std::to_string(i);
    CADENCE_ASSIGN_OR_RETURN(std::vector<float> w, NormedWeight(ckpt, name, {s.in_channels, s.out_channels, s.kernel}));
    CADENCE_ASSIGN_OR_RETURN(std::vector<float> b, ckpt.Floats(name + ".bias", {s.out_channels}));
    CADENCE_ASSIGN_OR_RETURN(ConvTranspose1d up, ConvTranspose1d::Create(s, w, b, isa, name));
    h->ups_.push_back(std::move(up));
  }
  // Source path: stage i downsamples the source STFT by the product of the later upsample rates.
  for (int i = 0; i < stages; ++i) {
    int u = 1;
    for (int j = i + 1; j < stages; ++j) u *= c.upsample_rates[j];
    const int ch = c.base_channels >> (i + 1);
    Conv1dSpec s;
    s.in_channels = c.n_fft + 2;
    s.out_channels = ch;
    s.kernel = u == 1 ? 1 : 2 * u;
    s.stride = u;
    s.pad_left = s.pad_right = u == 1 ? 0 : u / 2;
    CADENCE_ASSIGN_OR_RETURN(Conv1d down, LoadConv(ckpt, p + "source_downs." + std::to_string(i), s, false, isa));
    h->source_downs_.push_back(std::move(down));
    ResBlock block;
    CADENCE_RETURN_IF_ERROR(LoadResBlock(ckpt, p + "source_resblocks." + std::to_string(i), ch,
                                         c.source_resblock_kernel_sizes[i], c.source_resblock_dilation_sizes[i], isa,
                                         &block));
    h->source_resblocks_.push_back(std::move(block));
  }
  const int kernels = static_cast<int>(c.resblock_kernel_sizes.size());
  for (int i = 0; i < stages; ++i) {
    for (int j = 0; j < kernels; ++j) {
      ResBlock block;
      CADENCE_RETURN_IF_ERROR(LoadResBlock(ckpt, p + "resblocks." + std::to_string(i * kernels + j),
                                           c.base_channels >> (i + 1), c.resblock_kernel_sizes[j],
                                           c.resblock_dilation_sizes[j], isa, &block));
      h->resblocks_.push_back(std::move(block));
    }
  }
  CADENCE_ASSIGN_OR_RETURN(
      h->conv_post_,
      LoadConv(ckpt, p + "conv_post", SameConv(c.base_channels >> stages, c.n_fft + 2, 7, 1), true, isa));
  // scipy.signal.get_window("hann", n_fft, fftbins=True) in float64, stored as float32.
  h->window_.resize(c.n_fft);
  for (int n = 0; n < c.n_fft; ++n) {
    h->window_[n] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / c.n_fft));
  }
  return h;
}

int64_t Hift::NormalsNeeded(int64_t frames) const {
  return frames * samples_per_frame() * (config_.nb_harmonics + 1);
}

std::vector<float> Hift::PredictF0(const float* mel, int64_t frames, WorkerTeam* team) const {
  std::vector<float> x(mel, mel + frames * config_.in_channels);
  for (const Conv1d& conv : f0_convs_) {
    x = conv.Forward(x, team);
    for (float& v : x) v = v > 0.0f ? v : std::exp(v) - 1.0f;  // ELU, alpha 1
  }
  const int64_t ch = config_.f0_cond_channels;
  std::vector<float> f0(frames);
  for (int64_t t = 0; t < frames; ++t) {
    float acc = 0.0f;
    for (int64_t c = 0; c < ch; ++c) acc += x[t * ch + c] * f0_classifier_w_[c];
    f0[t] = std::abs(acc + f0_classifier_b_);
  }
  return f0;
}

std::vector<float> Hift::Source(std::span<const float> f0_hz, std::span<const float> normals) const {
  const HiftConfig& c = config_;
  const int64_t frames = static_cast<int64_t>(f0_hz.size());
  const int64_t spf = samples_per_frame();
  const int64_t samples = frames * spf;
  const int harmonics = c.nb_harmonics + 1;
  std::vector<float> source(static_cast<size_t>(samples));
  if (frames == 0) return source;
  // Per-frame phase, as SineGen2 computes it: rad = (f0 * h / sr) % 1 read back at one sample per
  // frame, a float cumulative sum (accumulated in double, as PyTorch's CPU cumsum does), times 2,
  // times pi, times the upsampling factor.
  std::vector<float> phase(static_cast<size_t>(frames * harmonics));
  const float pi_f = static_cast<float>(std::numbers::pi);
  const float sr = static_cast<float>(c.sampling_rate_hz);
  for (int h = 0; h < harmonics; ++h) {
    double cum = 0.0;
    for (int64_t t = 0; t < frames; ++t) {
      float rad = f0_hz[t] * static_cast<float>(h + 1) / sr;
      rad = rad - std::floor(rad);
      cum += rad;
      phase[t * harmonics + h] = static_cast<float>(cum) * 2.0f * pi_f * static_cast<float>(spf);
    }
  }
  // Linear interpolation back to samples (align_corners false), then the harmonics are merged.
  const float scale = static_cast<float>(1.0 / static_cast<double>(spf));
  const float noise_voiced = c.nsf_sigma, noise_unvoiced = c.nsf_alpha / 3.0f;
  for (int64_t n = 0; n < samples; ++n) {
    float src = scale * (static_cast<float>(n) + 0.5f) - 0.5f;
    if (src < 0.0f) src = 0.0f;
    const int64_t i0 = static_cast<int64_t>(src);
    const int64_t i1 = i0 + (i0 < frames - 1 ? 1 : 0);
    const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    const float l0 = 1.0f - l1;
    const float f0 = f0_hz[n / spf];
    const bool voiced = f0 > c.nsf_voiced_threshold_hz;
    const float noise_amp = voiced ? noise_voiced : noise_unvoiced;
    float acc = 0.0f;
    for (int h = 0; h < harmonics; ++h) {
      const float ph = phase[i0 * harmonics + h] * l0 + phase[i1 * harmonics + h] * l1;
      const float sine = std::sin(ph) * c.nsf_alpha;
      const float s = (voiced ? sine : 0.0f) + noise_amp * normals[n * harmonics + h];
      acc += s * source_linear_w_[h];
    }
    source[n] = std::tanh(acc + source_linear_b_);
  }
  return source;
}

void Hift::RunResBlock(const ResBlock& block, float* x, int64_t frames, float* a, float* b, WorkerTeam* team) const {
  const int64_t n = frames * block.activations1[0].channels();
  for (size_t j = 0; j < block.convs1.size(); ++j) {
    block.activations1[j].Forward(x, a, frames, team, isa_);
    block.convs1[j].Forward(a, frames, b, team);
    block.activations2[j].Forward(b, b, frames, team, isa_);
    block.convs2[j].Forward(b, frames, a, team);
    ForRange(team, n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) x[i] = a[i] + x[i];
    });
  }
}

Result<std::vector<float>> Hift::Decode(const float* mel, int64_t frames, std::span<const float> source,
                                        WorkerTeam* team) const {
  const HiftConfig& c = config_;
  const int n_fft = c.n_fft, hop = c.hop, bins = n_fft / 2 + 1;
  const int64_t samples = static_cast<int64_t>(source.size());
  // STFT of the source (center, reflect padding, periodic hann): [stft_frames][real bins, imag bins].
  const int64_t stft_frames = samples / hop + 1;
  std::vector<double> cos_t(bins * n_fft), sin_t(bins * n_fft);
  for (int k = 0; k < bins; ++k) {
    for (int n = 0; n < n_fft; ++n) {
      const double a = 2.0 * std::numbers::pi * ((static_cast<int64_t>(k) * n) % n_fft) / n_fft;
      cos_t[k * n_fft + n] = std::cos(a);
      sin_t[k * n_fft + n] = std::sin(a);
    }
  }
  std::vector<float> s_stft(static_cast<size_t>(stft_frames * 2 * bins));
  const int64_t half = n_fft / 2;
  ForRange(team, stft_frames, [&](int64_t f0, int64_t f1) {
    std::vector<double> frame(n_fft);
    for (int64_t f = f0; f < f1; ++f) {
      for (int n = 0; n < n_fft; ++n) {
        int64_t j = f * hop + n - half;
        if (j < 0) j = -j;
        if (j >= samples) j = 2 * (samples - 1) - j;
        frame[n] = static_cast<double>(source[j]) * window_[n];
      }
      float* out = s_stft.data() + f * 2 * bins;
      for (int k = 0; k < bins; ++k) {
        double re = 0.0, im = 0.0;
        for (int n = 0; n < n_fft; ++n) {
          re += frame[n] * cos_t[k * n_fft + n];
          im -= frame[n] * sin_t[k * n_fft + n];
        }
        out[k] = static_cast<float>(re);
        out[bins + k] = static_cast<float>(im);
      }
    }
  });

  // Stage i runs at frames_i = frames * prod(rates[0..i]) (+1 after the last's reflection pad),
  // channels base >> (i + 1); five buffers of the largest stage's size serve every stage.
  const int stages = static_cast<int>(ups_.size());
  const int kernels = static_cast<int>(c.resblock_kernel_sizes.size());
  int64_t max_values = frames * c.base_channels;
  {
    int64_t f = frames;
    for (int i = 0; i < stages; ++i) {
      f = ups_[i].OutputFrames(f) + (i == stages - 1 ? 1 : 0);
      max_values = std::max(max_values, f * (c.base_channels >> (i + 1)));
    }
    max_values = std::max(max_values, f * (c.n_fft + 2));
  }
  auto x = Buffer(max_values), y = Buffer(max_values), sum = Buffer(max_values), a = Buffer(max_values),
       b = Buffer(max_values);
  conv_pre_.Forward(mel, frames, x.get(), team);
  int64_t x_frames = frames;
  for (int i = 0; i < stages; ++i) {
    const int64_t ch_in = c.base_channels >> i, ch = c.base_channels >> (i + 1);
    LeakyRelu(x.get(), x_frames * ch_in, c.lrelu_slope, team);
    const bool pad = i == stages - 1;  // ReflectionPad1d((1, 0)): frame 1 copied before frame 0
    ups_[i].Forward(x.get(), x_frames, y.get() + (pad ? ch : 0), team);
    x_frames = ups_[i].OutputFrames(x_frames);
    if (pad) {
      std::memcpy(y.get(), y.get() + 2 * ch, sizeof(float) * ch);
      ++x_frames;
    }
    std::swap(x, y);
    const int64_t n = x_frames * ch;
    // Source fusion: x += source_resblock(source_down(STFT(source))).
    const int64_t si_frames = source_downs_[i].OutputFrames(stft_frames);
    if (si_frames != x_frames) {
      return Status::InvalidArgument("hift: source gives " + std::to_string(si_frames) + " frames at stage " +
                                     std::to_string(i) + ", the mel " + std::to_string(x_frames) +
                                     " (the source must hold frames * samples_per_frame samples)");
    }
    source_downs_[i].Forward(s_stft.data(), stft_frames, y.get(), team);
    RunResBlock(source_resblocks_[i], y.get(), si_frames, a.get(), b.get(), team);
    ForRange(team, n, [&](int64_t i0, int64_t i1) {
      for (int64_t k = i0; k < i1; ++k) x[k] = x[k] + y[k];
    });
    // Mean of the resblocks, summed in order as PyTorch does.
    for (int j = 0; j < kernels; ++j) {
      float* out = j == 0 ? sum.get() : y.get();
      std::memcpy(out, x.get(), sizeof(float) * n);
      RunResBlock(resblocks_[i * kernels + j], out, x_frames, a.get(), b.get(), team);
      if (j > 0) {
        ForRange(team, n, [&](int64_t i0, int64_t i1) {
          for (int64_t k = i0; k < i1; ++k) sum[k] = sum[k] + y[k];
        });
      }
    }
    const float k_f = static_cast<float>(kernels);
    ForRange(team, n, [&](int64_t i0, int64_t i1) {
      for (int64_t k = i0; k < i1; ++k) x[k] = sum[k] / k_f;
    });
  }
  LeakyRelu(x.get(), x_frames * (c.base_channels >> stages), 0.01f, team);
  const int64_t spec_frames = conv_post_.OutputFrames(x_frames);
  std::vector<float> spec(static_cast<size_t>(spec_frames * (n_fft + 2)));
  conv_post_.Forward(x.get(), x_frames, spec.data(), team);

  // Inverse STFT: magnitude exp(.) clipped at 100, phase sin(.); irfft (imaginary parts of DC and
  // Nyquist ignored), window, overlap-add, divided by the summed squared window, center trimmed.
  const int64_t padded_len = n_fft + hop * (spec_frames - 1);
  std::vector<double> ola(static_cast<size_t>(padded_len), 0.0), env(static_cast<size_t>(padded_len), 0.0);
  std::vector<double> re(bins), im(bins);
  for (int64_t f = 0; f < spec_frames; ++f) {
    const float* row = spec.data() + f * (n_fft + 2);
    for (int k = 0; k < bins; ++k) {
      const float mag = std::min(std::exp(row[k]), 100.0f);
      const float ph = std::sin(row[bins + k]);
      re[k] = mag * std::cos(ph);
      im[k] = mag * std::sin(ph);
    }
    for (int n = 0; n < n_fft; ++n) {
      double v = re[0] + re[bins - 1] * ((n % 2) ? -1.0 : 1.0);
      for (int k = 1; k < bins - 1; ++k) v += 2.0 * (re[k] * cos_t[k * n_fft + n] - im[k] * sin_t[k * n_fft + n]);
      v /= n_fft;
      ola[f * hop + n] += v * window_[n];
      env[f * hop + n] += static_cast<double>(window_[n]) * window_[n];
    }
  }
  std::vector<float> audio(static_cast<size_t>(samples));
  for (int64_t n = 0; n < samples && n + half < padded_len; ++n) {
    const double e = env[n + half];
    const float v = static_cast<float>(e > 1e-11 ? ola[n + half] / e : 0.0);
    audio[n] = std::clamp(v, -c.audio_limit, c.audio_limit);
  }
  return audio;
}

Result<Hift::Output> Hift::Inference(const float* mel, int64_t frames, std::span<const float> cache_source,
                                     std::span<const float> normals, WorkerTeam* team) const {
  if (frames <= 0) return Status::InvalidArgument("hift: no mel frames");
  if (static_cast<int64_t>(normals.size()) != NormalsNeeded(frames)) {
    return Status::InvalidArgument("hift: " + std::to_string(normals.size()) + " noise draws given, " +
                                   std::to_string(NormalsNeeded(frames)) + " needed for " + std::to_string(frames) +
                                   " frames");
  }
  Output out;
  out.f0_hz = PredictF0(mel, frames, team);
  out.source = Source(out.f0_hz, normals);
  if (cache_source.size() > out.source.size()) {
    return Status::InvalidArgument("hift: cache_source holds " + std::to_string(cache_source.size()) +
                                   " samples, more than this call's " + std::to_string(out.source.size()));
  }
  std::copy(cache_source.begin(), cache_source.end(), out.source.begin());
  CADENCE_ASSIGN_OR_RETURN(out.audio, Decode(mel, frames, out.source, team));
  return out;
}

Result<Hift::Output> Hift::Inference(const float* mel, int64_t frames, std::span<const float> cache_source,
                                     std::mt19937_64& rng, WorkerTeam* team) const {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> normals(static_cast<size_t>(std::max<int64_t>(0, NormalsNeeded(frames))));
  for (float& v : normals) v = normal(rng);
  return Inference(mel, frames, cache_source, normals, team);
}

}  // namespace cadence::engine
