#include "engine/formats/safetensors.h"

#include <cstring>

#include <nlohmann/json.hpp>

namespace cadence::engine {

Result<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  auto f = std::unique_ptr<SafetensorsFile>(new SafetensorsFile());
  f->file_ = std::move(mapped).value();
  const size_t size = f->file_.size();
  if (size < 8) return Status::DataLoss(path + ": header length: file shorter than 8 bytes; not a safetensors file");
  uint64_t header_len;
  std::memcpy(&header_len, f->file_.data(), 8);
  if (header_len > size - 8 || header_len > (100u << 20))
    return Status::DataLoss(path + ": header length " + std::to_string(header_len) +
                            " exceeds the file; truncated or not a safetensors file");
  const char* header = reinterpret_cast<const char*>(f->file_.data() + 8);
  nlohmann::json j = nlohmann::json::parse(header, header + header_len, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::DataLoss(path + ": header: not a JSON object");
  const uint8_t* data = f->file_.data() + 8 + header_len;
  const size_t data_size = size - 8 - header_len;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto& t = it.value();
    const std::string where = path + ": tensor " + it.key();
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets"))
      return Status::DataLoss(where + ": needs dtype, shape and data_offsets");
    SafetensorsTensor tensor;
    tensor.name = it.key();
    if (!t["dtype"].is_string()) return Status::DataLoss(where + ".dtype: not a string");
    const std::string dtype = t["dtype"];
    if (dtype == "F32") tensor.type = DType::kF32;
    else if (dtype == "F16") tensor.type = DType::kF16;
    else if (dtype == "BF16") tensor.type = DType::kBF16;
    else return Status::Unimplemented(where + ".dtype: " + dtype + " is not supported (F32, F16, BF16 are)");
    if (!t["shape"].is_array()) return Status::DataLoss(where + ".shape: not an array");
    int64_t elems = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return Status::DataLoss(where + ".shape: bad dimension");
      tensor.shape.push_back(d.get<int64_t>());
      if (__builtin_mul_overflow(elems, tensor.shape.back(), &elems) || elems > (int64_t{1} << 50))
        return Status::DataLoss(where + ".shape: more elements than any file can hold");
    }
    const auto& off = t["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      return Status::DataLoss(where + ".data_offsets: expected [begin, end]");
    const uint64_t begin = off[0], end = off[1];
    if (begin > end || end > data_size)
      return Status::DataLoss(where + ".data_offsets: [" + std::to_string(begin) + ", " + std::to_string(end) +
                              "] lies outside the data (" + std::to_string(data_size) + " bytes); truncated file");
    tensor.bytes = end - begin;
    if (tensor.bytes != static_cast<size_t>(elems) * BlockBytes(tensor.type))
      return Status::DataLoss(where + ": " + std::to_string(tensor.bytes) + " bytes do not match shape and dtype");
    tensor.data = data + begin;
    const size_t align = tensor.type == DType::kF32 ? 4 : 2;
    if (reinterpret_cast<uintptr_t>(tensor.data) % align != 0 && tensor.bytes > 0) {
      auto copy = std::make_unique<uint64_t[]>((tensor.bytes + 7) / 8);
      std::memcpy(copy.get(), tensor.data, tensor.bytes);
      tensor.data = reinterpret_cast<const uint8_t*>(copy.get());
      f->realigned_.push_back(std::move(copy));
    }
    f->tensors_[tensor.name] = std::move(tensor);
  }
  return f;
}

const SafetensorsTensor* SafetensorsFile::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace cadence::engine
