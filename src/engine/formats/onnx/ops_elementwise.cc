// Elementwise operators: binary arithmetic/comparison/logic with NumPy broadcasting (Add, Sub,
// Mul, Div, Pow, Mod, comparisons, And/Or), variadic Min/Max, Where, Clip, unary math (Relu,
// Sigmoid, Tanh, Sqrt, Exp, Log, Erf, Neg, Abs, Reciprocal, Floor, Ceil, Round, Not), Cast and
// Identity.
#include <cmath>

#include "engine/formats/onnx/ops_internal.h"

namespace cadence::engine::onnx::internal {
namespace {

Result<std::vector<int64_t>> BroadcastShape(const Node& node, const Tensor& a, const Tensor& b) {
  const std::vector<int64_t>* shapes[] = {&a.shape, &b.shape};
  return BroadcastShapes(node, shapes);
}

// Calls fn(out_index, a_index, b_index) over the broadcast output.
template <typename Fn>
void ForEachBroadcast(const std::vector<int64_t>& out_shape, const std::vector<int64_t>& sa,
                      const std::vector<int64_t>& sb, Fn fn) {
  const int64_t total = ShapeSize(out_shape);
  const size_t rank = out_shape.size();
  std::vector<int64_t> counter(rank, 0);
  int64_t ia = 0, ib = 0;
  for (int64_t o = 0; o < total; ++o) {
    fn(o, ia, ib);
    for (int64_t d = static_cast<int64_t>(rank) - 1; d >= 0; --d) {
      if (++counter[d] < out_shape[d]) {
        ia += sa[d];
        ib += sb[d];
        break;
      }
      ia -= sa[d] * (out_shape[d] - 1);
      ib -= sb[d] * (out_shape[d] - 1);
      counter[d] = 0;
    }
  }
}

// Mod: with fmod=1 the result takes the dividend's sign (C fmod), otherwise the divisor's (Python
// %), which ONNX allows only for integers.
Status Mod(const Node& node, const Tensor& a, const Tensor& b, const std::vector<int64_t>& shape,
           const std::vector<int64_t>& sa, const std::vector<int64_t>& sb, std::vector<Tensor>* outputs) {
  const bool fmod = node.GetInt("fmod", 0) != 0;
  if (a.is_float() != b.is_float()) return NodeError(node, "input types differ");
  if (a.is_float()) {
    if (!fmod) return NodeError(node, "float inputs need fmod=1");
    Tensor out = Tensor::Zeros(ElementType::kFloat, shape);
    ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) { out.floats[o] = std::fmod(a.floats[i], b.floats[j]); });
    outputs->push_back(std::move(out));
    return Status::Ok();
  }
  Tensor out = Tensor::Zeros(a.type, shape);
  Status error;
  ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) {
    const int64_t x = a.ints[i], y = b.ints[j];
    if (y == 0) {
      error = NodeError(node, "integer modulo by zero");
      return;
    }
    int64_t r = x % y;
    if (!fmod && r != 0 && ((r < 0) != (y < 0))) r += y;
    out.ints[o] = r;
  });
  CADENCE_RETURN_IF_ERROR(error);
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Binary(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* a, Required(node, inputs, 0, "A"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* b, Required(node, inputs, 1, "B"));
  CADENCE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastShape(node, *a, *b));
  const auto sa = BroadcastStrides(a->shape, shape);
  const auto sb = BroadcastStrides(b->shape, shape);
  const std::string& op = node.op_type;
  if (op == "Mod") return Mod(node, *a, *b, shape, sa, sb, outputs);
  const bool comparison = op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
                          op == "GreaterOrEqual" || op == "And" || op == "Or";
  if (comparison) {
    Tensor out = Tensor::Zeros(ElementType::kBool, shape);
    ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) {
      const double x = a->AsDouble(i), y = b->AsDouble(j);
      bool r = false;
      if (op == "Equal") r = x == y;
      else if (op == "Less") r = x < y;
      else if (op == "Greater") r = x > y;
      else if (op == "LessOrEqual") r = x <= y;
      else if (op == "GreaterOrEqual") r = x >= y;
      else if (op == "And") r = x != 0 && y != 0;
      else r = x != 0 || y != 0;
      out.ints[o] = r ? 1 : 0;
    });
    outputs->push_back(std::move(out));
    return Status::Ok();
  }
  // Pow keeps the base's type (the exponent may be another type); the rest need equal types.
  if (op != "Pow" && a->is_float() != b->is_float()) {
    return NodeError(node, "input types differ (" + std::string(a->is_float() ? "float" : "integer") + " and " +
                               (b->is_float() ? "float" : "integer") + ")");
  }
  if (a->is_float()) {
    Tensor out = Tensor::Zeros(ElementType::kFloat, shape);
    float* o_data = out.floats.data();
    const float* x = a->floats.data();
    if (op == "Pow") {
      ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) {
        const double e = b->AsDouble(j);
        // x^2 as a product, as runtimes do, so the result is exactly rounded.
        o_data[o] = e == 2.0 ? x[i] * x[i] : static_cast<float>(std::pow(x[i], e));
      });
    } else {
      const float* y = b->floats.data();
      if (op == "Add") ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) { o_data[o] = x[i] + y[j]; });
      else if (op == "Sub") ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) { o_data[o] = x[i] - y[j]; });
      else if (op == "Mul") ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) { o_data[o] = x[i] * y[j]; });
      else ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) { o_data[o] = x[i] / y[j]; });
    }
    outputs->push_back(std::move(out));
    return Status::Ok();
  }
  Tensor out = Tensor::Zeros(ElementType::kInt64, shape);
  Status error;
  ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) {
    const int64_t x = a->ints[i], y = b->AsInt(j);
    if (op == "Add") out.ints[o] = x + y;
    else if (op == "Sub") out.ints[o] = x - y;
    else if (op == "Mul") out.ints[o] = x * y;
    else if (op == "Pow") out.ints[o] = static_cast<int64_t>(std::pow(static_cast<double>(x), static_cast<double>(y)));
    else if (y == 0) error = NodeError(node, "integer division by zero");
    else out.ints[o] = x / y;
  });
  CADENCE_RETURN_IF_ERROR(error);
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Unary(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "X"));
  const std::string& op = node.op_type;
  if (op == "Not") {
    if (x->type != ElementType::kBool) return NodeError(node, "input must be bool");
    Tensor out = *x;
    for (auto& v : out.ints) v = v ? 0 : 1;
    outputs->push_back(std::move(out));
    return Status::Ok();
  }
  if (!x->is_float()) {
    if (op == "Neg" || op == "Abs" || op == "Relu" || op == "Floor" || op == "Ceil" || op == "Round") {
      Tensor out = *x;
      for (auto& v : out.ints) {
        if (op == "Neg") v = -v;
        else if (op == "Abs") v = std::llabs(v);
        else if (op == "Relu") v = std::max<int64_t>(v, 0);
      }
      outputs->push_back(std::move(out));
      return Status::Ok();
    }
    return NodeError(node, "input must be float, is " + ElementTypeName(static_cast<int32_t>(x->type)));
  }
  Tensor out = *x;
  if (op == "Relu") for (float& v : out.floats) v = v > 0 ? v : 0.0f;
  else if (op == "Sigmoid") for (float& v : out.floats) v = 1.0f / (1.0f + std::exp(-v));
  else if (op == "Tanh") for (float& v : out.floats) v = std::tanh(v);
  else if (op == "Sqrt") for (float& v : out.floats) v = std::sqrt(v);
  else if (op == "Exp") for (float& v : out.floats) v = std::exp(v);
  else if (op == "Neg") for (float& v : out.floats) v = -v;
  else if (op == "Abs") for (float& v : out.floats) v = std::fabs(v);
  else if (op == "Log") for (float& v : out.floats) v = std::log(v);
  else if (op == "Erf") for (float& v : out.floats) v = std::erf(v);
  else if (op == "Reciprocal") for (float& v : out.floats) v = 1.0f / v;
  else if (op == "Floor") for (float& v : out.floats) v = std::floor(v);
  else if (op == "Ceil") for (float& v : out.floats) v = std::ceil(v);
  else if (op == "Round") for (float& v : out.floats) v = std::nearbyint(v);  // halves to even (default FE_TONEAREST)
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// Where(condition, X, Y) with three-way broadcasting.
Status Where(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* c, Required(node, inputs, 0, "condition"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 1, "X"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* y, Required(node, inputs, 2, "Y"));
  if (x->is_float() != y->is_float()) return NodeError(node, "X and Y differ in type");
  const std::vector<int64_t>* shapes[] = {&c->shape, &x->shape, &y->shape};
  CADENCE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastShapes(node, shapes));
  const auto sc = BroadcastStrides(c->shape, shape), sx = BroadcastStrides(x->shape, shape),
             sy = BroadcastStrides(y->shape, shape);
  Tensor out = Tensor::Zeros(x->type, shape);
  std::vector<int64_t> counter(shape.size(), 0);
  for (int64_t o = 0; o < out.size(); ++o) {
    int64_t ic = 0, ix = 0, iy = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      ic += counter[d] * sc[d];
      ix += counter[d] * sx[d];
      iy += counter[d] * sy[d];
    }
    const bool take_x = c->AsDouble(ic) != 0;
    if (out.is_float()) out.floats[o] = take_x ? x->floats[ix] : y->floats[iy];
    else out.ints[o] = take_x ? x->ints[ix] : y->ints[iy];
    NextIndex(shape, &counter);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// Min / Max of any number of inputs, broadcast pairwise.
