// Shape and data-movement operators: Constant, ConstantOfShape, Shape, Size, Reshape, Squeeze,
// Unsqueeze, Concat, Slice, Gather, Transpose, Split, Pad, Expand, Range.
#include <algorithm>
#include <cmath>

#include "engine/formats/onnx/ops_internal.h"

namespace cadence::engine::onnx::internal {
namespace {

// Copies element `src` of `from` to element `dst` of `to` (same type).
inline void CopyElement(const Tensor& from, int64_t src, Tensor* to, int64_t dst) {
  if (from.is_float()) to->floats[dst] = from.floats[src];
  else to->ints[dst] = from.ints[src];
}

Tensor Like(const Tensor& t, std::vector<int64_t> shape) { return Tensor::Zeros(t.type, std::move(shape)); }

Status Constant(const Node& node, std::vector<Tensor>* outputs) {
  if (const Attribute* a = node.Find("value"); a && a->t) {
    outputs->push_back(*a->t);
  } else if (const Attribute* f = node.Find("value_float")) {
    outputs->push_back(Tensor::Float({}, {f->f}));
  } else if (const Attribute* i = node.Find("value_int")) {
    outputs->push_back(Tensor::Int64({}, {i->i}));
  } else if (const Attribute* fs = node.Find("value_floats")) {
    outputs->push_back(Tensor::Float({static_cast<int64_t>(fs->floats.size())}, fs->floats));
  } else if (const Attribute* is = node.Find("value_ints")) {
    outputs->push_back(Tensor::Int64({static_cast<int64_t>(is->ints.size())}, is->ints));
  } else {
    return NodeError(node, "no value attribute this interpreter understands");
  }
  return Status::Ok();
}

Status ConstantOfShape(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* s, Required(node, inputs, 0, "shape"));
  std::vector<int64_t> shape = IntsOf(*s);
  for (int64_t d : shape) {
    if (d < 0) return NodeError(node, "negative dimension in shape " + ShapeString(shape));
  }
  const Attribute* v = node.Find("value");
  Tensor out = Tensor::Zeros(v && v->t ? v->t->type : ElementType::kFloat, shape);
  if (v && v->t && v->t->size() > 0) {
    if (out.is_float()) std::fill(out.floats.begin(), out.floats.end(), v->t->floats[0]);
    else std::fill(out.ints.begin(), out.ints.end(), v->t->ints[0]);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Shape(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  const int64_t rank = x->rank();
  int64_t start = node.GetInt("start", 0), end = node.GetInt("end", rank);
  if (start < 0) start += rank;
  if (end < 0) end += rank;
  start = std::clamp<int64_t>(start, 0, rank);
  end = std::clamp<int64_t>(end, 0, rank);
  std::vector<int64_t> dims(x->shape.begin() + start, x->shape.begin() + std::max(start, end));
  outputs->push_back(Tensor::Int64({static_cast<int64_t>(dims.size())}, dims));
  return Status::Ok();
}

Status Reshape(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* s, Required(node, inputs, 1, "shape"));
  std::vector<int64_t> shape = IntsOf(*s);
  const bool allow_zero = node.GetInt("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allow_zero) {
      if (i >= x->shape.size()) return NodeError(node, "0 in shape copies a dimension the input lacks");
      shape[i] = x->shape[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0) return NodeError(node, "more than one -1 in shape");
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      return NodeError(node, "negative dimension in shape " + ShapeString(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x->size() % known != 0) {
      return NodeError(node, "cannot reshape " + x->ShapeString() + " to " + ShapeString(shape));
    }
    shape[infer] = x->size() / known;
  }
  if (ShapeSize(shape) != x->size()) {
    return NodeError(node, "cannot reshape " + x->ShapeString() + " to " + ShapeString(shape));
  }
  Tensor out = *x;
  out.shape = shape;
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Squeeze(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  bool given = false;
  std::vector<int64_t> axes = AxesFrom(node, inputs, 1, &given);
  std::vector<bool> drop(x->shape.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x->shape.size(); ++i) drop[i] = x->shape[i] == 1;
  }
  for (int64_t axis : axes) {
    CADENCE_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, x->rank()));
    if (x->shape[a] != 1) {
      return NodeError(node, "cannot squeeze axis " + std::to_string(axis) + " of " + x->ShapeString());
    }
    drop[a] = true;
  }
  Tensor out = *x;
  out.shape.clear();
  for (size_t i = 0; i < x->shape.size(); ++i) {
    if (!drop[i]) out.shape.push_back(x->shape[i]);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Unsqueeze(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  bool given = false;
  std::vector<int64_t> axes = AxesFrom(node, inputs, 1, &given);
  if (!given) return NodeError(node, "no axes");
  const int64_t out_rank = x->rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t axis : axes) {
    CADENCE_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axis, out_rank));
    if (inserted[a]) return NodeError(node, "repeated axis " + std::to_string(axis));
    inserted[a] = true;
  }
  Tensor out = *x;
  out.shape.clear();
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) out.shape.push_back(inserted[i] ? 1 : x->shape[next++]);
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Concat(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  if (inputs.empty() || !inputs[0]) return NodeError(node, "no inputs");
  const Tensor& first = *inputs[0];
  CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, node.GetInt("axis", 0), first.rank()));
  std::vector<int64_t> shape = first.shape;
  shape[axis] = 0;
  for (const Tensor* t : inputs) {
    if (!t || t->rank() != first.rank() || t->type != first.type) {
      return NodeError(node, "inputs differ in rank or type");
    }
    for (int64_t d = 0; d < first.rank(); ++d) {
      if (d != axis && t->shape[d] != first.shape[d]) {
        return NodeError(node, "shapes " + first.ShapeString() + " and " + t->ShapeString() + " differ off the axis");
      }
    }
    shape[axis] += t->shape[axis];
  }
  Tensor out = Like(first, shape);
  const int64_t outer = ShapeSize(std::vector<int64_t>(shape.begin(), shape.begin() + axis));
  const int64_t inner = ShapeSize(std::vector<int64_t>(shape.begin() + axis + 1, shape.end()));
  int64_t offset = 0;
  for (const Tensor* t : inputs) {
    const int64_t block = t->shape[axis] * inner;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < block; ++i) CopyElement(*t, o * block + i, &out, o * shape[axis] * inner + offset + i);
    }
    offset += block;
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Slice(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  std::vector<int64_t> starts, ends, axes, steps;
  if (Optional(inputs, 1)) {
    starts = IntsOf(*inputs[1]);
    CADENCE_ASSIGN_OR_RETURN(const Tensor* e, Required(node, inputs, 2, "ends"));
    ends = IntsOf(*e);
    if (const Tensor* a = Optional(inputs, 3)) axes = IntsOf(*a);
    if (const Tensor* s = Optional(inputs, 4)) steps = IntsOf(*s);
  } else {
    starts = node.GetInts("starts");
    ends = node.GetInts("ends");
    axes = node.GetInts("axes");
  }
  if (starts.size() != ends.size()) return NodeError(node, "starts and ends differ in length");
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) {
    return NodeError(node, "axes/steps length differs from starts");
  }
  const int64_t rank = x->rank();
  std::vector<int64_t> begin(rank, 0), step(rank, 1), shape = x->shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    CADENCE_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(node, axes[i], rank));
    const int64_t dim = x->shape[a];
    const int64_t s = steps[i];
    if (s == 0) return NodeError(node, "step 0");
    int64_t st = starts[i], en = ends[i];
    if (st < 0) st += dim;
    if (en < 0) en += dim;
    if (s > 0) {
      st = std::clamp<int64_t>(st, 0, dim);
      en = std::clamp<int64_t>(en, 0, dim);
      shape[a] = en > st ? (en - st + s - 1) / s : 0;
    } else {
      st = std::clamp<int64_t>(st, 0, dim - 1);
      en = std::clamp<int64_t>(en, -1, dim - 1);
      shape[a] = st > en ? (st - en + (-s) - 1) / (-s) : 0;
    }
    begin[a] = st;
    step[a] = s;
  }
  Tensor out = Like(*x, shape);
  const auto in_strides = Strides(x->shape);
  std::vector<int64_t> counter(rank, 0);
  for (int64_t o = 0; o < out.size(); ++o) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) src += (begin[d] + counter[d] * step[d]) * in_strides[d];
    CopyElement(*x, src, &out, o);
    NextIndex(shape, &counter);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Gather(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* idx, Required(node, inputs, 1, "indices"));
  CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, node.GetInt("axis", 0), x->rank()));
  std::vector<int64_t> shape(x->shape.begin(), x->shape.begin() + axis);
  shape.insert(shape.end(), idx->shape.begin(), idx->shape.end());
  shape.insert(shape.end(), x->shape.begin() + axis + 1, x->shape.end());
  const int64_t outer = ShapeSize(std::vector<int64_t>(x->shape.begin(), x->shape.begin() + axis));
  const int64_t inner = ShapeSize(std::vector<int64_t>(x->shape.begin() + axis + 1, x->shape.end()));
  const int64_t dim = x->shape[axis];
  Tensor out = Like(*x, shape);
  const int64_t n = idx->size();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t j = idx->AsInt(k);
      if (j < 0) j += dim;
      if (j < 0 || j >= dim) return NodeError(node, "index " + std::to_string(idx->AsInt(k)) + " out of range");
      for (int64_t i = 0; i < inner; ++i) CopyElement(*x, (o * dim + j) * inner + i, &out, (o * n + k) * inner + i);
    }
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Transpose(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  const int64_t rank = x->rank();
  std::vector<int64_t> perm = node.GetInts("perm");
  if (perm.empty()) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int64_t>(perm.size()) != rank) return NodeError(node, "perm length differs from rank");
  std::vector<int64_t> shape(rank);
  for (int64_t i = 0; i < rank; ++i) {
    if (perm[i] < 0 || perm[i] >= rank) return NodeError(node, "perm entry out of range");
    shape[i] = x->shape[perm[i]];
  }
  const auto in_strides = Strides(x->shape);
  Tensor out = Like(*x, shape);
  std::vector<int64_t> counter(rank, 0);
  for (int64_t o = 0; o < out.size(); ++o) {
    int64_t src = 0;
    for (int64_t d = 0; d < rank; ++d) src += counter[d] * in_strides[perm[d]];
    CopyElement(*x, src, &out, o);
    NextIndex(shape, &counter);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

Status Split(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "input"));
  CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, node.GetInt("axis", 0), x->rank()));
  const int64_t dim = x->shape[axis];
  std::vector<int64_t> sizes;
  if (const Tensor* s = Optional(inputs, 1)) sizes = IntsOf(*s);
  else sizes = node.GetInts("split");
  if (sizes.empty()) {
    const int64_t parts = node.GetInt("num_outputs", static_cast<int64_t>(node.outputs.size()));
    if (parts <= 0) return NodeError(node, "no outputs to split into");
    const int64_t each = (dim + parts - 1) / parts;  // the last part may be smaller (opset 18)
    for (int64_t p = 0, left = dim; p < parts; ++p, left -= each) sizes.push_back(std::min(each, left));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  if (total != dim) return NodeError(node, "split sizes sum to " + std::to_string(total) + ", axis has " + std::to_string(dim));
  const int64_t outer = ShapeSize(std::vector<int64_t>(x->shape.begin(), x->shape.begin() + axis));
  const int64_t inner = ShapeSize(std::vector<int64_t>(x->shape.begin() + axis + 1, x->shape.end()));
  int64_t offset = 0;
  for (int64_t s : sizes) {
    std::vector<int64_t> shape = x->shape;
    shape[axis] = s;
    Tensor out = Like(*x, shape);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < s * inner; ++i) CopyElement(*x, (o * dim + offset) * inner + i, &out, o * s * inner + i);
    }
    offset += s;
    outputs->push_back(std::move(out));
  }
  return Status::Ok();
}

