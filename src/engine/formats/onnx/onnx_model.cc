#include "engine/formats/onnx/onnx_model.h"

#include "engine/formats/mapped_file.h"

#include <cstring>

#include "engine/formats/onnx/proto_reader.h"

namespace cadence::engine::onnx {
namespace {

// Field numbers from onnx.proto (onnx/onnx.proto in the ONNX repository).
namespace model_field { enum : uint32_t { kIrVersion = 1, kProducerName = 2, kGraph = 7, kOpsetImport = 8 }; }
namespace opset_field { enum : uint32_t { kDomain = 1, kVersion = 2 }; }
namespace graph_field {
enum : uint32_t { kNode = 1, kName = 2, kInitializer = 5, kInput = 11, kOutput = 12, kSparseInitializer = 15 };
}
namespace node_field {
enum : uint32_t { kInput = 1, kOutput = 2, kName = 3, kOpType = 4, kAttribute = 5, kDomain = 7 };
}
namespace attribute_field {
enum : uint32_t { kName = 1, kF = 2, kI = 3, kS = 4, kT = 5, kG = 6, kFloats = 7, kInts = 8, kType = 20 };
}
namespace tensor_field {
enum : uint32_t {
  kDims = 1, kDataType = 2, kFloatData = 4, kInt32Data = 5, kInt64Data = 7, kName = 8, kRawData = 9,
  kDoubleData = 10, kExternalData = 13, kDataLocation = 14,
};
}

Result<Graph> ParseGraph(std::span<const uint8_t> bytes, const std::string& where);

Result<ValueInfo> ParseValueInfo(std::span<const uint8_t> bytes, const std::string& where) {
  ValueInfo info;
  ProtoReader r(bytes, where + " ValueInfoProto");
  while (!r.done()) {
    uint32_t field;
    WireType wire;
    CADENCE_RETURN_IF_ERROR(r.Next(&field, &wire));
    if (field == 1 && wire == WireType::kLengthDelimited) {
      CADENCE_RETURN_IF_ERROR(r.ReadString(&info.name));
    } else if (field == 2 && wire == WireType::kLengthDelimited) {
      // TypeProto.tensor_type(1) -> elem_type(1), shape(2) -> dim(1) -> dim_value(1) | dim_param(2)
      std::span<const uint8_t> type_bytes;
      CADENCE_RETURN_IF_ERROR(r.ReadBytes(&type_bytes));
      ProtoReader type_reader(type_bytes, where + " TypeProto");
      while (!type_reader.done()) {
        uint32_t tf;
        WireType tw;
        CADENCE_RETURN_IF_ERROR(type_reader.Next(&tf, &tw));
        if (tf != 1 || tw != WireType::kLengthDelimited) {
          CADENCE_RETURN_IF_ERROR(type_reader.Skip(tw));
          continue;
        }
        std::span<const uint8_t> tensor_type;
        CADENCE_RETURN_IF_ERROR(type_reader.ReadBytes(&tensor_type));
        ProtoReader tt(tensor_type, where + " TypeProto.Tensor");
        while (!tt.done()) {
          uint32_t f;
          WireType w;
          CADENCE_RETURN_IF_ERROR(tt.Next(&f, &w));
          if (f == 1 && w == WireType::kVarint) {
            uint64_t v;
            CADENCE_RETURN_IF_ERROR(tt.ReadVarint(&v));
            info.element_type = static_cast<int32_t>(v);
          } else if (f == 2 && w == WireType::kLengthDelimited) {
            std::span<const uint8_t> shape;
            CADENCE_RETURN_IF_ERROR(tt.ReadBytes(&shape));
            ProtoReader sr(shape, where + " TensorShapeProto");
            while (!sr.done()) {
              uint32_t sf;
              WireType sw;
              CADENCE_RETURN_IF_ERROR(sr.Next(&sf, &sw));
              if (sf != 1 || sw != WireType::kLengthDelimited) {
                CADENCE_RETURN_IF_ERROR(sr.Skip(sw));
                continue;
              }
              std::span<const uint8_t> dim;
              CADENCE_RETURN_IF_ERROR(sr.ReadBytes(&dim));
              ProtoReader dr(dim, where + " Dimension");
              int64_t value = -1;
              while (!dr.done()) {
                uint32_t df;
                WireType dw;
                CADENCE_RETURN_IF_ERROR(dr.Next(&df, &dw));
                if (df == 1 && dw == WireType::kVarint) {
                  uint64_t v;
                  CADENCE_RETURN_IF_ERROR(dr.ReadVarint(&v));
                  value = static_cast<int64_t>(v);
                } else {
                  CADENCE_RETURN_IF_ERROR(dr.Skip(dw));
                }
              }
              info.dims.push_back(value);
            }
          } else {
            CADENCE_RETURN_IF_ERROR(tt.Skip(w));
          }
        }
      }
    } else {
      CADENCE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  return info;
}

Result<Attribute> ParseAttribute(std::span<const uint8_t> bytes, const std::string& where) {
  Attribute a;
  ProtoReader r(bytes, where + " AttributeProto");
  while (!r.done()) {
    uint32_t field;
    WireType wire;
    CADENCE_RETURN_IF_ERROR(r.Next(&field, &wire));
    switch (field) {
      case attribute_field::kName:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&a.name));
        break;
      case attribute_field::kType: {
        uint64_t v;
        CADENCE_RETURN_IF_ERROR(r.ReadVarint(&v));
        a.type = static_cast<AttributeType>(v);
        break;
      }
      case attribute_field::kF:
        CADENCE_RETURN_IF_ERROR(r.ReadFloat(&a.f));
        break;
      case attribute_field::kI: {
        uint64_t v;
        CADENCE_RETURN_IF_ERROR(r.ReadVarint(&v));
        a.i = static_cast<int64_t>(v);
        break;
      }
      case attribute_field::kS:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&a.s));
        break;
      case attribute_field::kT: {
        std::span<const uint8_t> tb;
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&tb));
        std::string tensor_name;
        auto tensor = ParseTensorProto(tb, &tensor_name);
        if (!tensor.ok()) return tensor.status().WithContext(where + " attribute '" + a.name + "'");
        a.t = std::make_shared<const Tensor>(std::move(tensor).value());
        break;
      }
      case attribute_field::kG: {
        std::span<const uint8_t> gb;
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&gb));
        auto graph = ParseGraph(gb, where + " attribute '" + a.name + "'");
        if (!graph.ok()) return graph.status();
        a.g = std::make_shared<const Graph>(std::move(graph).value());
        break;
      }
      case attribute_field::kFloats:
        CADENCE_RETURN_IF_ERROR(r.ReadRepeatedFloat(wire, &a.floats));
        break;
      case attribute_field::kInts:
        CADENCE_RETURN_IF_ERROR(r.ReadRepeatedInt64(wire, &a.ints));
        break;
      default:
        CADENCE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  // Writers may omit `type` (IR < 3); infer it from what was set.
  if (a.type == AttributeType::kUndefined) {
    if (a.g) a.type = AttributeType::kGraph;
    else if (a.t) a.type = AttributeType::kTensor;
    else if (!a.ints.empty()) a.type = AttributeType::kInts;
    else if (!a.floats.empty()) a.type = AttributeType::kFloats;
    else if (!a.s.empty()) a.type = AttributeType::kString;
  }
  return a;
}

