#include "cli/command.h"

#include <cstdio>
#include <cstdlib>

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

bool Flags::Parse(int argc, char** argv, int* exit_code) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(Help().c_str(), stdout);
      *exit_code = 0;
      return false;
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
  out += "  --help                    show this help\n";
  return out;
}

}  // namespace cadence::cli
