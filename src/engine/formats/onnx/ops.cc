#include "engine/formats/onnx/ops.h"

#include <algorithm>

#include "engine/formats/onnx/ops_internal.h"

namespace cadence::engine::onnx {
namespace internal {

Status NodeError(const Node& node, const std::string& problem) {
  return Status::InvalidArgument(node.Describe() + ": " + problem);
}

Result<const Tensor*> Required(const Node& node, Inputs inputs, size_t i, const char* what) {
  if (i >= inputs.size() || inputs[i] == nullptr) {
    return NodeError(node, std::string("missing input ") + std::to_string(i) + " (" + what + ")");
  }
  return inputs[i];
}

const Tensor* Optional(Inputs inputs, size_t i) { return i < inputs.size() ? inputs[i] : nullptr; }

Result<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    return NodeError(node, "axis " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  }
  return a;
}

std::vector<int64_t> Strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

void NextIndex(const std::vector<int64_t>& shape, std::vector<int64_t>* index) {
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    if (++(*index)[d] < shape[d]) return;
    (*index)[d] = 0;
  }
}

}  // namespace internal

namespace {
const std::vector<std::string>& Supported() {
  static const std::vector<std::string> kOps = {
      "Abs", "Add", "And", "Cast", "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Equal", "Exp",
      "Gather", "Gemm", "Greater", "GreaterOrEqual", "Identity", "Less", "LessOrEqual", "LSTM", "Mul", "Neg",
      "Not", "Or", "Pad", "Pow", "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid", "Size", "Slice", "Split",
      "Sqrt", "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze"};
  return kOps;
}
}  // namespace

bool IsSupportedOperator(const std::string& op_type) {
  const auto& ops = Supported();
  return std::find(ops.begin(), ops.end(), op_type) != ops.end();
}

std::vector<std::string> SupportedOperators() { return Supported(); }

Status RunOperator(const Node& node, std::span<const Tensor* const> inputs, std::vector<Tensor>* outputs) {
  outputs->clear();
  if (!node.domain.empty() && node.domain != "ai.onnx") {
    return Status::Unimplemented(node.Describe() + ": operator domain '" + node.domain + "' is not supported");
  }
  bool handled = false;
  Status status = internal::RunElementwise(node, inputs, outputs, &handled);
  if (!handled) status = internal::RunShapeOp(node, inputs, outputs, &handled);
  if (!handled) status = internal::RunNeuralOp(node, inputs, outputs, &handled);
  if (!handled) {
    return Status::Unimplemented(node.Describe() + ": operator " + node.op_type +
                                 " is not implemented by Cadence's ONNX interpreter");
  }
  if (status.ok() && outputs->size() < node.outputs.size()) {
    return Status::Internal(node.Describe() + ": produced " + std::to_string(outputs->size()) + " outputs, node names " +
                            std::to_string(node.outputs.size()));
  }
  return status;
}

}  // namespace cadence::engine::onnx
