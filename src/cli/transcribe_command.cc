// `cadence transcribe FILE.wav... [--asr-model F] [--asr-language L] [--asr-accurate] [--chunk-ms N]`:
// the server's recognizer on files, one line per file (path, tab, transcript), so a user can try a
// model before serving it and measure its word errors on their own recordings. Audio is resampled
// to 16 kHz and fed in --chunk-ms pieces, as a session feeds it.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "audio/resampler.h"
#include "audio/wav.h"
#include "cli/command.h"
#include "core/cpu_time.h"
#include "speech/asr/recognizer.h"

namespace {

using cadence::ThreadCpuSeconds;

int RunTranscribe(int argc, char** argv) {
  cadence::cli::Flags flags(
      "cadence transcribe FILE.wav... [--asr-model FILE] [--asr-language en|zh|auto] [--asr-accurate] [--chunk-ms N]");
  flags.String("asr-model", "FILE", "Whisper model (HF safetensors dir or whisper.cpp ggml .bin; default: PocketSphinx)");
  flags.String("asr-language", "LANG", "Whisper: en | zh | auto (detect per file)", "auto");
  flags.Int("asr-beam", "N", "Whisper: beam size (1: greedy)", 1, 1, 16);
  flags.Choice("asr-window", "Whisper: full (padded 30-s window) | speech (the utterance only)", {"full", "speech"},
               "full");
  flags.Double("asr-temperature-inc", "T", "Whisper: fallback temperature step for repetitive or unlikely text (0: off)",
               0.2, 0.0, 1.0);
  flags.Switch("asr-accurate", "PocketSphinx: run every search pass (the server's --asr-accurate)");
  flags.Int("chunk-ms", "MS", "feed the recognizer in pieces of this length, as a session does", 160, 10, 60000);
  flags.Switch("stats", "also print audio seconds, CPU seconds and confidence per file (to stderr)");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.positional().empty()) {
    std::fprintf(stderr, "error: transcribe takes one or more WAV files\n\n%s", flags.Help().c_str());
    return 2;
  }
  const int chunk_ms = flags.GetInt("chunk-ms");

  cadence::speech::RecognizerConfig config;
  config.model_path = flags.Get("asr-model");
  config.language = flags.Get("asr-language") == "auto" ? "" : flags.Get("asr-language");
  config.fast = !flags.On("asr-accurate");
  config.beam_size = flags.GetInt("asr-beam");
  config.encode_padding = flags.Get("asr-window") == "full";
  config.temperature_increment = flags.GetDouble("asr-temperature-inc");
  auto recognizer = cadence::speech::CreateRecognizer(config);
  if (!recognizer.ok()) {
    std::fprintf(stderr, "error: %s\n", recognizer.status().ToString().c_str());
    return 1;
  }

  const size_t chunk = static_cast<size_t>(chunk_ms) * 16;
  double total_audio_s = 0, total_cpu_s = 0;
  int failures = 0;
  for (const std::string& path : flags.positional()) {
    auto wave = cadence::audio::ReadWav(path);
    if (!wave.ok()) {
      std::fprintf(stderr, "error: %s\n", wave.status().ToString().c_str());
      ++failures;
      continue;
    }
    std::vector<float> pcm = wave->sample_rate_hz == 16000
                                 ? wave->samples
                                 : cadence::audio::Resample(wave->samples, wave->sample_rate_hz, 16000);
    const double start_cpu = ThreadCpuSeconds();
    auto stream = (*recognizer)->CreateStream();
    for (size_t at = 0; at < pcm.size(); at += chunk)
      stream->AcceptWaveform(std::span<const float>(pcm).subspan(at, std::min(chunk, pcm.size() - at)));
    auto transcript = stream->Finish();
    const double cpu_s = ThreadCpuSeconds() - start_cpu;
    if (!transcript.ok()) {
      std::fprintf(stderr, "error: %s: %s\n", path.c_str(), transcript.status().ToString().c_str());
      ++failures;
      continue;
    }
    const double audio_s = static_cast<double>(pcm.size()) / 16000.0;
    total_audio_s += audio_s;
    total_cpu_s += cpu_s;
    std::printf("%s\t%s\n", path.c_str(), transcript->text.c_str());
    std::fflush(stdout);
    if (flags.On("stats"))
      std::fprintf(stderr, "%s: %.2f s audio, %.2f s CPU, language %s, confidence %.2f\n", path.c_str(), audio_s, cpu_s,
                   transcript->language.c_str(), transcript->confidence);
  }
  if (flags.On("stats") && total_audio_s > 0)
    std::fprintf(stderr, "%s: %.1f s of audio in %.1f s of CPU (%.3f CPU-s per audio-s)\n",
                 std::string((*recognizer)->name()).c_str(), total_audio_s, total_cpu_s, total_cpu_s / total_audio_s);
  return failures == 0 ? 0 : 1;
}

}  // namespace

CADENCE_COMMAND(transcribe, "speech recognition of WAV files with the server's recognizer", RunTranscribe);
