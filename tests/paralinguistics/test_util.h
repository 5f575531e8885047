// Helpers for the paralinguistics tests: temp files, running the reference tools (Praat,
// espeak-ng, flite) and reading their CSV output.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace cadence::paralinguistics::testing {

inline std::string SpeechDir() { return std::string(CADENCE_SHARED_DATA) + "/speech"; }

inline std::string TempDir() {
  static const std::string dir = [] {
    std::string d = std::filesystem::temp_directory_path() / ("cadence_para_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline bool HaveTool(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

inline bool Run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// Rows of a headered numeric CSV.
inline std::vector<std::vector<double>> ReadCsv(const std::string& path) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<double> row;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) row.push_back(std::atof(cell.c_str()));
    if (!row.empty()) rows.push_back(row);
  }
  return rows;
}

// Runs tools/paralinguistics/praat_reference.praat on `wav`; files land at `prefix`.*.csv.
inline bool RunPraatReference(const std::string& wav, const std::string& prefix) {
  const std::string script = std::string(CADENCE_SOURCE_DIR) + "/tools/paralinguistics/praat_reference.praat";
  return Run("praat --run '" + script + "' '" + wav + "' '" + prefix + "'");
}

// Column-wise list of file names in labels.csv.
inline std::vector<std::string> LabelledClips() {
  std::vector<std::string> files;
  std::ifstream in(SpeechDir() + "/labels.csv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    if (comma != std::string::npos) files.push_back(line.substr(0, comma));
  }
  return files;
}

}  // namespace cadence::paralinguistics::testing
