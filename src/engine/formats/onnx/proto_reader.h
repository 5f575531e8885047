// Protocol-buffers wire format, read only: the subset ONNX files need (varint, 64-bit, length-
// delimited and 32-bit fields, packed repeated scalars). No schema: the caller knows the field
// numbers. A ProtoReader views bytes it does not own; the bytes must outlive it. Not thread-safe
// per reader; readers over the same bytes may run on different threads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace cadence::engine::onnx {

enum class WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class ProtoReader {
 public:
  // `what` names the message in error messages ("ModelProto", "NodeProto 'Conv_3'").
  ProtoReader(std::span<const uint8_t> bytes, std::string what)
      : bytes_(bytes), what_(std::move(what)) {}

  bool done() const { return pos_ >= bytes_.size(); }
  // Reads the next field's key.
  Status Next(uint32_t* field, WireType* wire);
  Status ReadVarint(uint64_t* value);
  Status ReadFixed32(uint32_t* value);
  Status ReadFixed64(uint64_t* value);
  Status ReadBytes(std::span<const uint8_t>* value);
  Status ReadString(std::string* value);
  Status ReadFloat(float* value);
  // Skips the value of a field of the given wire type (unknown fields).
  Status Skip(WireType wire);

  // Repeated int64 / float fields arrive packed (length-delimited) or one value per key; these
  // append either form according to `wire`.
  Status ReadRepeatedInt64(WireType wire, std::vector<int64_t>* out);
  Status ReadRepeatedFloat(WireType wire, std::vector<float>* out);

  size_t position() const { return pos_; }
  const std::string& what() const { return what_; }

 private:
  Status Error(const std::string& problem) const;

  std::span<const uint8_t> bytes_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace cadence::engine::onnx
