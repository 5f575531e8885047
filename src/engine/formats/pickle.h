// A restricted unpickler: reads Python pickle streams (protocols 2 to 5) into a tree of plain
// values, executing nothing.
//
// Only the data opcodes are interpreted (numbers, strings, bytes, None, booleans, tuples, lists,
// dicts, marks, memo puts/gets, persistent ids, frames). Object construction is limited to an
// allow-list the caller passes: a GLOBAL/STACK_GLOBAL naming anything else is refused with an
// error naming it, so `os.system`, `builtins.eval`, `subprocess.Popen` and friends never get as
// far as being called — and nothing is ever called anyway: an allowed global becomes a Value of
// kind kGlobal, and REDUCE / NEWOBJ on it become a kCall value (callee + arguments) that the caller
// interprets itself (torch_checkpoint.cc turns `torch._utils._rebuild_tensor_v2(...)` calls into
// tensors). BUILD on a dict or a call is accepted and its state kept; on anything else it is refused.
//
// Bounds: the stream is read with every length checked against the bytes left; the stack, the
// memo and nesting are bounded (kMaxStack, kMaxMemo), so a hostile file costs at most its own size.
// Thread-compatible: one Unpickle call per stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace cadence::engine::pickle {

struct Value;
// Values point at each other (a memo get shares a value; a hostile stream can make a list contain
// itself), so they are owned by their Document, not by each other.
using ValuePtr = Value*;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kDict, kGlobal, kCall, kPersistentId };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                                  // kString, kBytes; kGlobal: "module.name"
  std::vector<ValuePtr> items;                    // kTuple, kList; kCall: [callee, args tuple]; kPersistentId: [id]
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // kDict (in insertion order)
  ValuePtr state;                                 // BUILD state of a kDict or kCall, if any

  bool IsString(std::string_view v) const { return kind == Kind::kString && s == v; }
};

// An unpickled stream: `root` and every value it reaches live in `values`.
struct Document {
  ValuePtr root = nullptr;
  std::vector<std::unique_ptr<Value>> values;
};

constexpr size_t kMaxStack = 1 << 20;
constexpr size_t kMaxMemo = 1 << 22;

// Unpickles `data`. `allowed_globals` lists "module.name" strings a GLOBAL may name. `label` names
// the stream in errors ("flow.pt: data.pkl").
Result<Document> Unpickle(std::string_view data, const std::vector<std::string>& allowed_globals,
                          const std::string& label);

}  // namespace cadence::engine::pickle
