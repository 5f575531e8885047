// Convolution and pooling over any number of spatial axes: Conv (groups, strides, dilations,
// explicit pads or auto_pad), AveragePool (ceil_mode, count_include_pad) and GlobalAveragePool.
// CAM++ needs the 2-D forms (its FCM head) and a 1-D average pool with ceil_mode; the S3 tokenizer
// a depthwise 1-D Conv (group = channels). Accumulation in double: the reference path (Conv adds
// the bias to the product once it is rounded to float).
//
// For each kernel tap and each output row (the output's last axis), the span of positions that
// read the input is worked out once per call, so the copies and sums need no bounds tests. Conv is
// a matrix product of the weights with those copies (im2col), on MatMul's kernel.
#include <algorithm>
#include <cmath>

#include "engine/formats/onnx/ops_internal.h"

namespace cadence::engine::onnx::internal {
namespace {

struct Geometry {
  std::vector<int64_t> in, kernel, out, stride, dilation, pad_begin, pad_end;
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
  // The output seen as rows along its last axis: for kernel tap k and output row r,
  // runs[k * rows + r] says which positions x of the row read the input (x in [begin, end)) and
  // where: input offset first + (x - begin) * step.
  struct Run {
    int64_t begin = 0, end = 0, first = 0;
  };
  int64_t rows = 1, row_length = 1, step = 1;
  std::vector<Run> runs;
};

// Spatial geometry from the node's attributes. `ceil_mode` only for pools.
Result<Geometry> MakeGeometry(const Node& node, const std::vector<int64_t>& in, const std::vector<int64_t>& kernel,
                              bool ceil_mode) {
  const size_t n = in.size();
  Geometry g;
  g.in = in;
  g.kernel = kernel;
  g.stride = node.GetInts("strides");
  g.dilation = node.GetInts("dilations");
  std::vector<int64_t> pads = node.GetInts("pads");
  if (g.stride.empty()) g.stride.assign(n, 1);
  if (g.dilation.empty()) g.dilation.assign(n, 1);
  if (pads.empty()) pads.assign(2 * n, 0);
  if (g.stride.size() != n || g.dilation.size() != n || pads.size() != 2 * n) {
    return NodeError(node, "strides/dilations/pads do not match " + std::to_string(n) + " spatial axes");
  }
  g.pad_begin.assign(pads.begin(), pads.begin() + n);
  g.pad_end.assign(pads.begin() + n, pads.end());
  const std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  for (size_t d = 0; d < n; ++d) {
    if (g.stride[d] <= 0 || g.dilation[d] <= 0) return NodeError(node, "strides and dilations must be positive");
    const int64_t span = g.dilation[d] * (kernel[d] - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out_len = (in[d] + g.stride[d] - 1) / g.stride[d];
      const int64_t total = std::max<int64_t>(0, (out_len - 1) * g.stride[d] + span - in[d]);
      g.pad_begin[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[d] = total - g.pad_begin[d];
    } else if (auto_pad == "VALID") {
      g.pad_begin[d] = g.pad_end[d] = 0;
    } else if (auto_pad != "NOTSET") {
      return NodeError(node, "auto_pad '" + auto_pad + "' is not supported");
    }
    const int64_t room = in[d] + g.pad_begin[d] + g.pad_end[d] - span;
    if (room < 0) return NodeError(node, "input of length " + std::to_string(in[d]) + " is shorter than the kernel");
    int64_t out_len = (ceil_mode ? (room + g.stride[d] - 1) / g.stride[d] : room / g.stride[d]) + 1;
    // A last window that would start in the end padding is dropped (as PyTorch and onnxruntime do).
    if (ceil_mode && (out_len - 1) * g.stride[d] >= in[d] + g.pad_begin[d]) --out_len;
    g.out.push_back(out_len);
    g.in_size *= in[d];
    g.out_size *= out_len;
    g.kernel_size *= kernel[d];
  }
  const auto in_strides = Strides(in);
  g.row_length = g.out[n - 1];
  g.rows = g.out_size / std::max<int64_t>(g.row_length, 1);
  g.step = g.stride[n - 1] * in_strides[n - 1];
  g.runs.resize(g.kernel_size * g.rows);
  const std::vector<int64_t> row_shape(g.out.begin(), g.out.end() - 1);
  std::vector<int64_t> tap(n, 0);
  for (int64_t k = 0; k < g.kernel_size; ++k) {
    // Along the last axis the input index is x * stride + tap * dilation - pad: valid for x in
    // [begin, end).
    const int64_t last = n - 1;
    const int64_t shift = tap[last] * g.dilation[last] - g.pad_begin[last];
    int64_t begin = shift >= 0 ? 0 : (-shift + g.stride[last] - 1) / g.stride[last];
    int64_t end = in[last] - shift <= 0 ? 0 : (in[last] - shift + g.stride[last] - 1) / g.stride[last];
    begin = std::min(begin, g.row_length);
    end = std::clamp(end, begin, g.row_length);
    std::vector<int64_t> pos(n - 1, 0);
    for (int64_t r = 0; r < g.rows; ++r) {
      Geometry::Run run;
      int64_t offset = 0;
      bool inside = true;
      for (size_t d = 0; d + 1 < n && inside; ++d) {
        const int64_t i = pos[d] * g.stride[d] + tap[d] * g.dilation[d] - g.pad_begin[d];
        inside = i >= 0 && i < in[d];
        offset += i * in_strides[d];
      }
      if (inside && begin < end) {
        run.begin = begin;
        run.end = end;
        run.first = offset + (begin * g.stride[last] + shift) * in_strides[last];
      }
      g.runs[k * g.rows + r] = run;
      NextIndex(row_shape, &pos);
    }
    NextIndex(kernel, &tap);
  }
  return g;
}

Status Conv(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* w, Required(node, inputs, 1, "W"));
  const Tensor* b = Optional(inputs, 2);
  if (!x->is_float() || !w->is_float() || (b && !b->is_float())) return NodeError(node, "inputs must be float");
  if (x->rank() < 3 || w->rank() != x->rank()) {
    return NodeError(node, "X " + x->ShapeString() + " and W " + w->ShapeString() + " must both be [N, C, spatial...]");
  }
  const int64_t batch = x->shape[0], channels = x->shape[1];
  const int64_t out_channels = w->shape[0], group_channels = w->shape[1];
  const int64_t group = node.GetInt("group", 1);
  if (group <= 0 || channels != group_channels * group || out_channels % group != 0) {
    return NodeError(node, "X " + x->ShapeString() + " and W " + w->ShapeString() + " do not match with group " +
                               std::to_string(group));
  }
  if (b && b->size() != out_channels) return NodeError(node, "bias has " + std::to_string(b->size()) + " values");
  const std::vector<int64_t> spatial(x->shape.begin() + 2, x->shape.end());
  const std::vector<int64_t> kernel(w->shape.begin() + 2, w->shape.end());
  if (const auto ks = node.GetInts("kernel_shape"); !ks.empty() && ks != kernel) {
    return NodeError(node, "kernel_shape attribute differs from W " + w->ShapeString());
  }
  CADENCE_ASSIGN_OR_RETURN(Geometry g, MakeGeometry(node, spatial, kernel, false));
  std::vector<int64_t> out_shape = {batch, out_channels};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  Tensor out = Tensor::Zeros(ElementType::kFloat, out_shape);
  // As a matrix product per batch item and group: W [M/g, C/g * K] x columns [C/g * K, P], where
  // row (c, k) of the columns holds input channel c read at kernel tap k for every output
  // position (0 in the padding).
  const int64_t per_group_out = out_channels / group;
  const int64_t depth = group_channels * g.kernel_size;
  std::vector<float> columns(static_cast<size_t>(depth * g.out_size));
  std::vector<float> product(static_cast<size_t>(per_group_out * g.out_size));
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t grp = 0; grp < group; ++grp) {
      std::fill(columns.begin(), columns.end(), 0.0f);
      for (int64_t c = 0; c < group_channels; ++c) {
        const float* xc = &x->floats[(n * channels + grp * group_channels + c) * g.in_size];
        for (int64_t k = 0; k < g.kernel_size; ++k) {
          float* column = &columns[static_cast<size_t>((c * g.kernel_size + k) * g.out_size)];
          for (int64_t r = 0; r < g.rows; ++r) {
            const Geometry::Run& run = g.runs[k * g.rows + r];
            float* dst = column + r * g.row_length + run.begin;
            const float* xs = xc + run.first;
            const int64_t count = run.end - run.begin;
            for (int64_t t = 0; t < count; ++t) dst[t] = xs[t * g.step];
          }
        }
      }
      const float* wg = &w->floats[grp * per_group_out * depth];
      MatMulRowMajor(wg, columns.data(), product.data(), per_group_out, depth, g.out_size);
      for (int64_t mo = 0; mo < per_group_out; ++mo) {
        const int64_t m = grp * per_group_out + mo;
        float* o = &out.floats[(n * out_channels + m) * g.out_size];
        const float* prod = &product[static_cast<size_t>(mo * g.out_size)];
        if (b) {
          const double bias = b->floats[m];
          for (int64_t p = 0; p < g.out_size; ++p) o[p] = static_cast<float>(prod[p] + bias);
        } else {
          std::copy(prod, prod + g.out_size, o);
        }
      }
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status AveragePool(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  if (!x->is_float() || x->rank() < 3) return NodeError(node, "X must be a float [N, C, spatial...]");
  const std::vector<int64_t> kernel = node.GetInts("kernel_shape");
  const std::vector<int64_t> spatial(x->shape.begin() + 2, x->shape.end());
  if (kernel.size() != spatial.size()) return NodeError(node, "kernel_shape does not match X " + x->ShapeString());
  if (node.GetInts("dilations").size() > 0) {
    for (int64_t d : node.GetInts("dilations")) {
      if (d != 1) return Status::Unimplemented(node.Describe() + ": dilated average pooling is not supported");
    }
  }
  const bool ceil_mode = node.GetInt("ceil_mode", 0) != 0;
  const bool include_pad = node.GetInt("count_include_pad", 0) != 0;
  CADENCE_ASSIGN_OR_RETURN(Geometry g, MakeGeometry(node, spatial, kernel, ceil_mode));
  std::vector<int64_t> out_shape = {x->shape[0], x->shape[1]};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  Tensor out = Tensor::Zeros(ElementType::kFloat, out_shape);
  // With count_include_pad the divisor counts explicit padding but never the positions a
  // ceil_mode window runs past the padded input.
  std::vector<int64_t> divisor(g.out_size, 0);
  {
    std::vector<int64_t> pos(spatial.size(), 0);
    for (int64_t p = 0; p < g.out_size; ++p) {
      int64_t count = 1;
      for (size_t d = 0; d < spatial.size(); ++d) {
        const int64_t start = pos[d] * g.stride[d] - g.pad_begin[d];
        const int64_t end = start + kernel[d];
        const int64_t lo = include_pad ? std::max<int64_t>(start, -g.pad_begin[d]) : std::max<int64_t>(start, 0);
        const int64_t hi = include_pad ? std::min<int64_t>(end, spatial[d] + g.pad_end[d]) : std::min<int64_t>(end, spatial[d]);
        count *= std::max<int64_t>(0, hi - lo);
      }
      divisor[p] = count;
      NextIndex(g.out, &pos);
    }
  }
  std::vector<double> acc(g.out_size);
  const int64_t planes = x->shape[0] * x->shape[1];
  for (int64_t plane = 0; plane < planes; ++plane) {
    std::fill(acc.begin(), acc.end(), 0.0);
    const float* xc = &x->floats[plane * g.in_size];
    for (int64_t k = 0; k < g.kernel_size; ++k) {
      for (int64_t r = 0; r < g.rows; ++r) {
        const Geometry::Run& run = g.runs[k * g.rows + r];
        double* a = &acc[r * g.row_length + run.begin];
        const float* xs = xc + run.first;
        for (int64_t t = 0; t < run.end - run.begin; ++t) a[t] += xs[t * g.step];
      }
    }
    float* o = &out.floats[plane * g.out_size];
    for (int64_t p = 0; p < g.out_size; ++p) o[p] = divisor[p] ? static_cast<float>(acc[p] / divisor[p]) : 0.0f;
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status GlobalAveragePool(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  if (!x->is_float() || x->rank() < 3) return NodeError(node, "X must be a float [N, C, spatial...]");
  std::vector<int64_t> shape(x->rank(), 1);
  shape[0] = x->shape[0];
  shape[1] = x->shape[1];
  const int64_t planes = shape[0] * shape[1];
  const int64_t size = x->size() / std::max<int64_t>(planes, 1);
  Tensor out = Tensor::Zeros(ElementType::kFloat, shape);
  for (int64_t plane = 0; plane < planes; ++plane) {
    double sum = 0;
    for (int64_t i = 0; i < size; ++i) sum += x->floats[plane * size + i];
    out.floats[plane] = size ? static_cast<float>(sum / size) : NAN;
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

}  // namespace

Status RunConvOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled) {
  *handled = true;
  if (node.op_type == "Conv") return Conv(node, inputs, outputs);
  if (node.op_type == "AveragePool") return AveragePool(node, inputs, outputs);
  if (node.op_type == "GlobalAveragePool") return GlobalAveragePool(node, inputs, outputs);
  *handled = false;
  return Status::Ok();
}

}  // namespace cadence::engine::onnx::internal
