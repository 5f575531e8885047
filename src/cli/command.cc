#include "cli/command.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace cadence::cli {

std::map<std::string, Command>& Commands() {
  static std::map<std::string, Command> table;
  return table;
}

std::map<std::string, Command>& Benches() {
  static std::map<std::string, Command> table;
  return table;
}

namespace {

// Integers within these are "any whole number" in --help (no range shown).
constexpr int kIntLowest = std::numeric_limits<int>::min();
constexpr int kIntHighest = std::numeric_limits<int>::max();

std::string FormatNumber(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.15g", v);
  return buffer;
}

std::string Join(const std::vector<std::string>& words, const char* separator) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

// The whole of `text` as a number, or nothing: no leading space or '+', no trailing characters.
template <typename T>
std::optional<T> ParseWhole(const std::string& text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

void Flags::Declare(Spec spec) {
  if (Find(spec.name)) {
    std::fprintf(stderr, "cadence: flag --%s is declared twice\n", spec.name.c_str());
    std::abort();
  }
  specs_.push_back(std::move(spec));
}

void Flags::String(const std::string& name, const std::string& value_name, const std::string& help,
                   std::optional<std::string> default_value) {
  Declare({.name = name, .value_name = value_name, .help = help, .type = Type::kString,
           .default_text = std::move(default_value)});
}

void Flags::Int(const std::string& name, const std::string& value_name, const std::string& help,
                std::optional<int> default_value, int min, int max) {
  Declare({.name = name, .value_name = value_name, .help = help, .type = Type::kInt, .min = double(min),
           .max = double(max),
           .default_text = default_value ? std::optional(std::to_string(*default_value)) : std::nullopt});
}

void Flags::Double(const std::string& name, const std::string& value_name, const std::string& help,
                   std::optional<double> default_value, double min, double max) {
  Declare({.name = name, .value_name = value_name, .help = help, .type = Type::kDouble, .min = min, .max = max,
           .default_text = default_value ? std::optional(FormatNumber(*default_value)) : std::nullopt});
}

void Flags::Choice(const std::string& name, const std::string& help, std::vector<std::string> choices,
                   std::optional<std::string> default_value) {
  Declare({.name = name, .value_name = Join(choices, "|"), .help = help, .type = Type::kChoice,
           .choices = std::move(choices), .default_text = std::move(default_value)});
}

void Flags::Switch(const std::string& name, const std::string& help) {
  Declare({.name = name, .help = help, .type = Type::kSwitch});
}

void Flags::Short(char letter, const std::string& name) { shorts_[letter] = name; }

const Flags::Spec* Flags::Find(const std::string& name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

bool Flags::Store(const Spec& spec, const std::string& text, bool is_default) {
  Value value{.text = text};
  bool ok = true;
  std::string wanted;
  switch (spec.type) {
    case Type::kString:
      break;
    case Type::kInt: {
      auto v = ParseWhole<int>(text);
      ok = v && *v >= spec.min && *v <= spec.max;
      if (v) value.number = *v;
      wanted = spec.min == kIntLowest && spec.max == kIntHighest
                   ? "a whole number"
                   : "a whole number from " + FormatNumber(spec.min) + " to " + FormatNumber(spec.max);
      break;
    }
    case Type::kDouble: {
      auto v = ParseWhole<double>(text);
      ok = v && std::isfinite(*v) && *v >= spec.min && *v <= spec.max;
      if (v) value.number = *v;
      wanted = "a number from " + FormatNumber(spec.min) + " to " + FormatNumber(spec.max);
      break;
    }
    case Type::kChoice:
      ok = std::find(spec.choices.begin(), spec.choices.end(), text) != spec.choices.end();
      wanted = "one of " + Join(spec.choices, ", ");
      break;
    case Type::kSwitch:
      break;
  }
  if (!ok) {
    std::fprintf(stderr, "error: --%s must be %s (got '%s'%s)\n", spec.name.c_str(), wanted.c_str(), text.c_str(),
                 is_default ? ", the default: a bug in this command" : "");
    return false;
  }
  values_[spec.name] = std::move(value);
  return true;
}

bool Flags::Parse(int argc, char** argv, int* exit_code) {
  *exit_code = 2;
  // Defaults first, so a bad one shows whatever is given, and a given value then replaces it.
  for (const auto& spec : specs_)
    if (spec.default_text && !Store(spec, *spec.default_text, /*is_default=*/true)) return false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(Help().c_str(), stdout);
      *exit_code = 0;
      return false;
    }
    if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-' && !std::isdigit(static_cast<unsigned char>(arg[1]))) {
      auto it = shorts_.find(arg[1]);
      if (it == shorts_.end()) {
        std::fprintf(stderr, "error: unknown option %s\n\n%s", arg.c_str(), Help().c_str());
        return false;
      }
      arg = "--" + it->second;
    }
    if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
      std::string name = arg.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const Spec* spec = Find(name);
      if (!spec) {
        std::fprintf(stderr, "error: unknown option --%s\n\n%s", name.c_str(), Help().c_str());
        return false;
      }
      if (spec->type == Type::kSwitch) {
        if (inline_value) {
          std::fprintf(stderr, "error: --%s takes no value (got '%s')\n", name.c_str(), inline_value->c_str());
          return false;
        }
        switches_[name] = true;
        continue;
      }
      if (!inline_value && i + 1 >= argc) {
        std::fprintf(stderr, "error: option --%s needs a value (%s)\n", name.c_str(), spec->value_name.c_str());
        return false;
      }
      if (!Store(*spec, inline_value ? *inline_value : argv[++i], /*is_default=*/false)) return false;
      continue;
    }
    positional_.push_back(arg);
  }
  *exit_code = 0;
  return true;
}

