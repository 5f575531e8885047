// Each ONNX operator against values computed by hand (in the comments) and the interpreter's If.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/formats/onnx/interpreter.h"
#include "engine/formats/onnx/ops.h"
#include "engine/formats/onnx/ops_test_util.h"

namespace cadence::engine::onnx {
namespace {

using namespace testing_util;  // NOLINT

TEST(OnnxOpsTest, Conv1dWithPaddingStrideAndBias) {
  // x = [1 2 3 4 5], w = [1 0 -1], b = 0.5, pads 1/1, stride 2: windows [0 1 2] [2 3 4] [4 5 0]
  // give -2, -2, 4, plus the bias.
  Tensor x = F({1, 1, 5}, {1, 2, 3, 4, 5}), w = F({1, 1, 3}, {1, 0, -1}), b = F({1}, {0.5f});
  auto out = RunOp("Conv", {&x, &w, &b}, {Ints("pads", {1, 1}), Ints("strides", {2})});
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{1, 1, 3}));
  EXPECT_EQ(out[0].floats, (std::vector<float>{-1.5f, -1.5f, 4.5f}));
}

TEST(OnnxOpsTest, Conv1dSumsOverChannels) {
  // Channels [1 2 3] and [4 5 6], kernels [1 1] and [0 2]: t0 = 1+2 + 0+10 = 13, t1 = 2+3 + 0+12 = 17.
  Tensor x = F({1, 2, 3}, {1, 2, 3, 4, 5, 6}), w = F({1, 2, 2}, {1, 1, 0, 2});
  auto out = RunOp("Conv", {&x, &w});
  EXPECT_EQ(out[0].floats, (std::vector<float>{13, 17}));
  Tensor x2d = F({1, 1, 2, 2}, {1, 2, 3, 4}), w1d = F({1, 1, 1}, {1});
  Status s = RunStatus("Conv", {&x2d, &w1d});  // W's rank must match X's
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

TEST(OnnxOpsTest, PadModes) {
  Tensor x = F({4}, {1, 2, 3, 4});
  Tensor right2 = I({2}, {0, 2}), left2 = I({2}, {2, 0}), both1 = I({2}, {1, 1});
  Tensor nine = F({}, {9});
  EXPECT_EQ(RunOp("Pad", {&x, &right2}, {Str("mode", "reflect")})[0].floats, (std::vector<float>{1, 2, 3, 4, 3, 2}));
  EXPECT_EQ(RunOp("Pad", {&x, &left2}, {Str("mode", "reflect")})[0].floats, (std::vector<float>{3, 2, 1, 2, 3, 4}));
  EXPECT_EQ(RunOp("Pad", {&x, &both1, &nine})[0].floats, (std::vector<float>{9, 1, 2, 3, 4, 9}));
  EXPECT_EQ(RunOp("Pad", {&x, &both1}, {Str("mode", "edge")})[0].floats, (std::vector<float>{1, 1, 2, 3, 4, 4}));
  // 2-D: pad only the last axis of [1,3] by (0, 1) reflect -> [a b c b].
  Tensor m = F({1, 3}, {5, 6, 7});
  Tensor pads = I({4}, {0, 0, 0, 1});
  auto out = RunOp("Pad", {&m, &pads}, {Str("mode", "reflect")});
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(out[0].floats, (std::vector<float>{5, 6, 7, 6}));
}

TEST(OnnxOpsTest, SliceWithStepsAndNegativeIndices) {
  Tensor x = F({2, 4}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor starts = I({1}, {1}), ends = I({1}, {100}), axes = I({1}, {1}), steps = I({1}, {2});
  auto out = RunOp("Slice", {&x, &starts, &ends, &axes, &steps});
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out[0].floats, (std::vector<float>{1, 3, 5, 7}));
  Tensor rs = I({1}, {-1}), re = I({1}, {-5}), rstep = I({1}, {-1});
  auto reversed = RunOp("Slice", {&x, &rs, &re, &axes, &rstep});
  EXPECT_EQ(reversed[0].floats, (std::vector<float>{3, 2, 1, 0, 7, 6, 5, 4}));
}

TEST(OnnxOpsTest, GatherScalarAndVectorIndices) {
  Tensor state = F({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor one = I({}, {1});
  auto h = RunOp("Gather", {&state, &one});
  EXPECT_EQ(h[0].shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(h[0].floats, (std::vector<float>{4, 5, 6}));
  Tensor m = F({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor idx = I({2}, {2, -3});
  auto cols = RunOp("Gather", {&m, &idx}, {Int("axis", 1)});
  EXPECT_EQ(cols[0].floats, (std::vector<float>{2, 0, 5, 3}));
  Tensor bad = I({1}, {3});
  EXPECT_FALSE(RunStatus("Gather", {&m, &bad}, {Int("axis", 1)}).ok());
}

TEST(OnnxOpsTest, ConcatTransposeSplit) {
  Tensor a = F({2, 1}, {1, 2}), b = F({2, 2}, {3, 4, 5, 6});
  auto c = RunOp("Concat", {&a, &b}, {Int("axis", -1)});
  EXPECT_EQ(c[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(c[0].floats, (std::vector<float>{1, 3, 4, 2, 5, 6}));
  auto t = RunOp("Transpose", {&c[0]});
  EXPECT_EQ(t[0].shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(t[0].floats, (std::vector<float>{1, 2, 3, 5, 4, 6}));
  Tensor row = F({1, 4}, {1, 2, 3, 4});
  auto halves = RunOp("Split", {&row}, {Int("axis", 1), Int("num_outputs", 2)}, 2);
  ASSERT_EQ(halves.size(), 2u);
  EXPECT_EQ(halves[1].floats, (std::vector<float>{3, 4}));
  Tensor sizes = I({2}, {1, 3});
  auto parts = RunOp("Split", {&row, &sizes}, {Int("axis", 1)}, 2);
  EXPECT_EQ(parts[0].floats, (std::vector<float>{1}));
  EXPECT_EQ(parts[1].floats, (std::vector<float>{2, 3, 4}));
}

TEST(OnnxOpsTest, ShapeOps) {
  Tensor x = F({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  auto shape = RunOp("Shape", {&x});
  EXPECT_EQ(shape[0].ints, (std::vector<int64_t>{2, 1, 3}));
  EXPECT_EQ(RunOp("Size", {&x})[0].ints, (std::vector<int64_t>{6}));
  Tensor axis1 = I({1}, {1});
  EXPECT_EQ(RunOp("Squeeze", {&x, &axis1})[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(RunOp("Squeeze", {&x})[0].shape, (std::vector<int64_t>{2, 3}));
  Tensor axis0 = I({1}, {0});
  EXPECT_FALSE(RunStatus("Squeeze", {&x, &axis0}).ok());  // dimension 2 cannot be squeezed
  Tensor last = I({1}, {-1});
  EXPECT_EQ(RunOp("Unsqueeze", {&x, &last})[0].shape, (std::vector<int64_t>{2, 1, 3, 1}));
  Tensor target = I({2}, {0, -1});
  EXPECT_EQ(RunOp("Reshape", {&x, &target})[0].shape, (std::vector<int64_t>{2, 3}));
  Tensor impossible = I({1}, {4});
  EXPECT_FALSE(RunStatus("Reshape", {&x, &impossible}).ok());
  Tensor dims = I({2}, {2, 2});
  Attribute value;
  value.name = "value";
  value.type = AttributeType::kTensor;
  value.t = std::make_shared<const Tensor>(I({1}, {7}));
  auto filled = RunOp("ConstantOfShape", {&dims}, {value});
  EXPECT_EQ(filled[0].ints, (std::vector<int64_t>{7, 7, 7, 7}));
}

TEST(OnnxOpsTest, ElementwiseWithBroadcasting) {
  Tensor col = F({2, 1}, {1, 2}), row = F({3}, {10, 20, 30});
  auto sum = RunOp("Add", {&col, &row});
  EXPECT_EQ(sum[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(sum[0].floats, (std::vector<float>{11, 21, 31, 12, 22, 32}));
  EXPECT_EQ(RunOp("Sub", {&row, &col})[0].floats, (std::vector<float>{9, 19, 29, 8, 18, 28}));
  Tensor two = F({}, {2});
  Tensor v = F({3}, {3, -4, 0.5f});
  EXPECT_EQ(RunOp("Pow", {&v, &two})[0].floats, (std::vector<float>{9, 16, 0.25f}));
  Tensor sq = F({2}, {9, 16});
  EXPECT_EQ(RunOp("Sqrt", {&sq})[0].floats, (std::vector<float>{3, 4}));
  EXPECT_EQ(RunOp("Relu", {&v})[0].floats, (std::vector<float>{3, 0, 0.5f}));
  Tensor zero = F({1}, {0});
  EXPECT_FLOAT_EQ(RunOp("Sigmoid", {&zero})[0].floats[0], 0.5f);
  Tensor big = F({1}, {2});
  EXPECT_NEAR(RunOp("Sigmoid", {&big})[0].floats[0], 0.8807971f, 1e-7);
  EXPECT_NEAR(RunOp("Tanh", {&big})[0].floats[0], 0.9640276f, 1e-7);
  Tensor sr = I({}, {16000}), k16 = I({}, {16000}), k8 = I({}, {8000});
  EXPECT_EQ(RunOp("Equal", {&sr, &k16})[0].ints, (std::vector<int64_t>{1}));
  auto ne = RunOp("Equal", {&sr, &k8});
  EXPECT_EQ(ne[0].type, ElementType::kBool);
  EXPECT_EQ(ne[0].ints, (std::vector<int64_t>{0}));
  EXPECT_EQ(RunOp("Not", {&ne[0]})[0].ints, (std::vector<int64_t>{1}));
  EXPECT_FALSE(RunStatus("Add", {&col, &sr}).ok());  // float + int64
  Tensor bad = F({2}, {1, 2});
  EXPECT_FALSE(RunStatus("Add", {&row, &bad}).ok());  // [3] and [2] do not broadcast
}

TEST(OnnxOpsTest, CastAndReduceMean) {
  Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  auto mean = RunOp("ReduceMean", {&x}, {Ints("axes", {1}), Int("keepdims", 0)});
  EXPECT_EQ(mean[0].shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(mean[0].floats, (std::vector<float>{2, 5}));
  Tensor axes = I({1}, {0});
  auto kept = RunOp("ReduceMean", {&x, &axes});
  EXPECT_EQ(kept[0].shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(kept[0].floats, (std::vector<float>{2.5f, 3.5f, 4.5f}));
  Tensor n = I({2}, {3, 0});
  auto f = RunOp("Cast", {&n}, {Int("to", 1)});
  EXPECT_EQ(f[0].floats, (std::vector<float>{3, 0}));
  auto b = RunOp("Cast", {&n}, {Int("to", 9)});
  EXPECT_EQ(b[0].ints, (std::vector<int64_t>{1, 0}));
}

TEST(OnnxOpsTest, GemmTransposedBWithBias) {
  // [1 2] x [[1 0],[0 1],[1 1]]^T = [1 2 3]; alpha 2 -> [2 4 6]; + C [1 1 1] -> [3 5 7].
  Tensor a = F({1, 2}, {1, 2}), b = F({3, 2}, {1, 0, 0, 1, 1, 1}), c = F({3}, {1, 1, 1});
  auto y = RunOp("Gemm", {&a, &b, &c}, {Int("transB", 1), Flt("alpha", 2.0f)});
  EXPECT_EQ(y[0].shape, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(y[0].floats, (std::vector<float>{3, 5, 7}));
}

TEST(OnnxOpsTest, LstmOneStepByTheEquations) {
  // Hidden 1, input 1. ONNX gate order i, o, f, c. x = 1, h0 = 1, c0 = 2, W = [1 2 0.5 -1],
  // R = 0.5 each, biases 0.1 (W) and 0.2 (R). Pre-activations: i = 1+0.5+0.3 = 1.8,
  // o = 2+0.5+0.3 = 2.8, f = 0.5+0.5+0.3 = 1.3, c = -1+0.5+0.3 = -0.2.
  Tensor x = F({1, 1, 1}, {1}), w = F({1, 4, 1}, {1, 2, 0.5f, -1}), r = F({1, 4, 1}, {0.5f, 0.5f, 0.5f, 0.5f});
  Tensor b = F({1, 8}, {0.1f, 0.1f, 0.1f, 0.1f, 0.2f, 0.2f, 0.2f, 0.2f});
  Tensor h0 = F({1, 1, 1}, {1}), c0 = F({1, 1, 1}, {2});
  auto out = RunOp("LSTM", {&x, &w, &r, &b, nullptr, &h0, &c0}, {Int("hidden_size", 1)}, 3);
  auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double c = sig(1.3) * 2.0 + sig(1.8) * std::tanh(-0.2);
  const double h = sig(2.8) * std::tanh(c);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_NEAR(out[0].floats[0], h, 1e-6);
  EXPECT_NEAR(out[1].floats[0], h, 1e-6);
  EXPECT_NEAR(out[2].floats[0], c, 1e-6);
  EXPECT_EQ(RunStatus("LSTM", {&x, &w, &r}, {Str("direction", "bidirectional")}).code(), StatusCode::kUnimplemented);
}

TEST(OnnxOpsTest, UnknownOperatorIsNamed) {
  Tensor x = F({1}, {1});
  Status s = RunStatus("Einsum", {&x});
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("Einsum"), std::string::npos);
}

// If picks a branch on a runtime value; branches read an outer-scope name.
TEST(OnnxInterpreterTest, IfRunsTheChosenBranchWithOuterScope) {
  auto branch = [](const std::string& op, const std::string& out) {
    auto g = std::make_shared<Graph>();
    g->name = op;
    Node n;
    n.op_type = op;
    n.inputs = {"x"};
    n.outputs = {out};
    g->nodes.push_back(n);
    g->outputs.push_back(ValueInfo{out, 1, {}});
    return g;
  };
  OnnxModel model;
  model.ir_version = 8;
  Node equal;
  equal.op_type = "Equal";
  equal.inputs = {"sr", "k16"};
  equal.outputs = {"is16"};
  Node if_node;
  if_node.op_type = "If";
  if_node.inputs = {"is16"};
  if_node.outputs = {"y"};
  Attribute then_branch, else_branch;
  then_branch.name = "then_branch";
  then_branch.type = AttributeType::kGraph;
  then_branch.g = branch("Relu", "then_out");
  else_branch.name = "else_branch";
  else_branch.type = AttributeType::kGraph;
  else_branch.g = branch("Neg", "else_out");
  if_node.attributes = {then_branch, else_branch};
  model.graph.nodes = {equal, if_node};
  model.graph.initializers.emplace_back("k16", std::make_shared<const Tensor>(Tensor::Int64({}, {16000})));
  model.graph.inputs = {ValueInfo{"x", 1, {2}}, ValueInfo{"sr", 7, {}}};
  model.graph.outputs = {ValueInfo{"y", 1, {}}};
  OnnxInterpreter interpreter(model);
  ASSERT_TRUE(interpreter.Validate().ok());
  auto at16 = interpreter.Run({{"x", Tensor::Float({2}, {-1, 2})}, {"sr", Tensor::Int64({}, {16000})}});
  ASSERT_TRUE(at16.ok()) << at16.status().ToString();
  EXPECT_EQ((*at16)[0].floats, (std::vector<float>{0, 2}));
  auto at8 = interpreter.Run({{"x", Tensor::Float({2}, {-1, 2})}, {"sr", Tensor::Int64({}, {8000})}});
  ASSERT_TRUE(at8.ok());
  EXPECT_EQ((*at8)[0].floats, (std::vector<float>{1, -2}));
}

}  // namespace
}  // namespace cadence::engine::onnx
