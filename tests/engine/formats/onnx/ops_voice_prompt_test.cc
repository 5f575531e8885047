// The operators added for the token2wav voice-prompt graphs (CAM++ and the S3 tokenizer v2), each
// against values computed by hand in the comments. The whole graphs are checked against PyTorch
// and onnxruntime in voice_prompt_graphs_test.cc and tests/engine/token2wav_onnx.test.mjs.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/formats/onnx/ops.h"
#include "engine/formats/onnx/ops_test_util.h"

namespace cadence::engine::onnx {
namespace {

using namespace testing_util;  // NOLINT

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, float tolerance = 1e-6f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance) << "element " << i;
}

TEST(OnnxVoicePromptOpsTest, Conv2dStridePaddingAndShortcut) {
  // 3x3 input 1..9, a 3x3 kernel of ones, pads 1, strides (2, 1): output rows 0 and 2 of the
  // "sum of the 3x3 neighbourhood" image: row 0 = [1+2+4+5, 1+2+3+4+5+6, 2+3+5+6] = [12 21 16],
  // row 2 = [4+5+7+8, 4+5+6+7+8+9, 5+6+8+9] = [24 39 28].
  Tensor x = F({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = F({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  auto out = RunOp("Conv", {&x, &w}, {Ints("pads", {1, 1, 1, 1}), Ints("strides", {2, 1})});
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{1, 1, 2, 3}));
  EXPECT_EQ(out[0].floats, (std::vector<float>{12, 21, 16, 24, 39, 28}));
  // A 1x1 kernel with stride (2, 1) picks rows 0 and 2, times 2, plus bias 1.
  Tensor w1 = F({1, 1, 1, 1}, {2}), b = F({1}, {1});
  auto picked = RunOp("Conv", {&x, &w1, &b}, {Ints("strides", {2, 1})});
  EXPECT_EQ(picked[0].floats, (std::vector<float>{3, 5, 7, 15, 17, 19}));
}

TEST(OnnxVoicePromptOpsTest, Conv1dDepthwiseAndDilated) {
  // Depthwise (group 2): channel 0 [1 2 3 4] with kernel [1 -1] gives [-1 -1 -1];
  // channel 1 [10 20 30 40] with kernel [0.5 0.5] gives [15 25 35].
  Tensor x = F({1, 2, 4}, {1, 2, 3, 4, 10, 20, 30, 40});
  Tensor w = F({2, 1, 2}, {1, -1, 0.5f, 0.5f});
  auto out = RunOp("Conv", {&x, &w}, {Int("group", 2)});
  EXPECT_EQ(out[0].floats, (std::vector<float>{-1, -1, -1, 15, 25, 35}));
  // Dilation 2, kernel [1 1], pads 2/2 on [1 2 3 4]: taps t-2 and t: [1 2 4 6 3 4].
  Tensor x1 = F({1, 1, 4}, {1, 2, 3, 4}), w1 = F({1, 1, 2}, {1, 1});
  auto dil = RunOp("Conv", {&x1, &w1}, {Ints("dilations", {2}), Ints("pads", {2, 2})});
  EXPECT_EQ(dil[0].floats, (std::vector<float>{1, 2, 4, 6, 3, 4}));
}

TEST(OnnxVoicePromptOpsTest, AveragePoolCeilModeDividesByTheCoveredLength) {
  // [1..5], kernel 2, stride 2, ceil_mode: windows [1 2] [3 4] [5] -> 1.5 3.5 5 (the last window
  // averages only what it covers, as PyTorch's avg_pool1d(ceil_mode=True) and onnxruntime do,
  // with or without count_include_pad since there is no explicit padding).
  Tensor x = F({1, 1, 5}, {1, 2, 3, 4, 5});
  for (int include : {0, 1}) {
    auto out = RunOp("AveragePool", {&x}, {Ints("kernel_shape", {2}), Ints("strides", {2}), Int("ceil_mode", 1),
                                           Int("count_include_pad", include)});
    EXPECT_EQ(out[0].shape, (std::vector<int64_t>{1, 1, 3}));
    EXPECT_EQ(out[0].floats, (std::vector<float>{1.5f, 3.5f, 5}));
  }
  auto floor = RunOp("AveragePool", {&x}, {Ints("kernel_shape", {2}), Ints("strides", {2})});
  EXPECT_EQ(floor[0].floats, (std::vector<float>{1.5f, 3.5f}));
  // Padding 1/1, kernel 3, stride 1 on [1 2 3]: with count_include_pad (0+1+2)/3, 2, (2+3+0)/3;
  // without it (1+2)/2, 2, (2+3)/2.
  Tensor y = F({1, 1, 3}, {1, 2, 3});
  auto inc = RunOp("AveragePool", {&y}, {Ints("kernel_shape", {3}), Ints("pads", {1, 1}), Int("count_include_pad", 1)});
  ExpectNear(inc[0].floats, {1, 2, 5.0f / 3});
  auto exc = RunOp("AveragePool", {&y}, {Ints("kernel_shape", {3}), Ints("pads", {1, 1})});
  ExpectNear(exc[0].floats, {1.5f, 2, 2.5f});
  auto global = RunOp("GlobalAveragePool", {&x});
  EXPECT_EQ(global[0].shape, (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(global[0].floats, (std::vector<float>{3}));
}

TEST(OnnxVoicePromptOpsTest, BatchNormalization) {
  // Channel 0: (x - 1) / sqrt(4 + 0) * 2 + 1 = x (for x=1: 1, x=3: 3); channel 1: (x - 0) / 1 * 1 - 1.
  Tensor x = F({1, 2, 2}, {1, 3, 5, 7});
  Tensor scale = F({2}, {2, 1}), bias = F({2}, {1, -1}), mean = F({2}, {1, 0}), var = F({2}, {4, 1});
  auto out = RunOp("BatchNormalization", {&x, &scale, &bias, &mean, &var}, {Flt("epsilon", 0.0f)});
  EXPECT_EQ(out[0].floats, (std::vector<float>{1, 3, 4, 6}));
  // Rank 2 (CAM++'s last, affine-free BatchNorm1d on [1, 192]).
  Tensor x2 = F({1, 2}, {5, 7});
  auto out2 = RunOp("BatchNormalization", {&x2, &scale, &bias, &mean, &var}, {Flt("epsilon", 0.0f)});
  EXPECT_EQ(out2[0].floats, (std::vector<float>{5, 6}));
}

TEST(OnnxVoicePromptOpsTest, MatMulBroadcastsBatchesAndVectors) {
  // [2,2,2] x [2,2]: batch 0 [[1 2][3 4]] x [[1 0][1 1]] = [[3 2][7 4]]; batch 1 [[0 1][1 0]] x ... = [[1 1][1 0]].
  Tensor a = F({2, 2, 2}, {1, 2, 3, 4, 0, 1, 1, 0}), b = F({2, 2}, {1, 0, 1, 1});
  auto out = RunOp("MatMul", {&a, &b});
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(out[0].floats, (std::vector<float>{3, 2, 7, 4, 1, 1, 1, 0}));
  // [1,2,1,3] x [2,1,3,1] broadcasts to [2,2,1,1]: dot products of rows r_i with columns c_j.
  Tensor r = F({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6}), c = F({2, 1, 3, 1}, {1, 1, 1, 1, 0, -1});
  auto bc = RunOp("MatMul", {&r, &c});
  EXPECT_EQ(bc[0].shape, (std::vector<int64_t>{2, 2, 1, 1}));
  EXPECT_EQ(bc[0].floats, (std::vector<float>{6, 15, -2, -2}));
  // Vector x matrix and matrix x vector drop the added axis.
  Tensor v = F({2}, {1, 2}), m = F({2, 2}, {1, 2, 3, 4});
  auto vm = RunOp("MatMul", {&v, &m});
  EXPECT_EQ(vm[0].shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(vm[0].floats, (std::vector<float>{7, 10}));
  auto mv = RunOp("MatMul", {&m, &v});
  EXPECT_EQ(mv[0].floats, (std::vector<float>{5, 11}));
  Tensor bad = F({3, 2}, {1, 2, 3, 4, 5, 6});
  EXPECT_FALSE(RunStatus("MatMul", {&m, &bad}).ok());
}

TEST(OnnxVoicePromptOpsTest, MatMulWideMatricesUseFullAndTailColumnBlocks) {
  // B has 150 columns: two full blocks of 64 and a tail of 22. Small integers, so every product
  // and sum is exact and the loop below is the reference.
  const int64_t m = 3, k = 5, n = 150;
  std::vector<float> av(m * k), bv(k * n);
  for (int64_t i = 0; i < m * k; ++i) av[i] = static_cast<float>(i % 7 - 3);
  for (int64_t i = 0; i < k * n; ++i) bv[i] = static_cast<float>(i % 11 - 5);
  Tensor a = F({m, k}, av), b = F({k, n}, bv);
  auto out = RunOp("MatMul", {&a, &b});
  ASSERT_EQ(out[0].shape, (std::vector<int64_t>{m, n}));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      float want = 0;
      for (int64_t p = 0; p < k; ++p) want += av[i * k + p] * bv[p * n + j];
      ASSERT_EQ(out[0].floats[i * n + j], want) << i << "," << j;
    }
  }
}

TEST(OnnxVoicePromptOpsTest, SoftmaxAxesAndOpsetSemantics) {
  // softmax([0, ln 3]) = [1/4, 3/4]; -1e10 (a masked position) gives exactly 0.
  Tensor x = F({2, 2}, {0, std::log(3.0f), 5, -1e10f});
  auto out = RunOp("Softmax", {&x});
  ExpectNear(out[0].floats, {0.25f, 0.75f, 1, 0});
  auto log = RunOp("LogSoftmax", {&x});
  ExpectNear(log[0].floats, {std::log(0.25f), std::log(0.75f), 0, -1e10f}, 1e-4f);
  // axis 0 over columns: column 0 = softmax([0, 5]).
  auto cols = RunOp("Softmax", {&x}, {Int("axis", 0)});
  EXPECT_NEAR(cols[0].floats[0], 1 / (1 + std::exp(5.0f)), 1e-6f);
  // Before opset 13, axis 0 normalises over the whole flattened tensor.
  Node node;
  node.op_type = "Softmax";
  node.opset = 11;
  node.outputs = {"y"};
  node.attributes = {Int("axis", 0)};
  Tensor y = F({2, 2}, {0, 0, 0, 0});
  std::vector<const Tensor*> in = {&y};
  std::vector<Tensor> outs;
  ASSERT_TRUE(RunOperator(node, in, &outs).ok());
  EXPECT_EQ(outs[0].floats, (std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f}));
}

TEST(OnnxVoicePromptOpsTest, LayerNormalization) {
  // [1 3]: mean 2, variance 1 -> [-1 1], times scale [2 1] plus bias [0 1] = [-2 2].
  Tensor x = F({1, 2}, {1, 3}), scale = F({2}, {2, 1}), bias = F({2}, {0, 1});
  auto out = RunOp("LayerNormalization", {&x, &scale, &bias}, {Flt("epsilon", 0.0f)}, 3);
  EXPECT_EQ(out[0].floats, (std::vector<float>{-2, 2}));
  EXPECT_EQ(out[1].floats, (std::vector<float>{2}));
  EXPECT_EQ(out[2].floats, (std::vector<float>{1}));
}

TEST(OnnxVoicePromptOpsTest, UnaryMathForGeluAndFsq) {
  // erf(0) = 0, erf(1) = 0.8427008; Round halves to even: 0.5 -> 0, 1.5 -> 2, -0.5 -> -0, 2.5 -> 2.
  Tensor x = F({2}, {0, 1});
  ExpectNear(RunOp("Erf", {&x})[0].floats, {0, 0.8427008f});
  Tensor h = F({5}, {0.5f, 1.5f, -0.5f, 2.5f, -0.6f});
  EXPECT_EQ(RunOp("Round", {&h})[0].floats, (std::vector<float>{0, 2, 0, 2, -1}));
  EXPECT_EQ(RunOp("Floor", {&h})[0].floats, (std::vector<float>{0, 1, -1, 2, -1}));
  EXPECT_EQ(RunOp("Ceil", {&h})[0].floats, (std::vector<float>{1, 2, 0, 3, 0}));
  Tensor e = F({2}, {1, 4});
  ExpectNear(RunOp("Log", {&e})[0].floats, {0, std::log(4.0f)});
  EXPECT_EQ(RunOp("Reciprocal", {&e})[0].floats, (std::vector<float>{1, 0.25f}));
}

TEST(OnnxVoicePromptOpsTest, ModFollowsTheDivisorUnlessFmod) {
  // Python: -7 % 3 = 2, 7 % -3 = -2; C fmod: -7 fmod 3 = -1. (T + 1) % 2 is how the tokenizer
  // picks the frames that survive its stride-2 convolutions.
  Tensor a = I({3}, {-7, 7, 8}), b = I({3}, {3, -3, 2});
  EXPECT_EQ(RunOp("Mod", {&a, &b})[0].ints, (std::vector<int64_t>{2, -2, 0}));
  EXPECT_EQ(RunOp("Mod", {&a, &b}, {Int("fmod", 1)})[0].ints, (std::vector<int64_t>{-1, 1, 0}));
  Tensor fa = F({1}, {-7.5f}), fb = F({1}, {2});
  EXPECT_EQ(RunOp("Mod", {&fa, &fb}, {Int("fmod", 1)})[0].floats, (std::vector<float>{-1.5f}));
  EXPECT_FALSE(RunStatus("Mod", {&fa, &fb}).ok());  // floats need fmod=1
  Tensor zero = I({1}, {0});
  EXPECT_FALSE(RunStatus("Mod", {&a, &zero}).ok());
}

TEST(OnnxVoicePromptOpsTest, WhereMinMaxClip) {
  // Where broadcasts a [2,1] condition against [2] and a scalar: rows take X or 0.
  Tensor c = Tensor::Bool({2, 1}, {1, 0}), x = F({2}, {1, 2}), zero = F({}, {0});
  auto w = RunOp("Where", {&c, &x, &zero});
  EXPECT_EQ(w[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(w[0].floats, (std::vector<float>{1, 2, 0, 0}));
  Tensor a = F({3}, {1, 5, 3}), b = F({3}, {4, 2, 3}), s = F({}, {2.5f});
  EXPECT_EQ(RunOp("Max", {&a, &b, &s})[0].floats, (std::vector<float>{4, 5, 3}));
  EXPECT_EQ(RunOp("Min", {&a, &b})[0].floats, (std::vector<float>{1, 2, 3}));
  Tensor lo = F({}, {2}), hi = F({}, {4});
  EXPECT_EQ(RunOp("Clip", {&a, &lo, &hi})[0].floats, (std::vector<float>{2, 4, 3}));
  EXPECT_EQ(RunOp("Clip", {&a, nullptr, &hi})[0].floats, (std::vector<float>{1, 4, 3}));
  EXPECT_EQ(RunOp("Clip", {&a}, {Flt("min", 2), Flt("max", 4)})[0].floats, (std::vector<float>{2, 4, 3}));
}

TEST(OnnxVoicePromptOpsTest, ReductionsAndArgMax) {
  Tensor x = F({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axis1 = I({1}, {1});
  // ReduceSum with axes as an input (opset 13) and as an attribute (opset 11).
  EXPECT_EQ(RunOp("ReduceSum", {&x, &axis1}, {Int("keepdims", 0)})[0].floats, (std::vector<float>{6, 15}));
  EXPECT_EQ(RunOp("ReduceSum", {&x}, {Ints("axes", {0})})[0].floats, (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(RunOp("ReduceSum", {&x})[0].floats, (std::vector<float>{21}));
  EXPECT_EQ(RunOp("ReduceMax", {&x}, {Ints("axes", {1})})[0].floats, (std::vector<float>{3, 6}));
  EXPECT_EQ(RunOp("ReduceMin", {&x}, {Ints("axes", {1})})[0].floats, (std::vector<float>{1, 4}));
  // ReduceProd of a Shape: how exporters count elements (CAM++'s std over time).
  Tensor shape = I({3}, {1, 32, 149});
  auto prod = RunOp("ReduceProd", {&shape}, {Int("keepdims", 0)});
  EXPECT_TRUE(prod[0].shape.empty());
  EXPECT_EQ(prod[0].ints, (std::vector<int64_t>{32 * 149}));
  EXPECT_EQ(RunOp("ReduceMean", {&x}, {Ints("axes", {1}), Int("keepdims", 0)})[0].floats, (std::vector<float>{2, 5}));
  Tensor y = F({2, 3}, {1, 7, 7, 9, 0, 9});
  EXPECT_EQ(RunOp("ArgMax", {&y}, {Int("axis", 1), Int("keepdims", 0)})[0].ints, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(RunOp("ArgMax", {&y}, {Int("axis", 1), Int("select_last_index", 1)})[0].ints, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(RunOp("ArgMin", {&y}, {Int("axis", 0)})[0].ints, (std::vector<int64_t>{0, 1, 0}));
}

TEST(OnnxVoicePromptOpsTest, ExpandAndRange) {
  // Expand [2,1] to [2,3] (CAM++ repeats each 100-frame segment mean this way); a requested
  // shape smaller than the input's broadcasts too: [3] expanded by [1] stays [3].
  Tensor x = F({2, 1}, {1, 2}), to = I({2}, {2, 3});
  auto out = RunOp("Expand", {&x, &to});
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(out[0].floats, (std::vector<float>{1, 1, 1, 2, 2, 2}));
  Tensor row = F({3}, {1, 2, 3}), one = I({1}, {1});
  EXPECT_EQ(RunOp("Expand", {&row, &one})[0].shape, (std::vector<int64_t>{3}));
  Tensor bad = I({1}, {2});
  EXPECT_FALSE(RunStatus("Expand", {&row, &bad}).ok());
  Tensor s = I({}, {0}), l = I({}, {5}), d = I({}, {2});
  EXPECT_EQ(RunOp("Range", {&s, &l, &d})[0].ints, (std::vector<int64_t>{0, 2, 4}));
  Tensor fs = F({}, {1}), fl = F({}, {0}), fd = F({}, {-0.25f});
  EXPECT_EQ(RunOp("Range", {&fs, &fl, &fd})[0].floats, (std::vector<float>{1, 0.75f, 0.5f, 0.25f}));
  Tensor empty_limit = I({}, {-3});
  EXPECT_EQ(RunOp("Range", {&s, &empty_limit, &d})[0].size(), 0);
}

TEST(OnnxVoicePromptOpsTest, UnknownOperatorIsNamed) {
  Tensor x = F({1}, {1});
  Status s = RunStatus("GridSample", {&x});
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.ToString().find("GridSample"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace cadence::engine::onnx
