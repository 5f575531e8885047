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

// The NumPy broadcast of several shapes, or an error naming them.
Result<std::vector<int64_t>> BroadcastShapes(const Node& node, std::span<const std::vector<int64_t>* const> shapes);
// Strides of `shape` seen through the broadcast output shape `out` (0 along broadcast dimensions).
std::vector<int64_t> BroadcastStrides(const std::vector<int64_t>& shape, const std::vector<int64_t>& out);
// The values of an integer (or float) tensor as int64 (shapes, axes, indices).
std::vector<int64_t> IntsOf(const Tensor& t);
// Axes from input `index` (newer opsets) or the `axes` attribute (older ones); *given says whether
// either was present.
std::vector<int64_t> AxesFrom(const Node& node, Inputs inputs, size_t index, bool* given);

// out[m, n] = a[m, k] x b[k, n], row-major, accumulated in double (ops_nn.cc; AVX2 when the CPU
// has it). Shared by MatMul and Conv.
void MatMulRowMajor(const float* a, const float* b, float* out, int64_t m, int64_t k, int64_t n);

// Families. Each returns false in *handled when op_type is not its own.
Status RunElementwise(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);
Status RunShapeOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);
Status RunReduceOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);
Status RunConvOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);
Status RunNeuralOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled);

}  // namespace cadence::engine::onnx::internal
