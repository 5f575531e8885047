// `cadence bench vad [--model FILE] [--seconds N] [--streams N]`: Silero VAD cost per session.
// Runs real speech (the J. F. Kennedy clip of ../shared/data/speech, looped) through one stream
// and through N interleaved streams on one thread, and reports time per 32 ms window, the
// real-time factor (compute time / audio time) and the sessions one core can serve (1 / RTF).
// The energy VAD and the ONNX-interpreter reference path are timed for comparison.
#include <chrono>
#include <ctime>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "audio/wav.h"
#include "cli/command.h"
#include "core/cpu_time.h"
#include "engine/kernels.h"
#include "speech/vad/silero_vad.h"
#include "speech/vad/vad.h"

namespace {

using cadence::ThreadCpuSeconds;

using Clock = std::chrono::steady_clock;

struct Timing {
  double wall_s = 0, cpu_s = 0;
};
using cadence::speech::kVadSampleRateHz;
using cadence::speech::kVadWindowSamples;

std::string CpuName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

// Seconds to push `samples` through `streams` streams, interleaved 20 ms at a time as a server
// would deliver them.
Timing TimeStreams(const cadence::speech::VadModel& model, const std::vector<float>& samples, int streams,
                   size_t* windows) {
  std::vector<std::unique_ptr<cadence::speech::VadStream>> s;
  for (int i = 0; i < streams; ++i) s.push_back(model.CreateStream());
  std::vector<float> probabilities;
  probabilities.reserve(samples.size() / kVadWindowSamples + 1);
  constexpr size_t kChunk = 320;  // 20 ms
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (size_t at = 0; at < samples.size(); at += kChunk) {
    const std::span<const float> chunk(samples.data() + at, std::min(kChunk, samples.size() - at));
    for (auto& stream : s) {
      probabilities.clear();
      stream->Process(chunk, &probabilities);
    }
  }
  *windows = samples.size() / kVadWindowSamples * streams;
  return {std::chrono::duration<double>(Clock::now() - start).count(), ThreadCpuSeconds() - cpu_start};
}

// Figures from thread CPU time (what one core spends); wall time shown for reference.
void Report(const char* what, Timing t, size_t windows, double audio_s) {
  const double rtf = t.cpu_s / audio_s;
  std::printf("  %-32s %8.1f us/window CPU (%8.1f wall)  RTF %.5f  sessions/core %.0f\n", what,
              1e6 * t.cpu_s / windows, 1e6 * t.wall_s / windows, rtf, 1.0 / rtf);
}

int RunVadBench(int argc, char** argv) {
  cadence::cli::Flags flags("cadence bench vad [--model FILE.onnx] [--seconds N] [--streams N]");
  flags.String("model", "FILE", "Silero VAD ONNX file (default: the npm package's silero_vad.onnx)");
  flags.Double("seconds", "N", "seconds of audio per stream", 60.0, 1.0, 86400.0);
  flags.Int("streams", "N", "interleaved streams for the multi-session figure", 16, 1, 10000);
  flags.String("clip", "FILE", "16 kHz WAV to loop (default: ../shared/data/speech/en_m_jfk.wav beside the checkout)");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  std::string model_path = flags.Get("model");
  if (model_path.empty()) model_path = cadence::speech::FindDefaultSileroModel();
  if (model_path.empty()) {
    std::fprintf(stderr, "error: no Silero model found; pass --model FILE.onnx or run npm install\n");
    return 1;
  }
  std::string clip = flags.Get("clip");
  if (clip.empty()) {
    // The repository root holds node_modules/; the shared data sit beside it.
    const std::string root = model_path.substr(0, model_path.find("node_modules/"));
    clip = root + "../shared/data/speech/en_m_jfk.wav";
  }
  auto wave = cadence::audio::ReadWav(clip);
  if (!wave.ok() || wave->sample_rate_hz != kVadSampleRateHz) {
    std::fprintf(stderr, "error: %s\n", wave.ok() ? "the clip must be 16 kHz" : wave.status().ToString().c_str());
    return 1;
  }
  const double seconds = flags.GetDouble("seconds");
  const int streams = flags.GetInt("streams");
  std::vector<float> audio;
  while (audio.size() < seconds * kVadSampleRateHz) audio.insert(audio.end(), wave->samples.begin(), wave->samples.end());
  audio.resize(static_cast<size_t>(seconds * kVadSampleRateHz));
  const double audio_s = static_cast<double>(audio.size()) / kVadSampleRateHz;

  const auto load_start = Clock::now();
  auto model = cadence::speech::SileroVadModel::Load(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
    return 1;
  }
  const double load_ms = 1e3 * std::chrono::duration<double>(Clock::now() - load_start).count();
  std::printf("vad bench: %s\n  cpu %s, kernels %s, one thread\n  model %s (load + self-check %.0f ms)\n",
              clip.c_str(), CpuName().c_str(),
              std::string(cadence::engine::IsaName(cadence::engine::BestIsa())).c_str(), model_path.c_str(), load_ms);
  std::printf("  %.0f s of audio per stream, fed 20 ms at a time\n", audio_s);

  size_t windows = 0;
  TimeStreams(**model, std::vector<float>(audio.begin(), audio.begin() + kVadSampleRateHz), 1, &windows);  // warm-up
  Timing t = TimeStreams(**model, audio, 1, &windows);
  Report("silero, 1 stream", t, windows, audio_s);
  t = TimeStreams(**model, audio, streams, &windows);
  char label[64];
  std::snprintf(label, sizeof label, "silero, %d streams interleaved", streams);
  Report(label, t, windows, audio_s * streams);

  auto energy = cadence::speech::CreateEnergyVad();
  t = TimeStreams(*energy, audio, 1, &windows);
  Report("energy VAD, 1 stream", t, windows, audio_s);

  // The reference path runs every ONNX node with allocation; a few windows are enough.
  std::vector<float> state(cadence::speech::kSileroStateSize, 0.0f), input(cadence::speech::kSileroInputSamples, 0.0f);
  constexpr int kGraphWindows = 20;
  const auto graph_start = Clock::now();
  const double graph_cpu_start = ThreadCpuSeconds();
  for (int k = 0; k < kGraphWindows; ++k) {
    std::copy_n(audio.begin() + k * kVadWindowSamples, kVadWindowSamples, input.begin() + cadence::speech::kSileroContextSamples);
    auto p = (*model)->RunGraph(input, &state);
    if (!p.ok()) {
      std::fprintf(stderr, "error: %s\n", p.status().ToString().c_str());
      return 1;
    }
  }
  Report("silero via ONNX interpreter",
         {std::chrono::duration<double>(Clock::now() - graph_start).count(), ThreadCpuSeconds() - graph_cpu_start},
         kGraphWindows,
         kGraphWindows * static_cast<double>(kVadWindowSamples) / kVadSampleRateHz);
  return 0;
}

}  // namespace

CADENCE_BENCH(vad, "Silero VAD per-session cost: us/window, real-time factor, sessions per core", RunVadBench);
