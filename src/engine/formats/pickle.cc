#include "engine/formats/pickle.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace cadence::engine::pickle {
namespace {

class Reader {
 public:
  Reader(std::string_view data, const std::vector<std::string>& allowed, const std::string& label)
      : data_(data), allowed_(allowed), label_(label) {}

  Result<Document> Run();

 private:
  Status Error(const std::string& what) const {
    return Status::DataLoss(label_ + ": pickle at byte " + std::to_string(op_pos_) + ": " + what);
  }
  bool Take(size_t n, std::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  template <typename T>
  bool TakeLe(T* out) {
    std::string_view b;
    if (!Take(sizeof(T), &b)) return false;
    std::memcpy(out, b.data(), sizeof(T));  // x86-64 and aarch64 are little-endian, as pickle is
    return true;
  }
  bool TakeLine(std::string* out) {
    const size_t nl = data_.find('\n', pos_);
    if (nl == std::string_view::npos) return false;
    out->assign(data_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return true;
  }
  Status Push(ValuePtr v) {
    if (stack_.size() >= kMaxStack) return Error("stack deeper than " + std::to_string(kMaxStack));
    stack_.push_back(std::move(v));
    return Status::Ok();
  }
  Result<ValuePtr> Pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) return Error("stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  // Pops everything above the last MARK.
  Result<std::vector<ValuePtr>> PopMark() {
    if (marks_.empty()) return Error("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<ptrdiff_t>(m)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  Status Memo(uint64_t key) {
    if (stack_.empty()) return Error("memo put on an empty stack");
    if (memo_.size() >= kMaxMemo && !memo_.count(key)) return Error("memo larger than " + std::to_string(kMaxMemo));
    memo_[key] = stack_.back();
    return Status::Ok();
  }
  Status Get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return Error("memo get of unknown key " + std::to_string(key));
    return Push(it->second);
  }
  Status Global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (std::find(allowed_.begin(), allowed_.end(), full) == allowed_.end())
      return Error("refusing global " + full + ": a state dict never needs it (the file may try to run code)");
    ValuePtr v = Make(Value::Kind::kGlobal);
    v->s = full;
    return Push(std::move(v));
  }
  ValuePtr Make(Value::Kind kind) {
    doc_.values.push_back(std::make_unique<Value>());
    ValuePtr v = doc_.values.back().get();
    v->kind = kind;
    return v;
  }
  ValuePtr Str(std::string_view s, Value::Kind kind = Value::Kind::kString) {
    auto v = Make(kind);
    v->s.assign(s);
    return v;
  }
  ValuePtr Int(int64_t i) {
    auto v = Make(Value::Kind::kInt);
    v->i = i;
    return v;
  }
  Status SetItems(std::vector<ValuePtr> kv) {
    if (kv.size() % 2) return Error("SETITEMS with an odd number of items");
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) return Error("SETITEMS without a dict");
    ValuePtr d = stack_.back();
    if (d->kind != Value::Kind::kDict && d->kind != Value::Kind::kCall)
      return Error("SETITEM(S) on something that is not a dict");
    for (size_t k = 0; k < kv.size(); k += 2) d->entries.emplace_back(std::move(kv[k]), std::move(kv[k + 1]));
    return Status::Ok();
  }
  Status Appends(std::vector<ValuePtr> items) {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) return Error("APPEND without a list");
    ValuePtr l = stack_.back();
    if (l->kind != Value::Kind::kList) return Error("APPEND(S) on something that is not a list");
    for (auto& it : items) l->items.push_back(std::move(it));
    return Status::Ok();
  }
  Status Call(ValuePtr callee, ValuePtr args) {
    if (callee->kind != Value::Kind::kGlobal) return Error("REDUCE/NEWOBJ on something that is not an allowed global");
    if (args->kind != Value::Kind::kTuple) return Error("REDUCE/NEWOBJ arguments are not a tuple");
    auto v = Make(Value::Kind::kCall);
    v->items = {std::move(callee), std::move(args)};
    return Push(std::move(v));
  }

  std::string_view data_;
  const std::vector<std::string>& allowed_;
  const std::string& label_;
  size_t pos_ = 0, op_pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  Document doc_;
};

