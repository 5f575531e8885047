// Shared helpers and per-family entry points of the operator set (ops.cc dispatches to these).
// Internal to src/engine/formats/onnx/.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/onnx/onnx_model.h"
#include "engine/formats/onnx/tensor.h"

namespace cadence::engine::onnx::internal {

using Inputs = std::span<const Tensor* const>;

// "Conv 'name': <problem>" as an InvalidArgument status.
Status NodeError(const Node& node, const std::string& problem);
// The i-th input, or an error when it is missing (nullptr or beyond the list).
Result<const Tensor*> Required(const Node& node, Inputs inputs, size_t i, const char* what);
const Tensor* Optional(Inputs inputs, size_t i);
// Normalizes a possibly negative axis against `rank`, or errors.
Result<int64_t> NormalizeAxis(const Node& node, int64_t axis, int64_t rank);
std::vector<int64_t> Strides(const std::vector<int64_t>& shape);
// Advances a row-major multi-index over `shape` by one element (the last axis fastest; wraps to
// all zeros after the last element).
void NextIndex(const std::vector<int64_t>& shape, std::vector<int64_t>* index);

// Families. Each returns false in *handled when op_type is not its own.
Status RunElementwise(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);
Status RunShapeOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);
Status RunNeuralOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);

}  // namespace cadence::engine::onnx::internal
