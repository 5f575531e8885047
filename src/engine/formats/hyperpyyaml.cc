#include "engine/formats/hyperpyyaml.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace cadence::engine {

struct HyperPyYamlConfig::Impl {
  YAML::Node root;
};

namespace {

constexpr int kMaxRefDepth = 16;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : path) {
    if (c == '.') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  return parts;
}

// `<a>` or `<a[b][c]>` -> "a.b.c"; empty when the scalar is not a single plain reference.
std::string RefPath(const std::string& scalar) {
  std::string s = scalar;
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() < 3 || s.front() != '<' || s.back() != '>') return {};
  const std::string inner = s.substr(1, s.size() - 2);
  std::string out;
  for (char c : inner) {
    if (c == '<' || c == '>' || c == ' ' || c == '+' || c == '*' || c == '/' || c == '-') return {};
    if (c == '[') out += '.';
    else if (c != ']') out += c;
  }
  return out;
}

}  // namespace

HyperPyYamlConfig::HyperPyYamlConfig(std::string label, std::unique_ptr<Impl> impl)
    : label_(std::move(label)), impl_(std::move(impl)) {}
HyperPyYamlConfig::HyperPyYamlConfig(HyperPyYamlConfig&&) noexcept = default;
HyperPyYamlConfig& HyperPyYamlConfig::operator=(HyperPyYamlConfig&&) noexcept = default;
HyperPyYamlConfig::~HyperPyYamlConfig() = default;

Result<HyperPyYamlConfig> HyperPyYamlConfig::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the model config (missing file?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

Result<HyperPyYamlConfig> HyperPyYamlConfig::Parse(const std::string& text, const std::string& label) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::DataLoss(label + ": YAML: " + e.what());
  }
  if (!impl->root.IsMap()) return Status::DataLoss(label + ": the top level is not a mapping");
  return HyperPyYamlConfig(label, std::move(impl));
}

namespace {

// Walks `path` from `root`, following !ref scalars; null node when absent. `error` is set for a
// reference HyperPyYAML would have to compute.
YAML::Node Walk(const YAML::Node& root, const std::string& path, int depth, std::string* error) {
  if (depth > kMaxRefDepth) {
    *error = "references nest deeper than " + std::to_string(kMaxRefDepth) + " (a cycle?)";
    return YAML::Node(YAML::NodeType::Undefined);
  }
  // yaml-cpp's operator= writes through to the referenced node; reset() re-points. Lookups go
  // through const nodes so that a missing key is not inserted.
  YAML::Node node;
  node.reset(root);
  for (const std::string& key : SplitPath(path)) {
    // A !ref on the way resolves before descending.
    if (node.IsScalar() && node.Tag() == "!ref") {
      const std::string ref = RefPath(node.Scalar());
      if (ref.empty()) {
        *error = "!ref '" + node.Scalar() + "' is an expression; only plain references <key> are read";
        return YAML::Node(YAML::NodeType::Undefined);
      }
      const YAML::Node target = Walk(root, ref, depth + 1, error);
      if (!error->empty() || !target.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
      node.reset(target);
    }
    const YAML::Node here = node;
    if (here.IsMap()) {
      const YAML::Node next = here[key];
      if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
      node.reset(next);
    } else if (here.IsSequence()) {
      char* end = nullptr;
      const long index = std::strtol(key.c_str(), &end, 10);
      if (*end != '\0' || index < 0 || static_cast<size_t>(index) >= here.size()) return YAML::Node(YAML::NodeType::Undefined);
      node.reset(here[static_cast<size_t>(index)]);
    } else {
      return YAML::Node(YAML::NodeType::Undefined);
    }
  }
  if (node.IsScalar() && node.Tag() == "!ref") {
    const std::string ref = RefPath(node.Scalar());
    if (ref.empty()) {
      *error = "!ref '" + node.Scalar() + "' is an expression; only plain references <key> are read";
      return YAML::Node(YAML::NodeType::Undefined);
    }
    return Walk(root, ref, depth + 1, error);
  }
  return node;
}

template <typename T>
Result<T> As(const YAML::Node& root, const std::string& label, const std::string& path, const char* type_name) {
  std::string error;
  YAML::Node node = Walk(root, path, 0, &error);
  if (!error.empty()) return Status::InvalidArgument(label + ": " + path + ": " + error);
  if (!node.IsDefined() || node.IsNull())
    return Status::NotFound(label + ": key " + path + " is missing (is this the config of the right model?)");
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    return Status::InvalidArgument(label + ": " + path + ": expected " + type_name + ", found '" +
                                   (node.IsScalar() ? node.Scalar() : std::string("a mapping or list")) + "'");
  }
}

}  // namespace

bool HyperPyYamlConfig::Has(const std::string& path) const {
  std::string error;
  YAML::Node node = Walk(impl_->root, path, 0, &error);
  return error.empty() && node.IsDefined() && !node.IsNull();
}

Result<std::string> HyperPyYamlConfig::Class(const std::string& path) const {
  std::string error;
  YAML::Node node = Walk(impl_->root, path, 0, &error);
  if (!error.empty()) return Status::InvalidArgument(label_ + ": " + path + ": " + error);
  if (!node.IsDefined()) return Status::NotFound(label_ + ": key " + path + " is missing");
  const std::string& tag = node.Tag();
  for (const char* prefix : {"!new:", "!name:", "!apply:"}) {
    const std::string p(prefix);
    if (tag.compare(0, p.size(), p) == 0) return tag.substr(p.size());
  }
  return Status::InvalidArgument(label_ + ": " + path + " is not a !new: object (tag '" + tag + "')");
}

Result<int64_t> HyperPyYamlConfig::Int(const std::string& path) const {
  return As<int64_t>(impl_->root, label_, path, "an integer");
}
Result<double> HyperPyYamlConfig::Float(const std::string& path) const {
  return As<double>(impl_->root, label_, path, "a number");
}
Result<bool> HyperPyYamlConfig::Bool(const std::string& path) const {
  // HyperPyYAML is YAML 1.1 through PyYAML: True/False as well as true/false.
  auto s = As<std::string>(impl_->root, label_, path, "a boolean");
  if (!s.ok()) return s.status();
  if (*s == "true" || *s == "True" || *s == "TRUE") return true;
  if (*s == "false" || *s == "False" || *s == "FALSE") return false;
  return Status::InvalidArgument(label_ + ": " + path + ": expected a boolean, found '" + *s + "'");
}
Result<std::string> HyperPyYamlConfig::String(const std::string& path) const {
  return As<std::string>(impl_->root, label_, path, "a string");
}
Result<std::vector<int64_t>> HyperPyYamlConfig::Ints(const std::string& path) const {
  return As<std::vector<int64_t>>(impl_->root, label_, path, "a list of integers");
}

Result<int64_t> HyperPyYamlConfig::IntOr(const std::string& path, int64_t fallback) const {
  return Has(path) ? Int(path) : Result<int64_t>(fallback);
}
Result<double> HyperPyYamlConfig::FloatOr(const std::string& path, double fallback) const {
  return Has(path) ? Float(path) : Result<double>(fallback);
}
Result<bool> HyperPyYamlConfig::BoolOr(const std::string& path, bool fallback) const {
  return Has(path) ? Bool(path) : Result<bool>(fallback);
}

}  // namespace cadence::engine
