// An ONNX model read from its protobuf file: ModelProto, GraphProto (with If/Loop subgraphs held
// in node attributes), NodeProto, AttributeProto, TensorProto and the names/shapes of graph
// inputs and outputs. Read with our own wire-format reader (proto_reader.h); nothing else.
//
// Tensors (initializers, Constant values, tensor attributes) are converted once at load into
// shared immutable Tensors so that an interpreter can bind them without copying. A loaded
// OnnxModel is immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/onnx/tensor.h"

namespace cadence::engine::onnx {

struct Graph;

// AttributeProto.AttributeType
enum class AttributeType : int32_t {
  kUndefined = 0, kFloat = 1, kInt = 2, kString = 3, kTensor = 4, kGraph = 5,
  kFloats = 6, kInts = 7, kStrings = 8, kTensors = 9, kGraphs = 10,
};

struct Attribute {
  std::string name;
  AttributeType type = AttributeType::kUndefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  std::shared_ptr<const Tensor> t;
  std::shared_ptr<const Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attributes;
  // The model's default-domain opset, set at load (0 for a node built by hand: the operators
  // then take their newest semantics). Softmax is the one operator whose meaning depends on it.
  int64_t opset = 0;

  const Attribute* Find(const std::string& attribute_name) const;
  int64_t GetInt(const std::string& attribute_name, int64_t fallback) const;
  float GetFloat(const std::string& attribute_name, float fallback) const;
  std::string GetString(const std::string& attribute_name, const std::string& fallback) const;
  std::vector<int64_t> GetInts(const std::string& attribute_name) const;  // empty when absent
  // "Conv 'name'" for error messages.
  std::string Describe() const;
};

struct ValueInfo {
  std::string name;
  int32_t element_type = 0;          // ONNX DataType, 0 when unstated
  std::vector<int64_t> dims;         // -1 for a symbolic or unknown dimension
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;  // topologically sorted, as ONNX requires
  std::vector<std::pair<std::string, std::shared_ptr<const Tensor>>> initializers;
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
};

struct OnnxModel {
  int64_t ir_version = 0;
  std::string producer_name;
  std::map<std::string, int64_t> opset_versions;  // domain ("" = ai.onnx) -> version
  Graph graph;

  int64_t opset() const;  // the default-domain opset version, 0 when absent
};

// Parses a TensorProto into a Tensor (float, double->float, int32/int64/bool/uint8/int8).
// float16 and strings are refused with a message naming the tensor.
Result<Tensor> ParseTensorProto(std::span<const uint8_t> bytes, std::string* name);

Result<OnnxModel> ParseOnnxModel(std::span<const uint8_t> bytes, const std::string& source_name);
Result<OnnxModel> LoadOnnxModel(const std::string& path);

}  // namespace cadence::engine::onnx
