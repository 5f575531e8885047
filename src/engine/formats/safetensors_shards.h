// SafetensorsShards: a Hugging Face checkpoint's weights as one set of named tensors, whether the
// folder holds one `model.safetensors` or shards listed by `model.safetensors.index.json`
// ({"metadata": {...}, "weight_map": {tensor name: shard file name}}, shard names relative to
// the index's folder).
//
// Open() takes the folder (the index is preferred when both exist), the index file itself, or a
// single .safetensors file. Every shard the weight_map names is memory-mapped (SafetensorsFile) and
// every weight_map entry is checked against its shard; errors name the file and what is wrong (a
// missing shard, an entry whose tensor is not in its shard, a malformed index). Tensors a shard
// holds but the weight_map does not name are not visible (the index is the checkpoint's list).
//
// Find() / path() make it usable wherever a SafetensorsFile is (the Qwen2 loader's
// StoredTensorSource<File>). Immutable after Open(); safe to read from many threads. Tensor views
// live as long as the object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/safetensors.h"
#include "engine/formats/stored_tensor.h"

namespace cadence::engine {

class SafetensorsShards {
 public:
  static constexpr const char* kIndexName = "model.safetensors.index.json";
  static constexpr const char* kSingleName = "model.safetensors";

  static Result<std::unique_ptr<SafetensorsShards>> Open(const std::string& dir);

  // The index file, or the single .safetensors file: what error messages name.
  const std::string& path() const { return path_; }
  // nullptr when no shard holds `name`.
  const StoredTensor* Find(const std::string& name) const;
  // Every tensor name, sorted.
  std::vector<std::string> Names() const;
  size_t shard_count() const { return shards_.size(); }

 private:
  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::map<std::string, const StoredTensor*> tensors_;
};

}  // namespace cadence::engine
