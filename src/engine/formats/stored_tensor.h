// StoredTensor: one named tensor as the weight-file readers hand it out (safetensors.h,
// torch_checkpoint.h): element type, PyTorch-order shape, and a view of its bytes, which live as
// long as the file object that returned it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace cadence::engine {

// "[2, 1, 128]": a shape as error messages name it.
inline std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct StoredTensor {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> shape;  // PyTorch order: shape.back() is contiguous
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  int64_t elems() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

}  // namespace cadence::engine
