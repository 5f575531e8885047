// ONNX operators on Tensors, for the graph interpreter (interpreter.h): the set Silero VAD v5's
// published graphs use (elementwise math with NumPy broadcasting, shape manipulation, Conv1d,
// Gemm, LSTM), the set of the token2wav voice-prompt graphs (CAM++ campplus.onnx: 2-D Conv,
// BatchNormalization, AveragePool with ceil_mode, Expand, Where, ReduceProd; the S3 tokenizer v2:
// MatMul with batch broadcasting, Softmax, Erf, Round, Mod, ReduceSum) and a few neighbours.
// Files: ops_elementwise.cc, ops_shape.cc, ops_reduce.cc, ops_conv.cc, ops_nn.cc. Semantics follow the ONNX operator specification at the
// model's opset (inputs-versus-attributes forms of Squeeze/Unsqueeze/Slice/Split/Pad/ReduceMean
// are both accepted). Stateless and thread-safe. Allocates its outputs: this is the reference
// path, not the per-window hot path (speech/vad/silero_vad.cc has that).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/onnx/onnx_model.h"
#include "engine/formats/onnx/tensor.h"

namespace cadence::engine::onnx {

// Inputs in node order; nullptr marks an omitted optional input. On success `outputs` holds one
// tensor per node output. Errors name the node and what is wrong with which input.
Status RunOperator(const Node& node, std::span<const Tensor* const> inputs, std::vector<Tensor>* outputs);

bool IsSupportedOperator(const std::string& op_type);
std::vector<std::string> SupportedOperators();

}  // namespace cadence::engine::onnx