Status Pad(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
  const int64_t rank = x->rank();
  std::vector<int64_t> pads = Optional(inputs, 1) ? IntsOf(*inputs[1]) : node.GetInts("pads");
  std::vector<int64_t> axes;
  if (const Tensor* a = Optional(inputs, 3)) {
    for (int64_t v : IntsOf(*a)) {
      CADENCE_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(node, v, rank));
      axes.push_back(axis);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  if (pads.size() != 2 * axes.size()) {
    return NodeError(node, "pads has " + std::to_string(pads.size()) + " entries for " + std::to_string(axes.size()) + " axes");
  }
  std::vector<int64_t> before(rank, 0), after(rank, 0);
  const size_t n = axes.size();
  for (size_t i = 0; i < n; ++i) {
    before[axes[i]] = pads[i];
    after[axes[i]] = pads[i + n];
  }
  const std::string mode = node.GetString("mode", "constant");
  double fill = 0;
  if (const Tensor* c = Optional(inputs, 2); c && c->size() > 0) fill = c->AsDouble(0);
  else fill = node.GetFloat("value", 0.0f);
  std::vector<int64_t> shape(rank);
  for (int64_t d = 0; d < rank; ++d) {
    shape[d] = x->shape[d] + before[d] + after[d];
    if (shape[d] < 0) return NodeError(node, "negative output dimension");
    if (mode == "reflect" && (before[d] >= x->shape[d] || after[d] >= x->shape[d]) && (before[d] > 0 || after[d] > 0)) {
      return NodeError(node, "reflect padding must be smaller than the padded dimension");
    }
  }
  if (mode != "constant" && mode != "reflect" && mode != "edge") {
    return Status::Unimplemented(node.Describe() + ": pad mode '" + mode + "' is not supported");
  }
  const auto in_strides = Strides(x->shape);
  Tensor out = Like(*x, shape);
  std::vector<int64_t> counter(rank, 0);
  for (int64_t o = 0; o < out.size(); ++o) {
    int64_t src = 0;
    bool outside = false;
    for (int64_t d = 0; d < rank; ++d) {
      int64_t i = counter[d] - before[d];
      const int64_t dim = x->shape[d];
      if (i < 0 || i >= dim) {
        if (mode == "constant") {
          outside = true;
          break;
        }
        if (mode == "edge") i = std::clamp<int64_t>(i, 0, dim - 1);
        else i = i < 0 ? -i : 2 * (dim - 1) - i;  // reflect, edge value not repeated
      }
      src += i * in_strides[d];
    }
    if (outside) {
      if (out.is_float()) out.floats[o] = static_cast<float>(fill);
      else out.ints[o] = static_cast<int64_t>(fill);
    } else {
      CopyElement(*x, src, &out, o);
    }
    NextIndex(shape, &counter);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// Expand: broadcasts the input to the broadcast of its shape and `shape` (which may be smaller
// than the input's, unlike a plain reshape).
Status Expand(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "input"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* s, Required(node, inputs, 1, "shape"));
  const std::vector<int64_t> requested = IntsOf(*s);
  for (int64_t d : requested) {
    if (d < 0) return NodeError(node, "negative dimension in shape " + ShapeString(requested));
  }
  const std::vector<int64_t>* shapes[] = {&x->shape, &requested};
  CADENCE_ASSIGN_OR_RETURN(std::vector<int64_t> shape, BroadcastShapes(node, shapes));
  const auto strides = BroadcastStrides(x->shape, shape);
  Tensor out = Like(*x, shape);
  std::vector<int64_t> counter(shape.size(), 0);
  for (int64_t o = 0; o < out.size(); ++o) {
    int64_t src = 0;
    for (size_t d = 0; d < shape.size(); ++d) src += counter[d] * strides[d];
    CopyElement(*x, src, &out, o);
    NextIndex(shape, &counter);
  }
  outputs->push_back(std::move(out));
  return Status::Ok();
}

// Range(start, limit, delta): max(ceil((limit - start) / delta), 0) values.
Status Range(const Node& node, Inputs inputs, std::vector<Tensor>* outputs) {
  CADENCE_ASSIGN_OR_RETURN(const Tensor* start, Required(node, inputs, 0, "start"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* limit, Required(node, inputs, 1, "limit"));
  CADENCE_ASSIGN_OR_RETURN(const Tensor* delta, Required(node, inputs, 2, "delta"));
  if (start->size() != 1 || limit->size() != 1 || delta->size() != 1) return NodeError(node, "inputs must be scalars");
  if (delta->AsDouble(0) == 0) return NodeError(node, "delta is 0");
  if (start->is_float()) {
    const double s = start->AsDouble(0), l = limit->AsDouble(0), d = delta->AsDouble(0);
    const int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((l - s) / d)));
    Tensor out = Tensor::Zeros(ElementType::kFloat, {n});
    for (int64_t i = 0; i < n; ++i) out.floats[i] = static_cast<float>(s + i * d);
    outputs->push_back(std::move(out));
    return Status::Ok();
  }
  const int64_t s = start->AsInt(0), l = limit->AsInt(0), d = delta->AsInt(0);
  const int64_t n = std::max<int64_t>(0, (l - s + d + (d > 0 ? -1 : 1)) / d);
  Tensor out = Tensor::Zeros(ElementType::kInt64, {n});
  for (int64_t i = 0; i < n; ++i) out.ints[i] = s + i * d;
  outputs->push_back(std::move(out));
  return Status::Ok();
}

}  // namespace

