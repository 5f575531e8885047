// Fuzzes the ONNX protobuf reader: ParseOnnxModel on the bytes as a ModelProto (graphs, nodes,
// attributes, subgraphs, initializers) and ParseTensorProto on them as a TensorProto.
#include <cstdint>
#include <span>
#include <string>

#include "engine/formats/onnx/onnx_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cadence::engine::onnx;
  const std::span<const uint8_t> bytes(data, size);
  auto model = ParseOnnxModel(bytes, "fuzz.onnx");
  if (model.ok()) {
    (void)model->opset();
    for (const Node& node : model->graph.nodes) {
      (void)node.Describe();
      (void)node.GetInts("axes");
    }
  }
  std::string name;
  (void)ParseTensorProto(bytes, &name);
  return 0;
}