Status MinMax(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* first, Required(node, inputs, 0, "data_0"));
  const bool is_max = node.op_type == "Max";
  Tensor acc = *first;
  for (size_t k = 1; k < inputs.size(); ++k) {
    CADENCE_ASSIGN_OR_RETURN(const Tensor* b, Required(node, inputs, k, "data"));
    if (b->is_float() != acc.is_float()) return NodeError(node, "input types differ");
    CADENCE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastShape(node, acc, *b));
    const auto sa = BroadcastStrides(acc.shape, shape), sb = BroadcastStrides(b->shape, shape);
    Tensor out = Tensor::Zeros(acc.type, shape);
    ForEachBroadcast(shape, sa, sb, [&](int64_t o, int64_t i, int64_t j) {
      if (out.is_float()) {
        const float x = acc.floats[i], y = b->floats[j];
        out.floats[o] = std::isnan(x) || std::isnan(y) ? NAN : is_max ? std::max(x, y) : std::min(x, y);
      } else {
        out.ints[o] = is_max ? std::max(acc.ints[i], b->ints[j]) : std::min(acc.ints[i], b->ints[j]);
      }
    });
    acc = std::move(out);
  }
  outputs->push_back(std::move(acc));
  return Status::Ok();
}

// Clip: bounds from inputs 1 and 2 (opset 11+) or the min/max attributes (opset 6).
Status Clip(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "input"));
  double lo = -INFINITY, hi = INFINITY;
  if (const Tensor* t = Optional(inputs, 1); t && t->size() > 0) lo = t->AsDouble(0);
  else if (node.Find("min")) lo = node.GetFloat("min", 0.0f);
  if (const Tensor* t = Optional(inputs, 2); t && t->size() > 0) hi = t->AsDouble(0);
  else if (node.Find("max")) hi = node.GetFloat("max", 0.0f);
  Tensor out = *x;
  if (out.is_float()) {
    for (float& v : out.floats) v = static_cast<float>(std::min(std::max<double>(v, lo), hi));
  } else {
    for (int64_t& v : out.ints) v = static_cast<int64_t>(std::min(std::max<double>(static_cast<double>(v), lo), hi));
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Cast(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "input"));
  const Attribute* to = node.Find("to");
  if (!to) return NodeError(node, "missing attribute 'to'");
  Tensor out;
  out.shape = x->shape;
  switch (to->i) {
    case 1:
    case 11:  // double computes as float here
      out.type = ElementType::kFloat;
      out.floats.resize(x->size());
      for (int64_t i = 0; i < x->size(); ++i) out.floats[i] = static_cast<float>(x->AsDouble(i));
      break;
    case 2: case 3: case 5: case 6: case 7:
      out.type = ElementType::kInt64;
      out.ints.resize(x->size());
      for (int64_t i = 0; i < x->size(); ++i) out.ints[i] = x->AsInt(i);
      break;
    case 9:
      out.type = ElementType::kBool;
      out.ints.resize(x->size());
      for (int64_t i = 0; i < x->size(); ++i) out.ints[i] = x->AsDouble(i) != 0 ? 1 : 0;
      break;
    default:
      return Status::Unimplemented(node.Describe() + ": cast to " + ElementTypeName(static_cast<int32_t>(to->i)) +
                                   " is not supported");
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

}  // namespace

Status RunElementwise(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled) {
  const std::string& op = node.op_type;
  *handled = true;
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" || op == "Mod" || op == "Equal" || op == "Less" ||
      op == "Greater" || op == "LessOrEqual" || op == "GreaterOrEqual" || op == "And" || op == "Or") {
    return Binary(node, inputs, outputs);
  }
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "Sqrt" || op == "Exp" || op == "Neg" ||
      op == "Abs" || op == "Not" || op == "Log" || op == "Erf" || op == "Reciprocal" || op == "Floor" ||
      op == "Ceil" || op == "Round") {
    return Unary(node, inputs, outputs);
  }
  if (op == "Where") return Where(node, inputs, outputs);
  if (op == "Min" || op == "Max") return MinMax(node, inputs, outputs);
  if (op == "Clip") return Clip(node, inputs, outputs);
  if (op == "Cast") return Cast(node, inputs, outputs);
  if (op == "Identity") {
    CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "input"));
    outputs->push_back(*x);
    return Status::Ok();
  }
  *handled = false;
  return Status::Ok();
}

}  // namespace cadence::engine::onnx::internal
