// A small dense tensor for the ONNX graph interpreter: float32, int64 or bool elements, row-major,
// owning its data. Integers of any width and bools are held as int64 (bools as 0/1) so that
// shape arithmetic is one code path; float tensors use `floats`, the others `ints`. Copyable;
// not thread-safe for concurrent mutation (const access from many threads is fine).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cadence::engine::onnx {

// ONNX TensorProto.DataType values this interpreter computes with.
enum class ElementType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kDouble = 11,
};

std::string ElementTypeName(int32_t onnx_type);  // "float", "int64", "float16 (10)", ...

struct Tensor {
  ElementType type = ElementType::kFloat;
  std::vector<int64_t> shape;  // empty: a scalar
  std::vector<float> floats;   // when type == kFloat
  std::vector<int64_t> ints;   // otherwise (int32/int64/bool)

  bool is_float() const { return type == ElementType::kFloat; }
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t size() const;  // element count (1 for a scalar)
  // Element i as double / int64 whatever the storage (for shape and index inputs).
  double AsDouble(int64_t i) const { return is_float() ? floats[i] : static_cast<double>(ints[i]); }
  int64_t AsInt(int64_t i) const { return is_float() ? static_cast<int64_t>(floats[i]) : ints[i]; }
  std::string ShapeString() const;  // "[2,1,128]"

  static Tensor Float(std::vector<int64_t> shape, std::vector<float> data);
  static Tensor Int64(std::vector<int64_t> shape, std::vector<int64_t> data);
  static Tensor Bool(std::vector<int64_t> shape, std::vector<int64_t> data);
  // Zero-filled tensor of the given type and shape.
  static Tensor Zeros(ElementType type, std::vector<int64_t> shape);
};

int64_t ShapeSize(const std::vector<int64_t>& shape);
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace cadence::engine::onnx
