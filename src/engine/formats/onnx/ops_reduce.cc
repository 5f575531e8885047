// Reductions: ReduceMean, ReduceSum, ReduceProd, ReduceMax, ReduceMin (axes as the attribute of
// older opsets or the second input of newer ones: ReduceSum from opset 13, the others from 18;
// keepdims, noop_with_empty_axes) and ArgMax / ArgMin (axis, keepdims, select_last_index). Float
// sums accumulate in double; integer tensors reduce exactly (ReduceProd of a Shape is how
// exporters compute element counts).
#include <cmath>
#include <limits>

#include "engine/formats/onnx/ops_internal.h"

namespace cadence::engine::onnx::internal {
namespace {

enum class Kind { kMean, kSum, kProd, kMax, kMin };

Status Reduce(const Node& node, Inputs inputs, Kind kind, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  bool given = false;
  std::vector<int64_t> axes = AxesFrom(node, inputs, 1, &given);
  const bool keep = node.GetInt("keepdims", 1) != 0;
  const int64_t rank = x->rank();
  std::vector<bool> reduce(rank, false);
  if (axes.empty()) {
    if (node.GetInt("noop_with_empty_axes", 0) != 0) {
      outputs->push_back(*x);
      return Status::Ok();
    }
    std::fill(reduce.begin(), reduce.end(), true);
  }
  for (int64_t axis : axes) {
    CADENCE_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, rank));
    reduce[a] = true;
  }
  std::vector<int64_t> kept_shape(rank), out_shape;
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d) {
    kept_shape[d] = reduce[d] ? 1 : x->shape[d];
    if (reduce[d]) count *= x->shape[d];
    if (!reduce[d] || keep) out_shape.push_back(kept_shape[d]);
  }
  if (count == 0 && (kind == Kind::kMax || kind == Kind::kMin)) {
    return NodeError(node, "cannot take the maximum or minimum of an empty axis");
  }
  const auto out_strides = Strides(kept_shape);
  const int64_t n_out = ShapeSize(kept_shape);
  const double init = kind == Kind::kProd ? 1.0
                      : kind == Kind::kMax ? -std::numeric_limits<double>::infinity()
                      : kind == Kind::kMin ? std::numeric_limits<double>::infinity()
                                           : 0.0;
  std::vector<double> acc(n_out, init);
  std::vector<int64_t> iacc(n_out, kind == Kind::kProd ? 1 : kind == Kind::kMax ? std::numeric_limits<int64_t>::min()
                                                          : kind == Kind::kMin ? std::numeric_limits<int64_t>::max()
                                                                               : 0);
  std::vector<int64_t> counter(rank, 0);
  for (int64_t i = 0; i < x->size(); ++i) {
    int64_t dst = 0;
    for (int64_t d = 0; d < rank; ++d) dst += (reduce[d] ? 0 : counter[d]) * out_strides[d];
    if (x->is_float()) {
      const double v = x->floats[i];
      switch (kind) {
        case Kind::kMean:
        case Kind::kSum: acc[dst] += v; break;
        case Kind::kProd: acc[dst] *= v; break;
        case Kind::kMax: acc[dst] = std::isnan(v) || v > acc[dst] ? v : acc[dst]; break;
        case Kind::kMin: acc[dst] = std::isnan(v) || v < acc[dst] ? v : acc[dst]; break;
      }
    } else {
      const int64_t v = x->ints[i];
      switch (kind) {
        case Kind::kMean:
        case Kind::kSum: iacc[dst] += v; break;
        case Kind::kProd: iacc[dst] *= v; break;
        case Kind::kMax: iacc[dst] = std::max(iacc[dst], v); break;
        case Kind::kMin: iacc[dst] = std::min(iacc[dst], v); break;
      }
    }
    NextIndex(x->shape, &counter);
  }
  Tensor out = Tensor::Zeros(x->type, out_shape);
  for (int64_t i = 0; i < n_out; ++i) {
    if (x->is_float()) {
      out.floats[i] = kind == Kind::kMean ? (count ? static_cast<float>(acc[i] / count) : std::numeric_limits<float>::quiet_NaN())
                                          : static_cast<float>(acc[i]);
    } else {
      out.ints[i] = kind == Kind::kMean ? (count ? iacc[i] / count : 0) : iacc[i];
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status ArgExtreme(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, node.GetInt("axis", 0), x->rank()));
  const bool keep = node.GetInt("keepdims", 1) != 0;
  const bool last = node.GetInt("select_last_index", 0) != 0;
  const bool is_max = node.op_type == "ArgMax";
  const int64_t dim = x->shape[axis];
  if (dim == 0) return NodeError(node, "empty axis");
  const int64_t outer = ShapeSize(std::vector<int64_t>(x->shape.begin(), x->shape.begin() + axis));
  const int64_t inner = ShapeSize(std::vector<int64_t>(x->shape.begin() + axis + 1, x->shape.end()));
  std::vector<int64_t> shape = x->shape;
  if (keep) shape[axis] = 1;
  else shape.erase(shape.begin() + axis);
  Tensor out = Tensor::Zeros(ElementType::kInt64, shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      double best_value = x->AsDouble(o * dim * inner + i);
      for (int64_t k = 1; k < dim; ++k) {
        const double v = x->AsDouble((o * dim + k) * inner + i);
        const bool better = is_max ? (last ? v >= best_value : v > best_value) : (last ? v <= best_value : v < best_value);
        if (better) {
          best = k;
          best_value = v;
        }
      }
      out.ints[o * inner + i] = best;
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

}  // namespace

Status RunReduceOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled) {
  const std::string& op = node.op_type;
  *handled = true;
  if (op == "ReduceMean") return Reduce(node, inputs, Kind::kMean, outputs);
  if (op == "ReduceSum") return Reduce(node, inputs, Kind::kSum, outputs);
  if (op == "ReduceProd") return Reduce(node, inputs, Kind::kProd, outputs);
  if (op == "ReduceMax") return Reduce(node, inputs, Kind::kMax, outputs);
  if (op == "ReduceMin") return Reduce(node, inputs, Kind::kMin, outputs);
  if (op == "ArgMax" || op == "ArgMin") return ArgExtreme(node, inputs, outputs);
  *handled = false;
  return Status::Ok();
}

}  // namespace cadence::engine::onnx::internal
