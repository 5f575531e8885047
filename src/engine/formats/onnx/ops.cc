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

Result<std::vector<int64_t>> BroadcastShapes(const Node& node, std::span<const std::vector<int64_t>* const> shapes) {
  size_t rank = 0;
  for (const auto* s : shapes) rank = std::max(rank, s->size());
  std::vector<int64_t> out(rank, 1);
  for (const auto* s : shapes) {
    const size_t offset = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t d = (*s)[i];
      if (d == out[offset + i] || d == 1) continue;
      if (out[offset + i] != 1) {
        std::string all;
        for (const auto* t : shapes) all += (all.empty() ? "" : " and ") + ShapeString(*t);
        return NodeError(node, "shapes " + all + " do not broadcast");
      }
      out[offset + i] = d;
    }
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  std::vector<int64_t> own = Strides(shape);
  std::vector<int64_t> strides(out.size(), 0);
  const size_t offset = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) strides[offset + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

std::vector<int64_t> IntsOf(const Tensor& t) {
  std::vector<int64_t> v(t.size());
  for (int64_t i = 0; i < t.size(); ++i) v[i] = t.AsInt(i);
  return v;
}

std::vector<int64_t> AxesFrom(const Node& node, Inputs inputs, size_t index, bool* given) {
  const Tensor* t = Optional(inputs, index);
  if (t) {
    *given = true;
    return IntsOf(*t);
  }
  const Attribute* a = node.Find("axes");
  *given = a != nullptr;
  return a ? a->ints : std::vector<int64_t>{};
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
      "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip",
      "Concat", "Constant", "ConstantOfShape", "Conv", "Div", "Equal", "Erf", "Exp", "Expand", "Floor",
      "Gather", "Gemm", "GlobalAveragePool", "Greater", "GreaterOrEqual", "Identity", "LayerNormalization",
      "Less", "LessOrEqual", "Log", "LogSoftmax", "LSTM", "MatMul", "Max", "Min", "Mod", "Mul", "Neg", "Not",
      "Or", "Pad", "Pow", "Range", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
      "ReduceSum", "Relu", "Reshape", "Round", "Shape", "Sigmoid", "Size", "Slice", "Softmax", "Split", "Sqrt",
      "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where"};
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
  if (!handled) status = internal::RunReduceOp(node, inputs, outputs, &handled);
  if (!handled) status = internal::RunConvOp(node, inputs, outputs, &handled);
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
