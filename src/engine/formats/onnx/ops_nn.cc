// Neural-network operators: Gemm, MatMul (NumPy matmul: batch broadcasting, 1-D operands),
// BatchNormalization (inference form), Softmax (opset 13+ single axis; opsets < 13 flatten from
// the axis on, as their specification says), LayerNormalization, LSTM (forward, default
// activations). Accumulation in double: this is the reference path the fast kernels are checked
// against.
#include <algorithm>
#include <cmath>

#include "engine/formats/onnx/ops_internal.h"
#include "engine/kernels.h"
#include "engine/simd_avx2.h"

namespace cadence::engine::onnx::internal {
namespace {

inline float Sigmoid(double x) { return static_cast<float>(1.0 / (1.0 + std::exp(-x))); }

Status Gemm(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* a, Required(node, inputs, 0, "A"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* b, Required(node, inputs, 1, "B"));
  const Tensor* c = Optional(inputs, 2);
  if (a->rank() != 2 || b->rank() != 2 || !a->is_float() || !b->is_float()) {
    return NodeError(node, "A and B must be float matrices; got " + a->ShapeString() + " and " + b->ShapeString());
  }
  const bool ta = node.GetInt("transA", 0) != 0, tb = node.GetInt("transB", 0) != 0;
  const double alpha = node.GetFloat("alpha", 1.0f), beta = node.GetFloat("beta", 1.0f);
  const int64_t m = ta ? a->shape[1] : a->shape[0], k = ta ? a->shape[0] : a->shape[1];
  const int64_t kb = tb ? b->shape[1] : b->shape[0], n = tb ? b->shape[0] : b->shape[1];
  if (k != kb) return NodeError(node, "inner dimensions differ: " + a->ShapeString() + " x " + b->ShapeString());
  int64_t c_rows = 0, c_cols = 0;
  if (c) {
    if (!c->is_float() || c->rank() > 2) return NodeError(node, "C must be a float of rank <= 2");
    c_rows = c->rank() == 2 ? c->shape[0] : 1;
    c_cols = c->rank() >= 1 ? c->shape[c->rank() - 1] : 1;
    if ((c_rows != 1 && c_rows != m) || (c_cols != 1 && c_cols != n)) {
      return NodeError(node, "C " + c->ShapeString() + " does not broadcast to [" + std::to_string(m) + "," + std::to_string(n) + "]");
    }
  }
  Tensor out = Tensor::Zeros(ElementType::kFloat, {m, n});
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = ta ? a->floats[p * a->shape[1] + i] : a->floats[i * a->shape[1] + p];
        const float bv = tb ? b->floats[j * b->shape[1] + p] : b->floats[p * b->shape[1] + j];
        acc += static_cast<double>(av) * bv;
      }
      double v = alpha * acc;
      if (c) v += beta * c->floats[(c_rows == 1 ? 0 : i) * c_cols + (c_cols == 1 ? 0 : j)];
      out.floats[i * n + j] = static_cast<float>(v);
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// out[m, n] = a[m, k] x b[k, n] with double accumulators, in blocks of kColumns output columns
// and kRows rows: the [k, kColumns] slice of B stays in cache while the rows of A pass over it,
// each B value loaded is used for kRows rows, and the fixed-length inner loops let the compiler
// vectorise them. Written once, compiled twice: baseline x86-64 and AVX2 + FMA (chosen at run
// time, as the engine's kernels are); both sum the products in the same order (the AVX2 build
// may fuse multiply-adds, a difference in the last bits of a double).
constexpr int64_t kColumns = 64;
constexpr int64_t kRows = 4;

#define CADENCE_MATMUL_BLOCKS_BODY                                                                      \
  double acc[kRows][kColumns];                                                                          \
  for (int64_t j0 = 0; j0 < n; j0 += kColumns) {                                                        \
    const int64_t width = std::min(kColumns, n - j0);                                                   \
    for (int64_t i0 = 0; i0 < m; i0 += kRows) {                                                         \
      const int64_t rows = std::min(kRows, m - i0);                                                     \
      for (int64_t r = 0; r < kRows; ++r) std::fill(acc[r], acc[r] + kColumns, 0.0);                    \
      double bv[kColumns];                                                                              \
      for (int64_t p = 0; p < k; ++p) {                                                                 \
        const float* br = b + p * n + j0;                                                               \
        if (width == kColumns) {                                                                        \
          for (int64_t j = 0; j < kColumns; ++j) bv[j] = br[j];                                         \
        } else {                                                                                        \
          for (int64_t j = 0; j < kColumns; ++j) bv[j] = j < width ? br[j] : 0.0;                       \
        }                                                                                               \
        double av[kRows];                                                                               \
        for (int64_t r = 0; r < kRows; ++r) av[r] = r < rows ? a[(i0 + r) * k + p] : 0.0;               \
        for (int64_t r = 0; r < kRows; ++r) {                                                           \
          for (int64_t j = 0; j < kColumns; ++j) acc[r][j] += av[r] * bv[j];                            \
        }                                                                                               \
      }                                                                                                 \
      for (int64_t r = 0; r < rows; ++r) {                                                              \
        for (int64_t j = 0; j < width; ++j) out[(i0 + r) * n + j0 + j] = static_cast<float>(acc[r][j]); \
      }                                                                                                 \
    }                                                                                                   \
  }

void MatMulBlocks(const float* a, const float* b, float* out, int64_t m, int64_t k, int64_t n) {
  CADENCE_MATMUL_BLOCKS_BODY
}

CADENCE_AVX2 void MatMulBlocksAvx2(const float* a, const float* b, float* out, int64_t m, int64_t k, int64_t n) {
  CADENCE_MATMUL_BLOCKS_BODY
}

#undef CADENCE_MATMUL_BLOCKS_BODY

bool UseAvx2() {
  static const bool supported = IsaSupported(Isa::kAvx2);
  return supported;
}

}  // namespace

void MatMulRowMajor(const float* a, const float* b, float* out, int64_t m, int64_t k, int64_t n) {
  if (UseAvx2()) MatMulBlocksAvx2(a, b, out, m, k, n);
  else MatMulBlocks(a, b, out, m, k, n);
}

namespace {

Status MatMul(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* a, Required(node, inputs, 0, "A"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* b, Required(node, inputs, 1, "B"));
  if (!a->is_float() || !b->is_float()) return NodeError(node, "inputs must be float");
  if (a->rank() == 0 || b->rank() == 0) return NodeError(node, "inputs must not be scalars");
  // 1-D operands become a row (A) or a column (B) and the added axis is dropped afterwards.
  std::vector<int64_t> sa = a->shape, sb = b->shape;
  if (sa.size() == 1) sa.insert(sa.begin(), 1);
  if (sb.size() == 1) sb.push_back(1);
  const int64_t m = sa[sa.size() - 2], k = sa.back(), kb = sb[sb.size() - 2], n = sb.back();
  if (k != kb) return NodeError(node, "inner dimensions differ: " + a->ShapeString() + " x " + b->ShapeString());
  const std::vector<int64_t> batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  const std::vector<int64_t>* shapes[] = {&batch_a, &batch_b};
  CADENCE_ASSIGN_OR_RETURN(std::vector<int64_t> batch, BroadcastShapes(node, shapes));
  const auto stride_a = BroadcastStrides(batch_a, batch), stride_b = BroadcastStrides(batch_b, batch);
  std::vector<int64_t> out_shape = batch;
  if (a->rank() > 1) out_shape.push_back(m);
  if (b->rank() > 1) out_shape.push_back(n);
  Tensor out = Tensor::Zeros(ElementType::kFloat, out_shape);
  const int64_t batches = ShapeSize(batch);
  std::vector<int64_t> counter(batch.size(), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < batch.size(); ++d) {
      ia += counter[d] * stride_a[d];
      ib += counter[d] * stride_b[d];
    }
    const float* am = &a->floats[ia * m * k];
    const float* bm = &b->floats[ib * k * n];
    float* om = &out.floats[bi * m * n];
    MatMulRowMajor(am, bm, om, m, k, n);
    NextIndex(batch, &counter);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// Y = (X - mean) / sqrt(var + epsilon) * scale + B per channel (axis 1); inference mode only.
Status BatchNormalization(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* scale, Required(node, inputs, 1, "scale"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* bias, Required(node, inputs, 2, "B"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* mean, Required(node, inputs, 3, "input_mean"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* var, Required(node, inputs, 4, "input_var"));
  if (node.GetInt("training_mode", 0) != 0 || node.outputs.size() > 1) {
    return Status::Unimplemented(node.Describe() + ": training mode (running statistics outputs) is not supported");
  }
  if (!x->is_float() || x->rank() < 2) return NodeError(node, "X must be a float [N, C, ...]");
  const int64_t channels = x->shape[1];
  for (const Tensor* t : {scale, bias, mean, var}) {
    if (!t->is_float() || t->size() != channels) {
      return NodeError(node, "per-channel inputs must hold " + std::to_string(channels) + " floats, one has shape " + t->ShapeString());
    }
  }
  const double epsilon = node.GetFloat("epsilon", 1e-5f);
  const int64_t inner = x->rank() > 2 ? ShapeSize(std::vector<int64_t>(x->shape.begin() + 2, x->shape.end())) : 1;
  Tensor out = *x;
  for (int64_t n = 0; n < x->shape[0]; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      const double s = scale->floats[c] / std::sqrt(static_cast<double>(var->floats[c]) + epsilon);
      const double shift = bias->floats[c] - mean->floats[c] * s;
      float* p = &out.floats[(n * channels + c) * inner];
      for (int64_t i = 0; i < inner; ++i) p[i] = static_cast<float>(p[i] * s + shift);
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// Softmax / LogSoftmax. From opset 13 over one axis (default -1); before, the input is seen as a
// 2-D matrix split at `axis` (default 1) and normalised over everything from the axis on.
Status Softmax(const Node& node, Inputs inputs, int64_t opset, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "input"));
  if (!x->is_float()) return NodeError(node, "input must be float");
  const bool legacy = opset > 0 && opset < 13;
  CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, node.GetInt("axis", legacy ? 1 : -1), std::max<int64_t>(x->rank(), 1)));
  const int64_t outer = ShapeSize(std::vector<int64_t>(x->shape.begin(), x->shape.begin() + axis));
  const int64_t dim = legacy ? ShapeSize(std::vector<int64_t>(x->shape.begin() + axis, x->shape.end())) : x->shape[axis];
  const int64_t inner = legacy ? 1 : ShapeSize(std::vector<int64_t>(x->shape.begin() + axis + 1, x->shape.end()));
  const bool log = node.op_type == "LogSoftmax";
  Tensor out = *x;
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      float* base = &out.floats[o * dim * inner + i];
      double max_value = -INFINITY;
      for (int64_t k = 0; k < dim; ++k) max_value = std::max<double>(max_value, base[k * inner]);
      double sum = 0;
      for (int64_t k = 0; k < dim; ++k) sum += std::exp(base[k * inner] - max_value);
      for (int64_t k = 0; k < dim; ++k) {
        const double shifted = base[k * inner] - max_value;
        base[k * inner] = static_cast<float>(log ? shifted - std::log(sum) : std::exp(shifted) / sum);
      }
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// LayerNormalization (opset 17): normalises over the axes from `axis` on; optional Mean and
// InvStdDev outputs are produced when named.
Status LayerNormalization(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* scale, Required(node, inputs, 1, "Scale"));
  const Tensor* bias = Optional(inputs, 2);
  if (!x->is_float() || !scale->is_float() || (bias && !bias->is_float())) return NodeError(node, "inputs must be float");
  CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, node.GetInt("axis", -1), x->rank()));
  const double epsilon = node.GetFloat("epsilon", 1e-5f);
  const std::vector<int64_t> norm_shape(x->shape.begin() + axis, x->shape.end());
  const int64_t outer = ShapeSize(std::vector<int64_t>(x->shape.begin(), x->shape.begin() + axis));
  const int64_t size = ShapeSize(norm_shape);
  const std::vector<int64_t>* shapes[] = {&norm_shape, &scale->shape};
  CADENCE_ASSIGN_OR_RETURN(std::vector<int64_t> scale_shape, BroadcastShapes(node, shapes));
  if (scale_shape != norm_shape || (bias && bias->size() != 1 && bias->size() != size) || (scale->size() != 1 && scale->size() != size)) {
    return NodeError(node, "Scale/B do not match the normalised shape " + ShapeString(norm_shape));
  }
  Tensor out = *x;
  std::vector<int64_t> stat_shape = x->shape;
  for (int64_t d = axis; d < x->rank(); ++d) stat_shape[d] = 1;
  Tensor mean_out = Tensor::Zeros(ElementType::kFloat, stat_shape), inv_out = Tensor::Zeros(ElementType::kFloat, stat_shape);
  for (int64_t o = 0; o < outer; ++o) {
    float* p = &out.floats[o * size];
    double mean = 0, var = 0;
    for (int64_t i = 0; i < size; ++i) mean += p[i];
    mean /= size;
    for (int64_t i = 0; i < size; ++i) var += (p[i] - mean) * (p[i] - mean);
    var /= size;
    const double inv = 1.0 / std::sqrt(var + epsilon);
    for (int64_t i = 0; i < size; ++i) {
      const double s = scale->floats[scale->size() == 1 ? 0 : i];
      const double b = bias ? bias->floats[bias->size() == 1 ? 0 : i] : 0.0;
      p[i] = static_cast<float>((p[i] - mean) * inv * s + b);
    }
    mean_out.floats[o] = static_cast<float>(mean);
    inv_out.floats[o] = static_cast<float>(inv);
  }
  outputs->push_back(std::move(out));
  outputs->push_back(std::move(mean_out));
  outputs->push_back(std::move(inv_out));
  return Status::Ok();
}

// ONNX LSTM, gate order i, o, f, c in W/R/B (PyTorch's is i, f, g, o: exporters reorder).
Status Lstm(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* w, Required(node, inputs, 1, "W"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* r, Required(node, inputs, 2, "R"));
  const Tensor* b = Optional(inputs, 3);
  const Tensor* seq_lens = Optional(inputs, 4);
  const Tensor* h0 = Optional(inputs, 5);
  const Tensor* c0 = Optional(inputs, 6);
  const Tensor* p = Optional(inputs, 7);
  const std::string direction = node.GetString("direction", "forward");
  if (direction != "forward") return Status::Unimplemented(node.Describe() + ": direction '" + direction + "' is not supported");
  if (node.GetInt("layout", 0) != 0) return Status::Unimplemented(node.Describe() + ": layout 1 is not supported");
  if (node.Find("clip") || node.GetInt("input_forget", 0) != 0) {
    return Status::Unimplemented(node.Describe() + ": clip and input_forget are not supported");
  }
  if (const Attribute* act = node.Find("activations")) {
    (void)act;
    return Status::Unimplemented(node.Describe() + ": custom activations are not supported");
  }
  if (x->rank() != 3 || w->rank() != 3 || r->rank() != 3) return NodeError(node, "X, W and R must be rank 3");
  const int64_t steps = x->shape[0], batch = x->shape[1], input_size = x->shape[2];
  const int64_t hidden = r->shape[2];
  if (node.Find("hidden_size") && node.GetInt("hidden_size", hidden) != hidden) {
    return NodeError(node, "hidden_size attribute differs from R's shape " + r->ShapeString());
  }
  if (w->shape[0] != 1 || w->shape[1] != 4 * hidden || w->shape[2] != input_size || r->shape[1] != 4 * hidden) {
    return NodeError(node, "W " + w->ShapeString() + " / R " + r->ShapeString() + " do not match X " + x->ShapeString());
  }
  if (b && b->size() != 8 * hidden) return NodeError(node, "B has " + std::to_string(b->size()) + " values, needs " + std::to_string(8 * hidden));
  if (p && p->size() != 3 * hidden) return NodeError(node, "P has " + std::to_string(p->size()) + " values");
  if (seq_lens) {
    for (int64_t i = 0; i < seq_lens->size(); ++i) {
      if (seq_lens->AsInt(i) != steps) return Status::Unimplemented(node.Describe() + ": ragged sequence_lens are not supported");
    }
  }
  if ((h0 && h0->size() != batch * hidden) || (c0 && c0->size() != batch * hidden)) {
    return NodeError(node, "initial_h / initial_c must hold [1," + std::to_string(batch) + "," + std::to_string(hidden) + "]");
  }
  std::vector<float> h(batch * hidden, 0.0f), c(batch * hidden, 0.0f);
  if (h0) h = h0->floats;
  if (c0) c = c0->floats;
  Tensor y = Tensor::Zeros(ElementType::kFloat, {steps, 1, batch, hidden});
  std::vector<double> gates(4 * hidden);
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t n = 0; n < batch; ++n) {
      const float* xt = &x->floats[(t * batch + n) * input_size];
      float* hn = &h[n * hidden];
      float* cn = &c[n * hidden];
      for (int64_t g = 0; g < 4 * hidden; ++g) {
        double acc = b ? static_cast<double>(b->floats[g]) + b->floats[4 * hidden + g] : 0.0;
        const float* wr = &w->floats[g * input_size];
        for (int64_t i = 0; i < input_size; ++i) acc += static_cast<double>(wr[i]) * xt[i];
        const float* rr = &r->floats[g * hidden];
        for (int64_t i = 0; i < hidden; ++i) acc += static_cast<double>(rr[i]) * hn[i];
        gates[g] = acc;
      }
      for (int64_t j = 0; j < hidden; ++j) {
        const double pi = p ? p->floats[j] : 0.0, po = p ? p->floats[hidden + j] : 0.0, pf = p ? p->floats[2 * hidden + j] : 0.0;
        const double i_gate = Sigmoid(gates[j] + pi * cn[j]);
        const double f_gate = Sigmoid(gates[2 * hidden + j] + pf * cn[j]);
        const double candidate = std::tanh(gates[3 * hidden + j]);
        const double c_new = f_gate * cn[j] + i_gate * candidate;
        const double o_gate = Sigmoid(gates[hidden + j] + po * c_new);
        cn[j] = static_cast<float>(c_new);
        hn[j] = static_cast<float>(o_gate * std::tanh(c_new));
      }
      std::copy(hn, hn + hidden, &y.floats[(t * batch + n) * hidden]);
    }
  }
  outputs->push_back(std::move(y));
  outputs->push_back(Tensor::Float({1, batch, hidden}, h));
  outputs->push_back(Tensor::Float({1, batch, hidden}, c));
  return Status::Ok();
}

}  // namespace

Status RunNeuralOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled) {
  *handled = true;
  const std::string& op = node.op_type;
  if (op == "Gemm") return Gemm(node, inputs, outputs);
  if (op == "MatMul") return MatMul(node, inputs, outputs);
  if (op == "BatchNormalization") return BatchNormalization(node, inputs, outputs);
  if (op == "Softmax" || op == "LogSoftmax") return Softmax(node, inputs, node.opset, outputs);
  if (op == "LayerNormalization") return LayerNormalization(node, inputs, outputs);
  if (op == "LSTM") return Lstm(node, inputs, outputs);
  *handled = false;
  return Status::Ok();
}

}  // namespace cadence::engine::onnx::internal