Status RunShapeOp(const Node& node, Inputs inputs, std::vector<Tensor>* outputs, bool* handled) {
  const std::string& op = node.op_type;
  *handled = true;
  if (op == "Constant") return Constant(node, outputs);
  if (op == "ConstantOfShape") return ConstantOfShape(node, inputs, outputs);
  if (op == "Shape") return Shape(node, inputs, outputs);
  if (op == "Size") {
    CADENCE_ASSIGN_OR_RETURN(const Tensor* x, Required(node, inputs, 0, "data"));
    outputs->push_back(Tensor::Int64({}, {x->size()}));
    return Status::Ok();
  }
  if (op == "Reshape") return Reshape(node, inputs, outputs);
  if (op == "Squeeze") return Squeeze(node, inputs, outputs);
  if (op == "Unsqueeze") return Unsqueeze(node, inputs, outputs);
  if (op == "Concat") return Concat(node, inputs, outputs);
  if (op == "Slice") return Slice(node, inputs, outputs);
  if (op == "Gather") return Gather(node, inputs, outputs);
  if (op == "Transpose") return Transpose(node, inputs, outputs);
  if (op == "Split") return Split(node, inputs, outputs);
  if (op == "Pad") return Pad(node, inputs, outputs);
  if (op == "Expand") return Expand(node, inputs, outputs);
  if (op == "Range") return Range(node, inputs, outputs);
  *handled = false;
  return Status::Ok();
}

}  // namespace cadence::engine::onnx::internal
