// `cadence bench paralinguistics`: real-time factor of the full cue set on one core, side by side
// with Praat's To Pitch (ac) + To Intensity + To Harmonicity (cc) on the same audio in the same run.
//
// Audio: the real clips of ../shared/data/speech, looped until at least --minutes of audio. Each
// clip is one utterance (Accept in 20 ms chunks, Finish, Reset), as in a session. Praat analyses
// the same audio concatenated into one WAV, pinned to one core with taskset when available.
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "audio/resampler.h"
#include "audio/wav.h"
#include "cli/command.h"
#include "paralinguistics/analyzer.h"

namespace {

namespace fs = std::filesystem;

constexpr char kPraatScript[] =
    "form Praat bench\n  sentence File\nendform\n"
    "sound = Read from file: file$\n"
    "pitch = To Pitch (ac): 0.01, 75, 15, \"no\", 0.03, 0.45, 0.01, 0.35, 0.14, 600\n"
    "selectObject: sound\n"
    "intensity = To Intensity: 100, 0.01, \"yes\"\n"
    "selectObject: sound\n"
    "harmonicity = To Harmonicity (cc): 0.01, 75, 0.1, 1.0\n";
using cadence::paralinguistics::Analyzer;

double ChildrenCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
}

int RunParalinguisticsBench(int argc, char** argv) {
  cadence::cli::Flags flags("cadence bench paralinguistics [--minutes N] [--data DIR] [--no-praat]");
  flags.Double("minutes", "N", "minutes of audio to analyse", 10.0, 0.01, 10000.0);
  flags.String("data", "DIR", "folder of WAV clips (run from the repository root for the default)",
               CADENCE_SHARED_DATA "/speech");
  flags.Switch("no-praat", "skip the Praat comparison");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const double minutes = flags.GetDouble("minutes");
  const std::string dir = flags.Get("data");

  std::vector<std::vector<float>> clips;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".wav") continue;
    auto wave = cadence::audio::ReadWav(entry.path().string());
    if (!wave.ok()) {
      std::fprintf(stderr, "error: %s\n", wave.status().ToString().c_str());
      return 1;
    }
    clips.push_back(wave->sample_rate_hz == Analyzer::kSampleRateHz
                        ? wave->samples
                        : cadence::audio::Resample(wave->samples, wave->sample_rate_hz, Analyzer::kSampleRateHz));
  }
  if (ec || clips.empty()) {
    std::fprintf(stderr, "error: no WAV clips in %s (--data DIR)\n", dir.c_str());
    return 1;
  }
  std::vector<const std::vector<float>*> order;
  double total_s = 0.0;
  while (total_s < minutes * 60.0) {
    for (const auto& c : clips) {
      order.push_back(&c);
      total_s += static_cast<double>(c.size()) / Analyzer::kSampleRateHz;
      if (total_s >= minutes * 60.0) break;
    }
  }
  std::printf("audio: %.1f s (%zu utterances looped from %zu clips in %s)\n", total_s, order.size(), clips.size(),
              dir.c_str());

  Analyzer analyzer;
  auto stream = analyzer.NewStream();
  constexpr size_t kChunk = 320;  // 20 ms
  size_t events = 0;
  timespec cpu_start{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_start);
  const auto start = std::chrono::steady_clock::now();
  for (size_t u = 0; u < order.size(); ++u) {
    const std::vector<float>& clip = *order[u];
    for (size_t i = 0; i < clip.size(); i += kChunk)
      stream->Accept(std::span<const float>(clip).subspan(i, std::min(kChunk, clip.size() - i)));
    events += stream->Finish().events.size();
    stream->Reset();
    if ((u + 1) % 50 == 0) std::fprintf(stderr, "  %zu / %zu utterances\n", u + 1, order.size());
  }
  const double ours_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  timespec cpu_end{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu_end);
  const double ours_cpu = (cpu_end.tv_sec - cpu_start.tv_sec) + 1e-9 * (cpu_end.tv_nsec - cpu_start.tv_nsec);
  std::printf("cadence (full cue set, 1 thread): %.2f s wall, %.2f s CPU; real-time factor %.0fx wall, %.0fx CPU "
              "(%zu events)\n",
              ours_s, ours_cpu, total_s / ours_s, total_s / ours_cpu, events);

  if (flags.On("no-praat")) return 0;
  if (std::system("command -v praat >/dev/null 2>&1") != 0) {
    std::printf("praat: not installed; comparison skipped (apt-get install praat)\n");
    return 0;
  }
  cadence::audio::Waveform joined{Analyzer::kSampleRateHz, {}};
  for (const auto* c : order) joined.samples.insert(joined.samples.end(), c->begin(), c->end());
  const std::string wav = (fs::temp_directory_path() / "cadence_bench_paralinguistics.wav").string();
  if (auto st = cadence::audio::WriteWav(wav, joined); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
    return 1;
  }
  // The script of tools/paralinguistics/praat_bench.praat, inlined so the bench runs from anywhere.
  const std::string script = (fs::temp_directory_path() / "cadence_bench_paralinguistics.praat").string();
  if (FILE* f = std::fopen(script.c_str(), "w")) {
    std::fputs(kPraatScript, f);
    std::fclose(f);
  }
  const bool have_taskset = std::system("command -v taskset >/dev/null 2>&1") == 0;
  const std::string command =
      (have_taskset ? "taskset -c 0 " : "") + std::string("praat --run '") + script + "' '" + wav + "'";
  const double cpu_before = ChildrenCpuSeconds();
  const auto praat_start = std::chrono::steady_clock::now();
  const int rc = std::system(command.c_str());
  const double praat_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - praat_start).count();
  const double praat_cpu = ChildrenCpuSeconds() - cpu_before;
  fs::remove(wav, ec);
  fs::remove(script, ec);
  if (rc != 0) {
    std::fprintf(stderr, "error: praat failed (exit %d): %s\n", rc, command.c_str());
    return 1;
  }
  std::printf("praat (To Pitch ac + To Intensity + To Harmonicity cc%s): %.2f s wall, %.2f s CPU, "
              "real-time factor %.0fx\n",
              have_taskset ? ", pinned to 1 core" : "", praat_s, praat_cpu, total_s / praat_s);
  std::printf("praat real-time factor on CPU time: %.0fx\n", total_s / praat_cpu);
  std::printf("cadence / praat speed: %.2fx (wall), %.2fx (CPU)\n", praat_s / ours_s, praat_cpu / ours_cpu);
  return 0;
}

}  // namespace

CADENCE_BENCH(paralinguistics, "real-time factor of the paralinguistic cues vs Praat on >= 10 min of speech",
              RunParalinguisticsBench);
