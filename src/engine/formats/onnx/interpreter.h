// Runs an OnnxModel's graph on named input tensors: nodes in file order (ONNX graphs are
// topologically sorted), If subgraphs with outer-scope names visible, initializers and Constant
// values bound without copying. The reference executor: general and exact to the operator
// specifications (ops.h), allocating per run; models with a hand-written fast path (Silero VAD)
// are checked against it.
//
// An OnnxInterpreter borrows the model (it must outlive the interpreter); Run() is const and
// may be called from several threads at once.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/onnx/onnx_model.h"
#include "engine/formats/onnx/tensor.h"

namespace cadence::engine::onnx {

class OnnxInterpreter {
 public:
  explicit OnnxInterpreter(const OnnxModel& model) : model_(model) {}

  // Checks every operator (also inside subgraphs) is one the interpreter implements.
  Status Validate() const;

  // Feeds must name every graph input that has no initializer of the same name. Returns the
  // graph outputs in declaration order.
  Result<std::vector<Tensor>> Run(const std::map<std::string, Tensor>& feeds) const;

  // Names and (possibly symbolic: -1) shapes of the graph inputs and outputs.
  const std::vector<ValueInfo>& inputs() const { return model_.graph.inputs; }
  const std::vector<ValueInfo>& outputs() const { return model_.graph.outputs; }

 private:
  const OnnxModel& model_;
};

}  // namespace cadence::engine::onnx