Result<Document> Reader::Run() {
  auto truncated = [this] { return Error("stream ends inside an opcode; truncated file"); };
  while (true) {
    op_pos_ = pos_;
    std::string_view b;
    if (!Take(1, &b)) return Error("stream ends without STOP; truncated file");
    const uint8_t op = static_cast<uint8_t>(b[0]);
    switch (op) {
      case 0x80: {  // PROTO
        uint8_t proto;
        if (!TakeLe(&proto)) return truncated();
        if (proto < 2 || proto > 5) return Error("pickle protocol " + std::to_string(proto) + " (2 to 5 are read)");
        break;
      }
      case 0x95: {  // FRAME: a length hint only
        uint64_t n;
        if (!TakeLe(&n)) return truncated();
        break;
      }
      case '.': {  // STOP
        auto v = Pop();
        if (!v.ok()) return v.status();
        doc_.root = v.value();
        return std::move(doc_);
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case ')':
        CADENCE_RETURN_IF_ERROR(Push(Make(Value::Kind::kTuple)));
        break;
      case ']':
        CADENCE_RETURN_IF_ERROR(Push(Make(Value::Kind::kList)));
        break;
      case '}':
        CADENCE_RETURN_IF_ERROR(Push(Make(Value::Kind::kDict)));
        break;
      case 'N':
        CADENCE_RETURN_IF_ERROR(Push(Make(Value::Kind::kNone)));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        auto v = Make(Value::Kind::kBool);
        v->b = op == 0x88;
        CADENCE_RETURN_IF_ERROR(Push(std::move(v)));
        break;
      }
      case 'J': {  // BININT
        int32_t x;
        if (!TakeLe(&x)) return truncated();
        CADENCE_RETURN_IF_ERROR(Push(Int(x)));
        break;
      }
      case 'K': {  // BININT1
        uint8_t x;
        if (!TakeLe(&x)) return truncated();
        CADENCE_RETURN_IF_ERROR(Push(Int(x)));
        break;
      }
      case 'M': {  // BININT2
        uint16_t x;
        if (!TakeLe(&x)) return truncated();
        CADENCE_RETURN_IF_ERROR(Push(Int(x)));
        break;
      }
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        uint8_t n;
        if (!TakeLe(&n) || !Take(n, &b)) return truncated();
        if (n > 8) return Error("LONG1 of " + std::to_string(n) + " bytes does not fit 64 bits");
        uint64_t u = 0;
        for (size_t k = 0; k < n; ++k) u |= static_cast<uint64_t>(static_cast<uint8_t>(b[k])) << (8 * k);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) u |= ~uint64_t{0} << (8 * n);
        CADENCE_RETURN_IF_ERROR(Push(Int(static_cast<int64_t>(u))));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        if (!Take(8, &b)) return truncated();
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | static_cast<uint8_t>(b[k]);
        auto v = Make(Value::Kind::kFloat);
        std::memcpy(&v->f, &u, 8);
        CADENCE_RETURN_IF_ERROR(Push(std::move(v)));
        break;
      }
      case 'X':
      case 'B':
      case 'T': {  // BINUNICODE, BINBYTES, BINSTRING: 4-byte length
        uint32_t n;
        if (!TakeLe(&n) || !Take(n, &b)) return truncated();
        CADENCE_RETURN_IF_ERROR(Push(Str(b, op == 'X' ? Value::Kind::kString : Value::Kind::kBytes)));
        break;
      }
      case 0x8c:
      case 'C':
      case 'U': {  // SHORT_BINUNICODE, SHORT_BINBYTES, SHORT_BINSTRING: 1-byte length
        uint8_t n;
        if (!TakeLe(&n) || !Take(n, &b)) return truncated();
        CADENCE_RETURN_IF_ERROR(Push(Str(b, op == 0x8c ? Value::Kind::kString : Value::Kind::kBytes)));
        break;
      }
      case 0x8d:
      case 0x8e: {  // BINUNICODE8, BINBYTES8
        uint64_t n;
        if (!TakeLe(&n) || n > data_.size() || !Take(static_cast<size_t>(n), &b)) return truncated();
        CADENCE_RETURN_IF_ERROR(Push(Str(b, op == 0x8d ? Value::Kind::kString : Value::Kind::kBytes)));
        break;
      }
      case 't': {  // TUPLE
        auto items = PopMark();
        if (!items.ok()) return items.status();
        auto v = Make(Value::Kind::kTuple);
        v->items = std::move(items).value();
        CADENCE_RETURN_IF_ERROR(Push(std::move(v)));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84;
        auto v = Make(Value::Kind::kTuple);
        v->items.resize(n);
        for (size_t k = n; k-- > 0;) {
          auto x = Pop();
          if (!x.ok()) return x.status();
          v->items[k] = std::move(x).value();
        }
        CADENCE_RETURN_IF_ERROR(Push(std::move(v)));
        break;
      }
      case 'l':
      case 'd': {  // LIST, DICT from the items above MARK
        auto items = PopMark();
        if (!items.ok()) return items.status();
        if (op == 'l') {
          auto v = Make(Value::Kind::kList);
          v->items = std::move(items).value();
          CADENCE_RETURN_IF_ERROR(Push(std::move(v)));
        } else {
          CADENCE_RETURN_IF_ERROR(Push(Make(Value::Kind::kDict)));
          CADENCE_RETURN_IF_ERROR(SetItems(std::move(items).value()));
        }
        break;
      }
      case 'a': {  // APPEND
        auto x = Pop();
        if (!x.ok()) return x.status();
        std::vector<ValuePtr> one{std::move(x).value()};
        CADENCE_RETURN_IF_ERROR(Appends(std::move(one)));
        break;
      }
      case 'e': {  // APPENDS
        auto items = PopMark();
        if (!items.ok()) return items.status();
        CADENCE_RETURN_IF_ERROR(Appends(std::move(items).value()));
        break;
      }
      case 's': {  // SETITEM
        auto value = Pop();
        if (!value.ok()) return value.status();
        auto key = Pop();
        if (!key.ok()) return key.status();
        std::vector<ValuePtr> kv{std::move(key).value(), std::move(value).value()};
        CADENCE_RETURN_IF_ERROR(SetItems(std::move(kv)));
        break;
      }
      case 'u': {  // SETITEMS
        auto items = PopMark();
        if (!items.ok()) return items.status();
        CADENCE_RETURN_IF_ERROR(SetItems(std::move(items).value()));
        break;
      }
      case '0': {  // POP
        auto x = Pop();
        if (!x.ok()) return x.status();
        break;
      }
      case '1': {  // POP_MARK
        auto items = PopMark();
        if (!items.ok()) return items.status();
        break;
      }
      case '2': {  // DUP
        if (stack_.empty()) return Error("DUP on an empty stack");
        CADENCE_RETURN_IF_ERROR(Push(stack_.back()));
        break;
      }
      case 'q': {  // BINPUT
        uint8_t k;
        if (!TakeLe(&k)) return truncated();
        CADENCE_RETURN_IF_ERROR(Memo(k));
        break;
      }
      case 'r': {  // LONG_BINPUT
        uint32_t k;
        if (!TakeLe(&k)) return truncated();
        CADENCE_RETURN_IF_ERROR(Memo(k));
        break;
      }
      case 0x94:  // MEMOIZE
        CADENCE_RETURN_IF_ERROR(Memo(memo_.size()));
        break;
      case 'h': {  // BINGET
        uint8_t k;
        if (!TakeLe(&k)) return truncated();
        CADENCE_RETURN_IF_ERROR(Get(k));
        break;
      }
      case 'j': {  // LONG_BINGET
        uint32_t k;
        if (!TakeLe(&k)) return truncated();
        CADENCE_RETURN_IF_ERROR(Get(k));
        break;
      }
      case 'c': {  // GLOBAL module\nname\n
        std::string module, name;
        if (!TakeLine(&module) || !TakeLine(&name)) return truncated();
        CADENCE_RETURN_IF_ERROR(Global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = Pop();
        if (!name.ok()) return name.status();
        auto module = Pop();
        if (!module.ok()) return module.status();
        if (module.value()->kind != Value::Kind::kString || name.value()->kind != Value::Kind::kString)
          return Error("STACK_GLOBAL needs two strings");
        CADENCE_RETURN_IF_ERROR(Global(module.value()->s, name.value()->s));
        break;
      }
      case 'R':
      case 0x81: {  // REDUCE callable args; NEWOBJ cls args
        auto args = Pop();
        if (!args.ok()) return args.status();
        auto callee = Pop();
        if (!callee.ok()) return callee.status();
        CADENCE_RETURN_IF_ERROR(Call(std::move(callee).value(), std::move(args).value()));
        break;
      }
      case 'b': {  // BUILD: obj.__setstate__(state), kept as data on dicts and calls only
        auto state = Pop();
        if (!state.ok()) return state.status();
        if (stack_.empty()) return Error("BUILD on an empty stack");
        ValuePtr& obj = stack_.back();
        if (obj->kind != Value::Kind::kDict && obj->kind != Value::Kind::kCall)
          return Error("BUILD on something that is neither a dict nor an allowed object");
        obj->state = std::move(state).value();
        break;
      }
      case 'Q': {  // BINPERSID
        auto id = Pop();
        if (!id.ok()) return id.status();
        auto v = Make(Value::Kind::kPersistentId);
        v->items = {std::move(id).value()};
        CADENCE_RETURN_IF_ERROR(Push(std::move(v)));
        break;
      }
      default: {
        static const char kHex[] = "0123456789abcdef";
        std::string hex = "0x";
        hex += kHex[op >> 4];
        hex += kHex[op & 15];
        return Error("opcode " + hex + " is not read (a state dict does not use it)");
      }
    }
  }
}

}  // namespace

Result<Document> Unpickle(std::string_view data, const std::vector<std::string>& allowed_globals,
                          const std::string& label) {
  Reader reader(data, allowed_globals, label);
  return reader.Run();
}

}  // namespace cadence::engine::pickle