Result<Node> ParseNode(std::span<const uint8_t> bytes, const std::string& where) {
  Node n;
  ProtoReader r(bytes, where + " NodeProto");
  std::vector<std::span<const uint8_t>> attribute_bytes;
  while (!r.done()) {
    uint32_t field;
    WireType wire;
    CADENCE_RETURN_IF_ERROR(r.Next(&field, &wire));
    std::string s;
    switch (field) {
      case node_field::kInput:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&s));
        n.inputs.push_back(std::move(s));
        break;
      case node_field::kOutput:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&s));
        n.outputs.push_back(std::move(s));
        break;
      case node_field::kName:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&n.name));
        break;
      case node_field::kOpType:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&n.op_type));
        break;
      case node_field::kDomain:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&n.domain));
        break;
      case node_field::kAttribute: {
        std::span<const uint8_t> ab;
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&ab));
        attribute_bytes.push_back(ab);
        break;
      }
      default:
        CADENCE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  // Attributes are parsed after the node's name and type are known, for the error messages.
  for (auto ab : attribute_bytes) {
    auto a = ParseAttribute(ab, where + " node " + n.Describe());
    if (!a.ok()) return a.status();
    n.attributes.push_back(std::move(a).value());
  }
  return n;
}

Result<Graph> ParseGraph(std::span<const uint8_t> bytes, const std::string& where) {
  Graph g;
  ProtoReader r(bytes, where + " GraphProto");
  while (!r.done()) {
    uint32_t field;
    WireType wire;
    CADENCE_RETURN_IF_ERROR(r.Next(&field, &wire));
    std::span<const uint8_t> b;
    switch (field) {
      case graph_field::kName:
        CADENCE_RETURN_IF_ERROR(r.ReadString(&g.name));
        break;
      case graph_field::kNode: {
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&b));
        auto node = ParseNode(b, where + " graph '" + g.name + "' node #" + std::to_string(g.nodes.size()));
        if (!node.ok()) return node.status();
        g.nodes.push_back(std::move(node).value());
        break;
      }
      case graph_field::kInitializer: {
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&b));
        std::string name;
        auto tensor = ParseTensorProto(b, &name);
        if (!tensor.ok()) return tensor.status().WithContext(where + " graph '" + g.name + "' initializer");
        g.initializers.emplace_back(name, std::make_shared<const Tensor>(std::move(tensor).value()));
        break;
      }
      case graph_field::kSparseInitializer:
        return Status::Unimplemented(where + " graph '" + g.name +
                                     "': sparse initializers are not supported; re-export the model with dense weights");
      case graph_field::kInput:
      case graph_field::kOutput: {
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&b));
        auto info = ParseValueInfo(b, where + " graph '" + g.name + "'");
        if (!info.ok()) return info.status();
        (field == graph_field::kInput ? g.inputs : g.outputs).push_back(std::move(info).value());
        break;
      }
      default:
        CADENCE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  return g;
}

}  // namespace

