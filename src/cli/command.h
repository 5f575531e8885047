// Subcommands of the `cadence` executable, and the flag parser they share.
//
// Each subcommand lives in its own file in src/cli/ and registers itself:
//   CADENCE_COMMAND(analyze, "paralinguistic reading of a WAV file", RunAnalyze);
// Benchmarks in bench/<domain>/*_bench.cc register under `cadence bench NAME`:
//   CADENCE_BENCH(engine, "prompt and decode tokens/s", RunEngineBench);
// A command returns the process exit code (0 ok, 1 failure, 2 usage error). The CLI holds no logic
// of its own: it parses flags and calls the domain libraries.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cadence::server {
struct EngineOptions;
struct ServerConfig;
}  // namespace cadence::server

namespace cadence::cli {

using CommandFn = int (*)(int argc, char** argv);  // argv[0] is the command name

struct Command {
  const char* name;
  const char* summary;
  CommandFn run;
};

std::map<std::string, Command>& Commands();
std::map<std::string, Command>& Benches();

struct CommandRegistrar {
  CommandRegistrar(std::map<std::string, Command>& table, Command command) {
    table[command.name] = command;
  }
};

// Flags: `--name value`, `--name=value`, `--switch`, short aliases (`-o FILE`), and positional
// arguments. A command declares every flag with its type (and, for numbers, its range), then calls
// Parse(), which checks every value given and every default before the command does any work: a
// malformed or out-of-range value, an unknown flag or a missing value is a usage error with an
// "error: ..." line on stderr (exit 2). The typed getters then cannot fail. Nothing here exits the
// process; reading a flag that was not declared with that type is a programming error (abort).
class Flags {
 public:
  explicit Flags(std::string usage_line) : usage_(std::move(usage_line)) {}

  // Declarations. `value_name` shows in --help ("FILE", "PORT"); bounds are inclusive.
  void String(const std::string& name, const std::string& value_name, const std::string& help,
              std::optional<std::string> default_value = std::nullopt);
  // A whole number: decimal digits after an optional "-", nothing else ("12abc" is an error).
  void Int(const std::string& name, const std::string& value_name, const std::string& help,
           std::optional<int> default_value, int min, int max);
  // A finite decimal number ("0.8", "1e-3"; not "inf", "nan" or "0.8x").
  void Double(const std::string& name, const std::string& value_name, const std::string& help,
              std::optional<double> default_value, double min, double max);
  // One of a fixed set of words; --help shows them as "a|b|c".
  void Choice(const std::string& name, const std::string& help, std::vector<std::string> choices,
              std::optional<std::string> default_value);
  void Switch(const std::string& name, const std::string& help);
  // `-letter` as another spelling of the declared `--name` ("-o" for "--out", "-n" for "--n").
  void Short(char letter, const std::string& name);

  // Returns false (after printing the error or the help text) when the command should exit;
  // `exit_code` is then 0 for --help and 2 for a usage error.
  bool Parse(int argc, char** argv, int* exit_code);

  bool Has(const std::string& name) const;  // given on the command line, or has a default
  // The value given, else the default. Get reads a String or Choice flag ("" when absent); GetInt
  // and GetDouble need Has(name) (declare a default, or check Has first).
  std::string Get(const std::string& name) const;
  int GetInt(const std::string& name) const;
  double GetDouble(const std::string& name) const;
  bool On(const std::string& name) const;  // a Switch that was given
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Help() const;

 private:
  enum class Type { kString, kInt, kDouble, kChoice, kSwitch };
  struct Spec {
    std::string name{}, value_name{}, help{};
    Type type = Type::kString;
    double min = 0, max = 0;                    // kInt, kDouble
    std::vector<std::string> choices{};         // kChoice
    std::optional<std::string> default_text{};  // as --help shows it
  };
  // The parsed value of a flag, given or default.
  struct Value {
    std::string text{};
    double number = 0;  // kInt (exact for every int) and kDouble
  };
  const Spec* Find(const std::string& name) const;
  const Spec& Declared(const std::string& name, Type type, const char* getter) const;
  void Declare(Spec spec);
  // Checks `text` against the spec; on success stores it in values_, else prints the error.
  bool Store(const Spec& spec, const std::string& text, bool is_default);

  std::string usage_;
  std::vector<Spec> specs_;
  std::map<char, std::string> shorts_;
  std::map<std::string, Value> values_;
  std::map<std::string, bool> switches_;
  std::vector<std::string> positional_;
};

// Flag groups that several commands and benches take, declared and read in one place
// (flag_groups.cc, part of the executable: cadence_cli itself needs no domain library).

// The engines behind a realtime session (serve, bench realtime): --personas DIR, --voice NAME,
// --model FILE.gguf, --llm-url URL, --llm-model NAME, --vad-model FILE, --asr-model FILE,
// --asr-accurate, --asr-language, --asr-beam, --asr-window, --asr-temperature-inc, --asr-preload,
// --asr-max-decoders. `personas_default` is the --personas default (serve: the shipped directory).
void AddEngineFlags(Flags* flags, const std::string& personas_default = "");
// Those flags as server::EngineOptions (the API key comes from env CADENCE_LLM_API_KEY). Include
// "server/engine_set.h" to use the result.
server::EngineOptions EngineOptionsFromFlags(const Flags& flags);

// Thread counts of a server (serve, bench realtime): --threads N (users' audio, >= 1),
// --reply-threads N (synthesis, 0: share --threads), --brain-threads N (brain calls, 0: share
// --reply-threads; default 4, as remote brains mostly wait), --io-threads N (>= 1).
struct WorkerCounts {
  int threads = 2;
  int reply_threads = 2;
  int brain_threads = 4;
  int io_threads = 2;
};
void AddWorkerFlags(Flags* flags);
WorkerCounts GetWorkerCounts(const Flags& flags);

// The server's limits (serve): write queue, frames, sessions, per-peer limits, Origins and every
// per-session budget (server::ServerConfig, realtime::SessionLimits), with their defaults.
void AddLimitFlags(Flags* flags);
// Sets those fields of `config` (include "server/server.h").
void ApplyLimitFlags(const Flags& flags, server::ServerConfig* config);

}  // namespace cadence::cli

#define CADENCE_CLI_CONCAT_INNER(a, b) a##b
#define CADENCE_CLI_CONCAT(a, b) CADENCE_CLI_CONCAT_INNER(a, b)
#define CADENCE_COMMAND(name, summary, fn)                                             \
  static ::cadence::cli::CommandRegistrar CADENCE_CLI_CONCAT(cadence_command_, name)( \
      ::cadence::cli::Commands(), ::cadence::cli::Command{#name, summary, fn})
#define CADENCE_BENCH(name, summary, fn)                                             \
  static ::cadence::cli::CommandRegistrar CADENCE_CLI_CONCAT(cadence_bench_, name)( \
      ::cadence::cli::Benches(), ::cadence::cli::Command{#name, summary, fn})