const Flags::Spec& Flags::Declared(const std::string& name, Type type, const char* getter) const {
  const Spec* spec = Find(name);
  const bool string_like = type == Type::kString && spec && spec->type == Type::kChoice;
  if (!spec || (spec->type != type && !string_like)) {
    std::fprintf(stderr, "cadence: %s(\"%s\"): no flag of that name and type is declared\n", getter, name.c_str());
    std::abort();
  }
  return *spec;
}

bool Flags::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string Flags::Get(const std::string& name) const {
  Declared(name, Type::kString, "Get");
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second.text;
}

int Flags::GetInt(const std::string& name) const {
  Declared(name, Type::kInt, "GetInt");
  auto it = values_.find(name);
  if (it == values_.end()) {
    std::fprintf(stderr, "cadence: GetInt(\"%s\"): the flag has no default and was not given; check Has()\n",
                 name.c_str());
    std::abort();
  }
  return static_cast<int>(it->second.number);
}

double Flags::GetDouble(const std::string& name) const {
  Declared(name, Type::kDouble, "GetDouble");
  auto it = values_.find(name);
  if (it == values_.end()) {
    std::fprintf(stderr, "cadence: GetDouble(\"%s\"): the flag has no default and was not given; check Has()\n",
                 name.c_str());
    std::abort();
  }
  return it->second.number;
}

bool Flags::On(const std::string& name) const {
  Declared(name, Type::kSwitch, "On");
  return switches_.count(name) > 0;
}

std::string Flags::Help() const {
  std::string out = "usage: " + usage_ + "\n\noptions:\n";
  for (const auto& s : specs_) {
    std::string left = "  --" + s.name + (s.type == Type::kSwitch ? "" : " " + s.value_name);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "  ";
    std::vector<std::string> notes;
    if (s.type == Type::kInt && !(s.min == kIntLowest && s.max == kIntHighest))
      notes.push_back("integer " + FormatNumber(s.min) + ".." + FormatNumber(s.max));
    if (s.type == Type::kDouble) notes.push_back(FormatNumber(s.min) + ".." + FormatNumber(s.max));
    if (s.default_text && !s.default_text->empty()) notes.push_back("default: " + *s.default_text);
    out += left + s.help;
    if (!notes.empty()) out += " (" + Join(notes, "; ") + ")";
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

}  // namespace cadence::cli
