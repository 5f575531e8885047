// Neural-network operators: Conv (1-D), Gemm, LSTM (forward, default activations). Accumulation
// in double: this is the reference path the fast kernels are checked against.
#include <cmath>

#include "engine/formats/onnx/ops_internal.h"

namespace cadence::engine::onnx::internal {
namespace {

inline float Sigmoid(double x) { return static_cast<float>(1.0 / (1.0 + std::exp(-x))); }

Status Conv(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* w, Required(node, inputs, 1, "W"));
  const Tensor* b = Optional(inputs, 2);
  if (!x->is_float() || !w->is_float() || (b && !b->is_float())) return NodeError(node, "inputs must be float");
  if (x->rank() != 3 || w->rank() != 3) {
    return Status::Unimplemented(node.Describe() + ": only 1-D convolution (rank-3 X and W) is supported; X is " +
                                 x->ShapeString() + ", W is " + w->ShapeString());
  }
  const int64_t batch = x->shape[0], channels = x->shape[1], length = x->shape[2];
  const int64_t out_channels = w->shape[0], group_channels = w->shape[1], kernel = w->shape[2];
  const int64_t group = node.GetInt("group", 1);
  if (group <= 0 || channels != group_channels * group || out_channels % group != 0) {
    return NodeError(node, "X " + x->ShapeString() + " and W " + w->ShapeString() + " do not match with group " +
                               std::to_string(group));
  }
  if (b && b->size() != out_channels) return NodeError(node, "bias has " + std::to_string(b->size()) + " values");
  std::vector<int64_t> strides = node.GetInts("strides"), dilations = node.GetInts("dilations"),
                       pads = node.GetInts("pads");
  const int64_t stride = strides.empty() ? 1 : strides[0];
  const int64_t dilation = dilations.empty() ? 1 : dilations[0];
  int64_t pad_begin = pads.size() >= 2 ? pads[0] : 0, pad_end = pads.size() >= 2 ? pads[1] : 0;
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const int64_t out_len = (length + stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, (out_len - 1) * stride + dilation * (kernel - 1) + 1 - length);
    pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    pad_end = total - pad_begin;
  } else if (auto_pad == "VALID") {
    pad_begin = pad_end = 0;
  }
  if (stride <= 0 || dilation <= 0) return NodeError(node, "strides and dilations must be positive");
  const int64_t span = dilation * (kernel - 1) + 1;
  const int64_t out_len = (length + pad_begin + pad_end - span) / stride + 1;
  if (out_len <= 0) return NodeError(node, "input of length " + std::to_string(length) + " is shorter than the kernel");
  Tensor out = Tensor::Zeros(ElementType::kFloat, {batch, out_channels, out_len});
  const int64_t per_group_out = out_channels / group;
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t m = 0; m < out_channels; ++m) {
      const int64_t g = m / per_group_out;
      for (int64_t t = 0; t < out_len; ++t) {
        double acc = b ? b->floats[m] : 0.0;
        for (int64_t c = 0; c < group_channels; ++c) {
          const float* xr = &x->floats[(n * channels + g * group_channels + c) * length];
          const float* wr = &w->floats[(m * group_channels + c) * kernel];
          for (int64_t k = 0; k < kernel; ++k) {
            const int64_t i = t * stride + k * dilation - pad_begin;
            if (i >= 0 && i < length) acc += static_cast<double>(xr[i]) * wr[k];
          }
        }
        out.floats[(n * out_channels + m) * out_len + t] = static_cast<float>(acc);
      }
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

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
  if (node.op_type == "Conv") return Conv(node, inputs, outputs);
  if (node.op_type == "Gemm") return Gemm(node, inputs, outputs);
  if (node.op_type == "LSTM") return Lstm(node, inputs, outputs);
  *handled = false;
  return Status::Ok();
}

}  // namespace cadence::engine::onnx::internal
