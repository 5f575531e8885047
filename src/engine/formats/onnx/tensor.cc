#include "engine/formats/onnx/tensor.h"

namespace cadence::engine::onnx {

std::string ElementTypeName(int32_t onnx_type) {
  switch (onnx_type) {
    case 1: return "float";
    case 2: return "uint8";
    case 3: return "int8";
    case 4: return "uint16";
    case 5: return "int16";
    case 6: return "int32";
    case 7: return "int64";
    case 8: return "string";
    case 9: return "bool";
    case 10: return "float16";
    case 11: return "double";
    case 16: return "bfloat16";
    default: return "type " + std::to_string(onnx_type);
  }
}

int64_t ShapeSize(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t Tensor::size() const { return ShapeSize(shape); }
std::string Tensor::ShapeString() const { return onnx::ShapeString(shape); }

Tensor Tensor::Float(std::vector<int64_t> shape, std::vector<float> data) {
  Tensor t;
  t.type = ElementType::kFloat;
  t.shape = std::move(shape);
  t.floats = std::move(data);
  return t;
}

Tensor Tensor::Int64(std::vector<int64_t> shape, std::vector<int64_t> data) {
  Tensor t;
  t.type = ElementType::kInt64;
  t.shape = std::move(shape);
  t.ints = std::move(data);
  return t;
}

Tensor Tensor::Bool(std::vector<int64_t> shape, std::vector<int64_t> data) {
  Tensor t = Int64(std::move(shape), std::move(data));
  t.type = ElementType::kBool;
  return t;
}

Tensor Tensor::Zeros(ElementType type, std::vector<int64_t> shape) {
  Tensor t;
  t.type = type;
  t.shape = std::move(shape);
  if (type == ElementType::kFloat) {
    t.floats.assign(t.size(), 0.0f);
  } else {
    t.ints.assign(t.size(), 0);
  }
  return t;
}

}  // namespace cadence::engine::onnx
