// cadence: the one executable. `cadence COMMAND --help` describes each command.
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/command.h"

namespace {

void PrintUsage() {
  std::printf("cadence — realtime speech-to-speech engine\n\nusage: cadence COMMAND [options]\n\ncommands:\n");
  for (const auto& [name, command] : cadence::cli::Commands())
    std::printf("  %-12s %s\n", name.c_str(), command.summary);
  std::printf("  %-12s %s\n", "bench", "run a benchmark (cadence bench --help)");
  std::printf("\n`cadence COMMAND --help` lists a command's options.\n");
}

int RunBench(int argc, char** argv) {
  const auto& benches = cadence::cli::Benches();
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::printf("usage: cadence bench NAME [options]\n\nbenchmarks:\n");
    for (const auto& [name, bench] : benches) std::printf("  %-16s %s\n", name.c_str(), bench.summary);
    return argc < 2 ? 2 : 0;
  }
  auto it = benches.find(argv[1]);
  if (it == benches.end()) {
    std::fprintf(stderr, "error: unknown benchmark '%s' (cadence bench --help lists them)\n", argv[1]);
    return 2;
  }
  return it->second.run(argc - 1, argv + 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("cadence 0.1.0\n");
    return 0;
  }
  if (std::strcmp(argv[1], "bench") == 0) return RunBench(argc - 1, argv + 1);
  const auto& commands = cadence::cli::Commands();
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    PrintUsage();
    return 2;
  }
  return it->second.run(argc - 1, argv + 1);
}
