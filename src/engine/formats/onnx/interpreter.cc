#include "engine/formats/onnx/interpreter.h"

#include <unordered_map>

#include "engine/formats/onnx/ops.h"

namespace cadence::engine::onnx {
namespace {

using TensorPtr = std::shared_ptr<const Tensor>;

// Values visible while running one graph; subgraphs see their parents' values.
class Scope {
 public:
  explicit Scope(const Scope* parent) : parent_(parent) {}
  const Tensor* Find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent_) {
      auto it = s->values_.find(name);
      if (it != s->values_.end()) return it->second.get();
    }
    return nullptr;
  }
  TensorPtr FindShared(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent_) {
      auto it = s->values_.find(name);
      if (it != s->values_.end()) return it->second;
    }
    return nullptr;
  }
  void Set(const std::string& name, TensorPtr value) { values_[name] = std::move(value); }

 private:
  const Scope* parent_;
  std::unordered_map<std::string, TensorPtr> values_;
};

Status ValidateGraph(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    if (node.op_type == "If") {
      const Attribute* then_branch = node.Find("then_branch");
      const Attribute* else_branch = node.Find("else_branch");
      if (!then_branch || !then_branch->g || !else_branch || !else_branch->g) {
        return Status::InvalidArgument(node.Describe() + ": If without then_branch/else_branch graphs");
      }
      CADENCE_RETURN_IF_ERROR(ValidateGraph(*then_branch->g));
      CADENCE_RETURN_IF_ERROR(ValidateGraph(*else_branch->g));
    } else if (!IsSupportedOperator(node.op_type)) {
      return Status::Unimplemented(node.Describe() + " in graph '" + graph.name + "': operator " + node.op_type +
                                   " is not implemented by Cadence's ONNX interpreter");
    }
  }
  return Status::Ok();
}

Result<std::vector<TensorPtr>> RunGraph(const Graph& graph, Scope* scope);

Status RunNode(const Node& node, Scope* scope) {
  if (node.op_type == "If") {
    const Tensor* cond = node.inputs.empty() ? nullptr : scope->Find(node.inputs[0]);
    if (!cond || cond->size() != 1) return Status::InvalidArgument(node.Describe() + ": condition must be one value");
    const bool take_then = cond->AsDouble(0) != 0;
    const Graph& branch = *node.Find(take_then ? "then_branch" : "else_branch")->g;
    Scope inner(scope);
    auto results = RunGraph(branch, &inner);
    if (!results.ok()) return results.status();
    if (results->size() != node.outputs.size()) {
      return Status::InvalidArgument(node.Describe() + ": branch '" + branch.name + "' yields " +
                                     std::to_string(results->size()) + " outputs for " +
                                     std::to_string(node.outputs.size()));
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) scope->Set(node.outputs[i], (*results)[i]);
    return Status::Ok();
  }
  if (node.op_type == "Constant") {
    // Bind the stored tensor itself: Constants carry the weights in some exporters' graphs.
    const Attribute* value = node.Find("value");
    if (value && value->t && !node.outputs.empty()) {
      scope->Set(node.outputs[0], value->t);
      return Status::Ok();
    }
  }
  std::vector<const Tensor*> inputs;
  inputs.reserve(node.inputs.size());
  for (const std::string& name : node.inputs) {
    if (name.empty()) {
      inputs.push_back(nullptr);
      continue;
    }
    const Tensor* t = scope->Find(name);
    if (!t) return Status::InvalidArgument(node.Describe() + ": input '" + name + "' is not defined before the node");
    inputs.push_back(t);
  }
  std::vector<Tensor> outputs;
  CADENCE_RETURN_IF_ERROR(RunOperator(node, inputs, &outputs));
  for (size_t i = 0; i < node.outputs.size(); ++i) {
    if (!node.outputs[i].empty()) scope->Set(node.outputs[i], std::make_shared<const Tensor>(std::move(outputs[i])));
  }
  return Status::Ok();
}

Result<std::vector<TensorPtr>> RunGraph(const Graph& graph, Scope* scope) {
  for (const auto& [name, tensor] : graph.initializers) scope->Set(name, tensor);
  for (const Node& node : graph.nodes) CADENCE_RETURN_IF_ERROR(RunNode(node, scope));
  std::vector<TensorPtr> results;
  for (const ValueInfo& out : graph.outputs) {
    TensorPtr t = scope->FindShared(out.name);
    if (!t) return Status::InvalidArgument("graph '" + graph.name + "': output '" + out.name + "' is never computed");
    results.push_back(std::move(t));
  }
  return results;
}

}  // namespace

Status OnnxInterpreter::Validate() const { return ValidateGraph(model_.graph); }

Result<std::vector<Tensor>> OnnxInterpreter::Run(const std::map<std::string, Tensor>& feeds) const {
  Scope scope(nullptr);
  for (const auto& [name, tensor] : model_.graph.initializers) scope.Set(name, tensor);
  for (const ValueInfo& input : model_.graph.inputs) {
    auto it = feeds.find(input.name);
    if (it == feeds.end()) {
      if (scope.Find(input.name)) continue;  // an input with a default (initializer)
      return Status::InvalidArgument("graph input '" + input.name + "' was not given");
    }
    const Tensor& t = it->second;
    if (!input.dims.empty() && input.dims.size() != t.shape.size()) {
      return Status::InvalidArgument("graph input '" + input.name + "' has shape " + t.ShapeString() +
                                     ", the model declares rank " + std::to_string(input.dims.size()));
    }
    for (size_t d = 0; d < input.dims.size(); ++d) {
      if (input.dims[d] >= 0 && input.dims[d] != t.shape[d]) {
        return Status::InvalidArgument("graph input '" + input.name + "' has shape " + t.ShapeString() +
                                       ", the model declares " + ShapeString(input.dims));
      }
    }
    scope.Set(input.name, std::make_shared<const Tensor>(t));
  }
  for (const auto& [name, tensor] : feeds) {
    bool declared = false;
    for (const ValueInfo& input : model_.graph.inputs) declared = declared || input.name == name;
    if (!declared) return Status::InvalidArgument("feed '" + name + "' is not an input of the graph");
  }
  for (const Node& node : model_.graph.nodes) CADENCE_RETURN_IF_ERROR(RunNode(node, &scope));
  std::vector<Tensor> results;
  for (const ValueInfo& out : model_.graph.outputs) {
    const Tensor* t = scope.Find(out.name);
    if (!t) return Status::InvalidArgument("graph output '" + out.name + "' is never computed");
    results.push_back(*t);
  }
  return results;
}

}  // namespace cadence::engine::onnx