const Attribute* Node::Find(const std::string& attribute_name) const {
  for (const auto& a : attributes) {
    if (a.name == attribute_name) return &a;
  }
  return nullptr;
}

int64_t Node::GetInt(const std::string& attribute_name, int64_t fallback) const {
  const Attribute* a = Find(attribute_name);
  return a ? a->i : fallback;
}

float Node::GetFloat(const std::string& attribute_name, float fallback) const {
  const Attribute* a = Find(attribute_name);
  return a ? a->f : fallback;
}

std::string Node::GetString(const std::string& attribute_name, const std::string& fallback) const {
  const Attribute* a = Find(attribute_name);
  return a ? a->s : fallback;
}

std::vector<int64_t> Node::GetInts(const std::string& attribute_name) const {
  const Attribute* a = Find(attribute_name);
  return a ? a->ints : std::vector<int64_t>{};
}

std::string Node::Describe() const { return op_type + " '" + name + "'"; }

int64_t OnnxModel::opset() const {
  auto it = opset_versions.find("");
  if (it == opset_versions.end()) it = opset_versions.find("ai.onnx");
  return it == opset_versions.end() ? 0 : it->second;
}

Result<Tensor> ParseTensorProto(std::span<const uint8_t> bytes, std::string* name) {
  Tensor t;
  int32_t data_type = 0;
  std::span<const uint8_t> raw;
  bool has_raw = false;
  std::vector<float> float_data;
  std::vector<int64_t> int_data;  // int32_data or int64_data
  std::vector<double> double_data;
  bool external = false;
  ProtoReader r(bytes, "TensorProto");
  while (!r.done()) {
    uint32_t field;
    WireType wire;
    CADENCE_RETURN_IF_ERROR(r.Next(&field, &wire));
    switch (field) {
      case tensor_field::kDims:
        CADENCE_RETURN_IF_ERROR(r.ReadRepeatedInt64(wire, &t.shape));
        break;
      case tensor_field::kDataType: {
        uint64_t v;
        CADENCE_RETURN_IF_ERROR(r.ReadVarint(&v));
        data_type = static_cast<int32_t>(v);
        break;
      }
      case tensor_field::kName:
        CADENCE_RETURN_IF_ERROR(r.ReadString(name));
        break;
      case tensor_field::kRawData:
        CADENCE_RETURN_IF_ERROR(r.ReadBytes(&raw));
        has_raw = true;
        break;
      case tensor_field::kFloatData:
        CADENCE_RETURN_IF_ERROR(r.ReadRepeatedFloat(wire, &float_data));
        break;
      case tensor_field::kInt32Data:
      case tensor_field::kInt64Data:
        CADENCE_RETURN_IF_ERROR(r.ReadRepeatedInt64(wire, &int_data));
        break;
      case tensor_field::kDoubleData: {
        if (wire == WireType::kFixed64) {
          uint64_t bits;
          CADENCE_RETURN_IF_ERROR(r.ReadFixed64(&bits));
          double d;
          std::memcpy(&d, &bits, 8);
          double_data.push_back(d);
        } else {
          std::span<const uint8_t> packed;
          CADENCE_RETURN_IF_ERROR(r.ReadBytes(&packed));
          for (size_t i = 0; i + 8 <= packed.size(); i += 8) {
            double d;
            std::memcpy(&d, packed.data() + i, 8);
            double_data.push_back(d);
          }
        }
        break;
      }
      case tensor_field::kExternalData:
        external = true;
        CADENCE_RETURN_IF_ERROR(r.Skip(wire));
        break;
      case tensor_field::kDataLocation: {
        uint64_t v;
        CADENCE_RETURN_IF_ERROR(r.ReadVarint(&v));
        external = external || v == 1;
        break;
      }
      default:
        CADENCE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  const std::string label = "tensor '" + *name + "' " + onnx::ShapeString(t.shape);
  if (external) {
    return Status::Unimplemented(label + ": weights in an external data file are not supported; "
                                 "save the model with its weights inside the .onnx file");
  }
  // Every value takes at least one byte of the message, so a shape needing more values than the
  // message has bytes is corrupt; checked while multiplying, before the count can overflow.
  uint64_t values = 1;
  for (int64_t d : t.shape) {
    if (d < 0) return Status::DataLoss(label + ": negative dimension");
    if (__builtin_mul_overflow(values, static_cast<uint64_t>(d), &values) || values > bytes.size())
      return Status::DataLoss(label + ": the shape needs more values than the message's " + std::to_string(bytes.size()) +
                              " bytes can hold");
  }
  const int64_t count = t.size();
  auto check_count = [&](size_t have) -> Status {
    if (static_cast<int64_t>(have) != count) {
      return Status::DataLoss(label + ": holds " + std::to_string(have) + " values, its shape needs " +
                              std::to_string(count));
    }
    return Status::Ok();
  };
  switch (data_type) {
    case 1:  // float
      t.type = ElementType::kFloat;
      if (has_raw) {
        if (raw.size() % 4 != 0) return Status::DataLoss(label + ": raw data not a multiple of 4 bytes");
        CADENCE_RETURN_IF_ERROR(check_count(raw.size() / 4));
        t.floats.resize(count);
        if (!raw.empty()) std::memcpy(t.floats.data(), raw.data(), raw.size());
      } else {
        CADENCE_RETURN_IF_ERROR(check_count(float_data.size()));
        t.floats = std::move(float_data);
      }
      return t;
    case 11:  // double: computed as float
      t.type = ElementType::kFloat;
      if (has_raw) {
        if (raw.size() % 8 != 0) return Status::DataLoss(label + ": raw data not a multiple of 8 bytes");
        CADENCE_RETURN_IF_ERROR(check_count(raw.size() / 8));
        for (int64_t i = 0; i < count; ++i) {
          double d;
          std::memcpy(&d, raw.data() + 8 * i, 8);
          t.floats.push_back(static_cast<float>(d));
        }
      } else {
        CADENCE_RETURN_IF_ERROR(check_count(double_data.size()));
        for (double d : double_data) t.floats.push_back(static_cast<float>(d));
      }
      return t;
    case 7:  // int64
    case 6:  // int32
    case 9:  // bool
    case 2:  // uint8
    case 3:  // int8
    case 5: {  // int16
      t.type = data_type == 9 ? ElementType::kBool : ElementType::kInt64;
      if (!has_raw) {
        CADENCE_RETURN_IF_ERROR(check_count(int_data.size()));
        t.ints = std::move(int_data);
        if (data_type == 6 || data_type == 5 || data_type == 3) {
          for (auto& v : t.ints) v = static_cast<int32_t>(v);  // sign-extend what varints carried
        }
        return t;
      }
      const size_t width = data_type == 7 ? 8 : data_type == 6 ? 4 : data_type == 5 ? 2 : 1;
      if (raw.size() % width != 0) return Status::DataLoss(label + ": raw data not a multiple of its element size");
      CADENCE_RETURN_IF_ERROR(check_count(raw.size() / width));
      t.ints.resize(count);
      for (int64_t i = 0; i < count; ++i) {
        const uint8_t* p = raw.data() + width * i;
        if (data_type == 7) {
          std::memcpy(&t.ints[i], p, 8);
        } else if (data_type == 6) {
          int32_t v;
          std::memcpy(&v, p, 4);
          t.ints[i] = v;
        } else if (data_type == 5) {
          int16_t v;
          std::memcpy(&v, p, 2);
          t.ints[i] = v;
        } else if (data_type == 3) {
          t.ints[i] = static_cast<int8_t>(*p);
        } else {
          t.ints[i] = *p;
        }
      }
      return t;
    }
    default:
      return Status::Unimplemented(label + ": element type " + ElementTypeName(data_type) +
                                   " is not supported (float, double, int8..int64 and bool are)");
  }
}

namespace {
// Stamps the model opset on every node, subgraphs included. The subgraphs are still exclusively
// ours here (the model is being built), so writing through the shared const pointer is safe.
void SetOpset(Graph* graph, int64_t opset) {
  for (Node& node : graph->nodes) {
    node.opset = opset;
    for (Attribute& a : node.attributes) {
      if (a.g) SetOpset(const_cast<Graph*>(a.g.get()), opset);
    }
  }
}
}  // namespace

Result<OnnxModel> ParseOnnxModel(std::span<const uint8_t> bytes, const std::string& source_name) {
  OnnxModel model;
  bool has_graph = false;
  ProtoReader r(bytes, source_name + ": ModelProto");
  while (!r.done()) {
    uint32_t field;
    WireType wire;
    CADENCE_RETURN_IF_ERROR(r.Next(&field, &wire));
    if (field == model_field::kIrVersion && wire == WireType::kVarint) {
      uint64_t v;
      CADENCE_RETURN_IF_ERROR(r.ReadVarint(&v));
      model.ir_version = static_cast<int64_t>(v);
    } else if (field == model_field::kProducerName && wire == WireType::kLengthDelimited) {
      CADENCE_RETURN_IF_ERROR(r.ReadString(&model.producer_name));
    } else if (field == model_field::kOpsetImport && wire == WireType::kLengthDelimited) {
      std::span<const uint8_t> b;
      CADENCE_RETURN_IF_ERROR(r.ReadBytes(&b));
      ProtoReader op(b, source_name + ": OperatorSetIdProto");
      std::string domain;
      int64_t version = 0;
      while (!op.done()) {
        uint32_t f;
        WireType w;
        CADENCE_RETURN_IF_ERROR(op.Next(&f, &w));
        if (f == opset_field::kDomain && w == WireType::kLengthDelimited) {
          CADENCE_RETURN_IF_ERROR(op.ReadString(&domain));
        } else if (f == opset_field::kVersion && w == WireType::kVarint) {
          uint64_t v;
          CADENCE_RETURN_IF_ERROR(op.ReadVarint(&v));
          version = static_cast<int64_t>(v);
        } else {
          CADENCE_RETURN_IF_ERROR(op.Skip(w));
        }
      }
      model.opset_versions[domain] = version;
    } else if (field == model_field::kGraph && wire == WireType::kLengthDelimited) {
      std::span<const uint8_t> b;
      CADENCE_RETURN_IF_ERROR(r.ReadBytes(&b));
      auto graph = ParseGraph(b, source_name + ":");
      if (!graph.ok()) return graph.status();
      model.graph = std::move(graph).value();
      has_graph = true;
    } else {
      CADENCE_RETURN_IF_ERROR(r.Skip(wire));
    }
  }
  if (!has_graph) return Status::DataLoss(source_name + ": no graph in the ModelProto (is this an ONNX model file?)");
  if (model.ir_version <= 0) return Status::DataLoss(source_name + ": no ir_version (is this an ONNX model file?)");
  SetOpset(&model.graph, model.opset());
  return model;
}

Result<OnnxModel> LoadOnnxModel(const std::string& path) {
  // Mapped rather than read: the parser copies each tensor out once, so a 500 MB model is not
  // held twice.
  auto file = MappedFile::Open(path);
  if (!file.ok()) {
    if (file.status().code() == StatusCode::kNotFound) return Status::NotFound(path + ": cannot open the ONNX model file");
    return Status::DataLoss(path + ": " + file.status().message() + " (not an ONNX model)");
  }
  return ParseOnnxModel(std::span<const uint8_t>(file->data(), file->size()), path);
}

}  // namespace cadence::engine::onnx
