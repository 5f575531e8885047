#include "paralinguistics/analyzer.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "audio/resampler.h"
#include "paralinguistics/analyzer_impl.h"
#include "paralinguistics/measures.h"

namespace cadence::paralinguistics {

Status AnalyzerConfig::Validate() const {
  auto bad = [](const std::string& m) { return Status::InvalidArgument("paralinguistics config: " + m); };
  if (!(pitch_floor_hz >= 30.0 && pitch_floor_hz <= 300.0))
    return bad("pitch_floor_hz (" + std::to_string(pitch_floor_hz) + ") must be within 30..300 Hz");
  if (!(pitch_ceiling_hz > pitch_floor_hz && pitch_ceiling_hz < Analyzer::kSampleRateHz / 2.0))
    return bad("pitch_ceiling_hz (" + std::to_string(pitch_ceiling_hz) +
               ") must be above pitch_floor_hz and below 8000 Hz");
  if (!(voicing_threshold > 0.0 && voicing_threshold < 1.0))
    return bad("voicing_threshold must be within (0, 1)");
  if (!(silence_threshold >= 0.0 && silence_threshold < 1.0))
    return bad("silence_threshold must be within [0, 1)");
  if (!(intensity_min_pitch_hz >= 50.0 && intensity_min_pitch_hz <= 500.0))
    return bad("intensity_min_pitch_hz must be within 50..500 Hz");
  if (!(min_pause_s > 0.0 && min_sounding_s > 0.0)) return bad("min_pause_s and min_sounding_s must be > 0");
  if (!(nuclei_reference_rate_syll_per_s == 0.0 ||
        (nuclei_reference_rate_syll_per_s >= 2.0 && nuclei_reference_rate_syll_per_s <= 10.0)))
    return bad("nuclei_reference_rate_syll_per_s (" + std::to_string(nuclei_reference_rate_syll_per_s) +
               ") must be 0 (off) or within 2..10 syllables per second");
  return Status::Ok();
}

Analyzer::Analyzer() : Analyzer(AnalyzerConfig{}) {}
Analyzer::Analyzer(const AnalyzerConfig& config) : impl_(std::make_unique<Impl>(config)) {}
Analyzer::~Analyzer() = default;

Result<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerConfig& config) {
  Status status = config.Validate();
  if (!status.ok()) return status;
  return std::unique_ptr<Analyzer>(new Analyzer(config));
}

const AnalyzerConfig& Analyzer::config() const { return impl_->config; }

std::unique_ptr<AnalyzerStream> Analyzer::NewStream() const { return std::make_unique<AnalyzerStream>(*this); }

Result<Analysis> Analyzer::AnalyzeWaveform(const audio::Waveform& wave) const {
  if (wave.sample_rate_hz <= 0)
    return Status::InvalidArgument("analyze: waveform has no sample rate (" + std::to_string(wave.sample_rate_hz) + ")");
  if (wave.samples.empty()) return Status::InvalidArgument("analyze: waveform is empty (0 samples); nothing to analyze");
  AnalyzerStream stream(*this);
  if (wave.sample_rate_hz == kSampleRateHz) {
    stream.Accept(wave.samples);
  } else {
    std::vector<float> resampled = audio::Resample(wave.samples, wave.sample_rate_hz, kSampleRateHz);
    stream.Accept(resampled);
  }
  Analysis analysis;
  analysis.cues = stream.Finish();
  analysis.frames = stream.frames();
  return analysis;
}

struct AnalyzerStream::Scratch {
  explicit Scratch(const Analyzer::Impl& impl) : frame(impl) {}
  FrameScratch frame;
};

AnalyzerStream::AnalyzerStream(const Analyzer& analyzer)
    : analyzer_(analyzer), scratch_(std::make_unique<Scratch>(analyzer.impl())) {
  samples_.reserve(Analyzer::kSampleRateHz * 10);
  band_samples_.reserve(Analyzer::kSampleRateHz * 10);
  frames_.reserve(1000);
}

AnalyzerStream::~AnalyzerStream() = default;

void AnalyzerStream::Reset() {
  samples_.clear();
  band_samples_.clear();
  band_filter_.Reset();
  frames_.clear();
  sum_ = 0.0;
  min_sample_ = max_sample_ = 0.0f;
}

void AnalyzerStream::Accept(std::span<const float> samples_16k) {
  for (float x : samples_16k) {
    // Non-finite input would poison every measure downstream; read it as silence.
    const float v = std::isfinite(x) ? x : 0.0f;
    samples_.push_back(v);
    band_samples_.push_back(band_filter_.Process(v));
    sum_ += v;
    min_sample_ = std::min(min_sample_, v);
    max_sample_ = std::max(max_sample_, v);
  }
  ComputeFramesUpTo(samples_.size(), /*pad_end=*/false);
}

void AnalyzerStream::ComputeFramesUpTo(size_t available, bool pad_end) {
  const Analyzer::Impl& impl = analyzer_.impl();
  const long n = static_cast<long>(available);
  for (;;) {
    const long center = static_cast<long>(Analyzer::kHopSamples) * (static_cast<long>(frames_.size()) + 1);
    if (pad_end ? center > n : center + impl.lookahead > n) break;
    frames_.emplace_back();
    ComputeFrame(impl, samples_.data(), band_samples_.data(), n, center, &scratch_->frame, &frames_.back());
  }
}

UtteranceCues AnalyzerStream::Finish() {
  const Analyzer::Impl& impl = analyzer_.impl();
  ComputeFramesUpTo(samples_.size(), /*pad_end=*/true);
  UtteranceCues cues;
  const double duration_s = accepted_s();
  cues.duration_s = duration_s;
  if (frames_.empty()) {
    InferStatesAndTraits(&cues);
    return cues;
  }
  const double mean = samples_.empty() ? 0.0 : sum_ / static_cast<double>(samples_.size());
  const double global_peak = std::max(max_sample_ - mean, mean - min_sample_);
  const double hop_s = Analyzer::kHopSamples / static_cast<double>(Analyzer::kSampleRateHz);
  // The syllable-nuclei voicing is a second, cheaper reading of the same candidates.
  std::vector<double> nucleus_f0;
  FindPitchPath(NucleusPitchConfig(impl.config), global_peak, hop_s, &frames_, &nucleus_f0);
  FindPitchPath(impl.config, global_peak, hop_s, &frames_);
  ClassifyFrames(impl.config, &frames_);
  MeasureProsody(frames_, duration_s, &cues);
  MeasureVoiceQuality(samples_, frames_, &cues);
  MeasureRateAndPauses(impl.config, band_samples_, frames_, nucleus_f0, &cues);
  DetectEvents(frames_, &cues);
  InferStatesAndTraits(&cues);
  return cues;
}

}  // namespace cadence::paralinguistics
