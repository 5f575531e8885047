// TorchCheckpoint: a PyTorch state dict saved with torch.save (the zip format of torch >= 1.6:
// `<archive>/data.pkl` plus one `<archive>/data/<key>` record per storage), read without Python.
//
// The pickle is interpreted by a restricted unpickler that understands exactly what a state dict
// contains: dicts (plain or collections.OrderedDict), tuples, lists, strings, numbers, booleans,
// None, storages (persistent ids of the form ('storage', torch.XStorage, key, location, numel))
// and tensors rebuilt by torch._utils._rebuild_tensor_v2 (and _rebuild_parameter). Any other global
// or opcode (os.system, builtins.eval, REDUCE on anything but the tensor rebuilders, BUILD of an
// object, extension codes, ...) is refused with an error naming it: nothing in the file is ever
// executed. The top level may be the state dict itself or a dict holding it under "state_dict" /
// "model" / "generator" (as training checkpoints do).
//
// Tensors: F32, F16 and BF16 (the dtypes published speech checkpoints use), any rank. A tensor
// whose strides are not the contiguous ones of its shape, or whose storage is shared with an offset,
// is copied into a contiguous buffer the checkpoint owns; contiguous ones point into the storage
// records, which the checkpoint also owns (read once at Open). Shapes are in PyTorch order
// ([out, in] for a Linear, [out, in / groups, kernel] for a Conv1d).
//
// Errors name the file and, where one is at fault, the tensor or pickle opcode. Immutable after
// Open(); safe to read from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/dtype.h"
#include "engine/formats/stored_tensor.h"

namespace cadence::engine {

using TorchTensor = StoredTensor;

class TorchCheckpoint {
 public:
  static Result<std::unique_ptr<TorchCheckpoint>> Open(const std::string& path);
  // Parses a checkpoint held in memory (the fuzzer's and tests' entry point); `label` names it in
  // errors.
  static Result<std::unique_ptr<TorchCheckpoint>> FromBytes(std::string bytes, const std::string& label);

  const std::string& path() const { return path_; }
  const std::map<std::string, TorchTensor>& tensors() const { return tensors_; }
  const TorchTensor* Find(const std::string& name) const;

  // The tensor `name` as f32 values (converted from F16/BF16), checked against `shape` when given
  // (empty = any). Errors name the file, the tensor and the expected and found shapes.
  Result<std::vector<float>> Floats(const std::string& name, const std::vector<int64_t>& shape = {}) const;

 private:
  std::string path_;
  std::map<std::string, TorchTensor> tensors_;
  std::vector<std::vector<uint8_t>> buffers_;  // storage records and contiguous copies
};

}  // namespace cadence::engine
