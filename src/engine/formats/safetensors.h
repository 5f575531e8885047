// SafetensorsFile: a memory-mapped Hugging Face .safetensors file (F32, F16, BF16 tensors).
//
// Open() validates the JSON header, each tensor's dtype, shape and data_offsets against the file
// size; errors name the file and tensor. Tensors are views into the mapping, except those whose
// bytes are misaligned for their element type, which are copied once into aligned memory. Shapes are in PyTorch order ([out, in] for a Linear).
// Immutable after Open(); safe to read from many threads. Data lives as long as the object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/dtype.h"
#include "engine/formats/mapped_file.h"
#include "engine/formats/stored_tensor.h"

namespace cadence::engine {

using SafetensorsTensor = StoredTensor;

class SafetensorsFile {
 public:
  static Result<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  const std::string& path() const { return file_.path(); }
  const std::map<std::string, SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* Find(const std::string& name) const;

 private:
  MappedFile file_;
  std::map<std::string, SafetensorsTensor> tensors_;
  // Copies of tensors whose bytes in the file are not aligned to their element size (a writer that
  // does not pad its header as Hugging Face's does): the kernels read elements as their type.
  std::vector<std::unique_ptr<uint64_t[]>> realigned_;
};

}  // namespace cadence::engine
