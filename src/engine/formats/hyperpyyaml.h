// HyperPyYamlConfig: a model's YAML configuration in the HyperPyYAML dialect that CosyVoice and
// Step-Audio 2 publish (flow.yaml, cosyvoice2.yaml), read for its numbers — nothing is constructed.
//
// Objects are mappings tagged `!new:module.Class` (or `!name:` / `!apply:`); their arguments are
// the mapping's keys. A scalar `!ref <key>` (or `<key[sub]>`) is replaced by the top-level value it
// names, so `output_size: !ref <spk_embed_dim>` reads as the number. Anything HyperPyYAML would
// compute (a `!ref` with arithmetic or string interpolation) is an error naming the key when read,
// not a guess.
//
// Paths are dotted keys from the top level through objects and mappings:
// "flow.decoder.estimator.hidden_size"; a sequence element is "key.N". Errors name the file and
// the path and say what was found. Immutable after Load; safe to read from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace cadence::engine {

class HyperPyYamlConfig {
 public:
  static Result<HyperPyYamlConfig> Load(const std::string& path);
  static Result<HyperPyYamlConfig> Parse(const std::string& text, const std::string& label);
  HyperPyYamlConfig(HyperPyYamlConfig&&) noexcept;
  HyperPyYamlConfig& operator=(HyperPyYamlConfig&&) noexcept;
  ~HyperPyYamlConfig();

  bool Has(const std::string& path) const;
  // The class an object is built from: "cosyvoice2.flow.flow.CausalMaskedDiffWithXvec" for a
  // `!new:` mapping; an error when `path` is not a tagged object.
  Result<std::string> Class(const std::string& path) const;
  Result<int64_t> Int(const std::string& path) const;
  Result<double> Float(const std::string& path) const;
  Result<bool> Bool(const std::string& path) const;
  Result<std::string> String(const std::string& path) const;
  Result<std::vector<int64_t>> Ints(const std::string& path) const;
  // The value when present, `fallback` when the key is absent (the class's default applies); an
  // error when present but not of the type.
  Result<int64_t> IntOr(const std::string& path, int64_t fallback) const;
  Result<double> FloatOr(const std::string& path, double fallback) const;
  Result<bool> BoolOr(const std::string& path, bool fallback) const;

  const std::string& label() const { return label_; }

 private:
  struct Impl;
  HyperPyYamlConfig(std::string label, std::unique_ptr<Impl> impl);
  std::string label_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cadence::engine
