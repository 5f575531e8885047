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
#include <vector>

namespace cadence::server {
struct EngineOptions;
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
// arguments. Declare what a command accepts, then Parse(); unknown flags are a usage error with a
// message. Errors go to stderr as "error: ..." lines; nothing here exits the process.
class Flags {
 public:
  Flags(std::string usage_line) : usage_(std::move(usage_line)) {}
  // A flag that takes a value; `value_name` shows in --help ("FILE", "PORT").
  void Value(const std::string& name, const std::string& value_name, const std::string& help,
             std::optional<std::string> default_value = std::nullopt);
  void Switch(const std::string& name, const std::string& help);
  // `-letter` as another spelling of the declared `--name` ("-o" for "--out", "-n" for "--n").
  void Short(char letter, const std::string& name);

  // Returns false (after printing the error or the help text) when the command should exit;
  // `exit_code` is then 0 for --help and 2 for a usage error.
  bool Parse(int argc, char** argv, int* exit_code);

  bool Has(const std::string& name) const;  // given on the command line, or has a default
  std::string Get(const std::string& name) const;  // "" when absent
  int GetInt(const std::string& name, int fallback) const;
  double GetDouble(const std::string& name, double fallback) const;
  // Checked numbers: the value (or default) must parse whole and lie in [min, max]; otherwise
  // prints "error: --name must be ... (got 'x')" and returns false (a usage error: exit 2). An
  // absent flag without a default leaves *out as it is.
  bool GetIntIn(const std::string& name, int min, int max, int* out) const;
  bool GetDoubleIn(const std::string& name, double min, double max, double* out) const;
  bool On(const std::string& name) const { return switches_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Help() const;

 private:
  struct Spec {
    std::string name, value_name, help;
    std::optional<std::string> default_value;
    bool is_switch = false;
  };
  std::string usage_;
  std::vector<Spec> specs_;
  std::map<char, std::string> shorts_;
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> switches_;
  std::vector<std::string> positional_;
};

// Flag groups that several commands and benches take, declared and read in one place.

// The engines behind a realtime session (serve, bench realtime): --personas DIR, --voice NAME,
// --model FILE.gguf, --llm-url URL, --llm-model NAME, --vad-model FILE, --asr-model FILE,
// --asr-accurate. `personas_default` is the --personas default (serve: the shipped directory).
void AddEngineFlags(Flags* flags, const std::string& personas_default = "");
// Those flags as server::EngineOptions (the API key comes from env CADENCE_LLM_API_KEY). Include
// "server/engine_set.h" to use the result.
server::EngineOptions EngineOptionsFromFlags(const Flags& flags);

// Thread counts of a server (serve, bench realtime): --threads N (users' audio, >= 1),
// --reply-threads N (brain and synthesis, 0: share --threads), --io-threads N (>= 1); default 2 each.
struct WorkerCounts {
  int threads = 2;
  int reply_threads = 2;
  int io_threads = 2;
};
void AddWorkerFlags(Flags* flags);
// False (after an "error: ..." line) when a count is not a number in range.
bool GetWorkerCounts(const Flags& flags, WorkerCounts* out);

}  // namespace cadence::cli

#define CADENCE_CLI_CONCAT_INNER(a, b) a##b
#define CADENCE_CLI_CONCAT(a, b) CADENCE_CLI_CONCAT_INNER(a, b)
#define CADENCE_COMMAND(name, summary, fn)                                             \
  static ::cadence::cli::CommandRegistrar CADENCE_CLI_CONCAT(cadence_command_, name)( \
      ::cadence::cli::Commands(), ::cadence::cli::Command{#name, summary, fn})
#define CADENCE_BENCH(name, summary, fn)                                             \
  static ::cadence::cli::CommandRegistrar CADENCE_CLI_CONCAT(cadence_bench_, name)( \
      ::cadence::cli::Benches(), ::cadence::cli::Command{#name, summary, fn})
