// Builders shared by the ONNX operator tests: attributes, tensors, and running one operator.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/formats/onnx/ops.h"

namespace cadence::engine::onnx::testing_util {

inline Attribute Ints(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.name = name;
  a.type = AttributeType::kInts;
  a.ints = std::move(v);
  return a;
}
inline Attribute Int(const std::string& name, int64_t v) {
  Attribute a;
  a.name = name;
  a.type = AttributeType::kInt;
  a.i = v;
  return a;
}
inline Attribute Str(const std::string& name, std::string v) {
  Attribute a;
  a.name = name;
  a.type = AttributeType::kString;
  a.s = std::move(v);
  return a;
}
inline Attribute Flt(const std::string& name, float v) {
  Attribute a;
  a.name = name;
  a.type = AttributeType::kFloat;
  a.f = v;
  return a;
}

// Runs one operator; inputs may contain nullptr for omitted optionals.
inline std::vector<Tensor> RunOp(const std::string& op, std::vector<const Tensor*> inputs, std::vector<Attribute> attrs = {},
                        int num_outputs = 1) {
  Node node;
  node.op_type = op;
  node.name = "test";
  node.attributes = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(inputs[i] ? "in" + std::to_string(i) : "");
  for (int i = 0; i < num_outputs; ++i) node.outputs.push_back("out" + std::to_string(i));
  std::vector<Tensor> outputs;
  Status s = RunOperator(node, inputs, &outputs);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return outputs;
}

inline Status RunStatus(const std::string& op, std::vector<const Tensor*> inputs, std::vector<Attribute> attrs = {}) {
  Node node;
  node.op_type = op;
  node.name = "bad";
  node.attributes = std::move(attrs);
  node.outputs = {"out"};
  std::vector<Tensor> outputs;
  return RunOperator(node, inputs, &outputs);
}

inline Tensor F(std::vector<int64_t> shape, std::vector<float> v) { return Tensor::Float(std::move(shape), std::move(v)); }
inline Tensor I(std::vector<int64_t> shape, std::vector<int64_t> v) { return Tensor::Int64(std::move(shape), std::move(v)); }

}  // namespace cadence::engine::onnx::testing_util
