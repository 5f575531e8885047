// GgufFile: a memory-mapped GGUF (v2/v3) file — metadata key/values, tensor infos, tensor data.
//
// Open() validates everything up front (magic, version, every key/value type, string and array
// bounds, tensor types, shapes, offsets, alignment, data within the file), so later accessors
// never read out of bounds. Errors name the file and the field at fault. Immutable after Open();
// safe to read from many threads. Tensor data pointers live as long as the GgufFile.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "engine/dtype.h"
#include "engine/formats/mapped_file.h"

namespace cadence::engine {

// One metadata value. Integers of every width are widened to int64/uint64 (the original GGUF
// type id is kept in `type`); arrays hold their elements of one type.
struct GgufValue {
  enum Type : uint32_t {
    kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
    kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
  };
  Type type = kU8;
  Type array_type = kU8;  // element type when type == kArray
  int64_t i = 0;          // signed and unsigned integers, bool
  double f = 0;           // f32 / f64
  std::string s;
  std::vector<std::string> strings;  // string arrays
  std::vector<int64_t> ints;         // integer / bool arrays
  std::vector<double> floats;        // float arrays
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the contiguous (row) dimension
  DType type = DType::kF32;
  uint64_t offset = 0;         // from the start of the data section
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  int64_t elements() const;
};

class GgufFile {
 public:
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }

  const GgufValue* Find(const std::string& key) const;
  const GgufTensor* FindTensor(const std::string& name) const;
  // Drops the pages of a tensor's bytes from the resident set (MappedFile::Release).
  void Release(const uint8_t* data, size_t bytes) const { file_.Release(data, bytes); }
  // Typed getters: NotFound / InvalidArgument naming the file and key.
  Result<std::string> GetString(const std::string& key) const;
  Result<int64_t> GetInt(const std::string& key) const;
  Result<double> GetFloat(const std::string& key) const;  // accepts integer values too
  int64_t GetIntOr(const std::string& key, int64_t fallback) const;
  double GetFloatOr(const std::string& key, double fallback) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace cadence::engine
