#include "engine/formats/onnx/proto_reader.h"

#include <cstring>

namespace cadence::engine::onnx {

Status ProtoReader::Error(const std::string& problem) const {
  return Status::DataLoss(what_ + ": " + problem + " at byte " + std::to_string(pos_) + " of " +
                          std::to_string(bytes_.size()) + " (the file is truncated or not ONNX)");
}

Status ProtoReader::ReadVarint(uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos_ >= bytes_.size()) return Error("truncated varint");
    const uint8_t byte = bytes_[pos_++];
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return Status::Ok();
    }
  }
  return Error("varint longer than 10 bytes");
}

Status ProtoReader::Next(uint32_t* field, WireType* wire) {
  uint64_t key = 0;
  CADENCE_RETURN_IF_ERROR(ReadVarint(&key));
  const uint32_t type = static_cast<uint32_t>(key & 7);
  if (type != 0 && type != 1 && type != 2 && type != 5) {
    return Error("unsupported wire type " + std::to_string(type));
  }
  *field = static_cast<uint32_t>(key >> 3);
  if (*field == 0) return Error("field number 0");
  *wire = static_cast<WireType>(type);
  return Status::Ok();
}

Status ProtoReader::ReadFixed32(uint32_t* value) {
  if (bytes_.size() - pos_ < 4) return Error("truncated 32-bit field");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(bytes_[pos_ + i]) << (8 * i);
  pos_ += 4;
  *value = v;
  return Status::Ok();
}

Status ProtoReader::ReadFixed64(uint64_t* value) {
  if (bytes_.size() - pos_ < 8) return Error("truncated 64-bit field");
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
  pos_ += 8;
  *value = v;
  return Status::Ok();
}

Status ProtoReader::ReadBytes(std::span<const uint8_t>* value) {
  uint64_t length = 0;
  CADENCE_RETURN_IF_ERROR(ReadVarint(&length));
  if (length > bytes_.size() - pos_) {
    return Error("length " + std::to_string(length) + " runs past the end");
  }
  *value = bytes_.subspan(pos_, length);
  pos_ += length;
  return Status::Ok();
}

Status ProtoReader::ReadString(std::string* value) {
  std::span<const uint8_t> bytes;
  CADENCE_RETURN_IF_ERROR(ReadBytes(&bytes));
  value->assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return Status::Ok();
}

Status ProtoReader::ReadFloat(float* value) {
  uint32_t bits = 0;
  CADENCE_RETURN_IF_ERROR(ReadFixed32(&bits));
  std::memcpy(value, &bits, sizeof(float));
  return Status::Ok();
}

Status ProtoReader::Skip(WireType wire) {
  switch (wire) {
    case WireType::kVarint: {
      uint64_t ignored;
      return ReadVarint(&ignored);
    }
    case WireType::kFixed64: {
      uint64_t ignored;
      return ReadFixed64(&ignored);
    }
    case WireType::kFixed32: {
      uint32_t ignored;
      return ReadFixed32(&ignored);
    }
    case WireType::kLengthDelimited: {
      std::span<const uint8_t> ignored;
      return ReadBytes(&ignored);
    }
  }
  return Error("unknown wire type");
}

Status ProtoReader::ReadRepeatedInt64(WireType wire, std::vector<int64_t>* out) {
  if (wire == WireType::kVarint) {
    uint64_t v = 0;
    CADENCE_RETURN_IF_ERROR(ReadVarint(&v));
    out->push_back(static_cast<int64_t>(v));
    return Status::Ok();
  }
  if (wire != WireType::kLengthDelimited) return Error("repeated int64 with a fixed-width wire type");
  std::span<const uint8_t> packed;
  CADENCE_RETURN_IF_ERROR(ReadBytes(&packed));
  ProtoReader inner(packed, what_ + " (packed int64)");
  while (!inner.done()) {
    uint64_t v = 0;
    CADENCE_RETURN_IF_ERROR(inner.ReadVarint(&v));
    out->push_back(static_cast<int64_t>(v));
  }
  return Status::Ok();
}

Status ProtoReader::ReadRepeatedFloat(WireType wire, std::vector<float>* out) {
  if (wire == WireType::kFixed32) {
    float v = 0;
    CADENCE_RETURN_IF_ERROR(ReadFloat(&v));
    out->push_back(v);
    return Status::Ok();
  }
  if (wire != WireType::kLengthDelimited) return Error("repeated float with a non-32-bit wire type");
  std::span<const uint8_t> packed;
  CADENCE_RETURN_IF_ERROR(ReadBytes(&packed));
  if (packed.size() % 4 != 0) return Error("packed floats not a multiple of 4 bytes");
  if (packed.empty()) return Status::Ok();  // memcpy from an empty span's null data() is UB
  const size_t first = out->size();
  out->resize(first + packed.size() / 4);
  std::memcpy(out->data() + first, packed.data(), packed.size());  // little-endian host (x86-64)
  return Status::Ok();
}

}  // namespace cadence::engine::onnx
