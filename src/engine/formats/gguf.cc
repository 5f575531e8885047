#include "engine/formats/gguf.h"

#include <cstring>

namespace cadence::engine {

int64_t GgufTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

constexpr uint64_t kMaxStringBytes = 1ull << 30;
constexpr uint64_t kMaxArrayElems = 1ull << 32;

// Bounds-checked little-endian reader over the mapped bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path) : data_(data), size_(size), path_(path) {}

  Status Error(const std::string& field, const std::string& what) const {
    return Status::DataLoss(path_ + ": " + field + ": " + what + " (at byte " + std::to_string(pos_) +
                            "); the file is truncated or not GGUF — re-download it");
  }
  template <typename T>
  Status Read(T* out, const std::string& field) {
    if (size_ - pos_ < sizeof(T)) return Error(field, "unexpected end of file");
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }
  Status ReadString(std::string* out, const std::string& field) {
    uint64_t n = 0;
    CADENCE_RETURN_IF_ERROR(Read(&n, field + " (string length)"));
    if (n > kMaxStringBytes || n > size_ - pos_) return Error(field, "string length " + std::to_string(n) + " out of bounds");
    out->assign(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return Status::Ok();
  }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

bool IsIntType(uint32_t t) {
  return t == GgufValue::kU8 || t == GgufValue::kI8 || t == GgufValue::kU16 || t == GgufValue::kI16 ||
         t == GgufValue::kU32 || t == GgufValue::kI32 || t == GgufValue::kU64 || t == GgufValue::kI64 ||
         t == GgufValue::kBool;
}

Status ReadScalar(Reader& r, uint32_t type, const std::string& field, int64_t* i, double* f, std::string* s) {
  switch (type) {
    case GgufValue::kU8: { uint8_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kI8: { int8_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kU16: { uint16_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kI16: { int16_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kU32: { uint32_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kI32: { int32_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kU64: { uint64_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = static_cast<int64_t>(v); return Status::Ok(); }
    case GgufValue::kI64: { int64_t v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *i = v; return Status::Ok(); }
    case GgufValue::kBool: {
      uint8_t v = 0;
      CADENCE_RETURN_IF_ERROR(r.Read(&v, field));
      if (v > 1) return r.Error(field, "bool value " + std::to_string(v) + " is neither 0 nor 1");
      *i = v;
      return Status::Ok();
    }
    case GgufValue::kF32: { float v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *f = v; return Status::Ok(); }
    case GgufValue::kF64: { double v = 0; CADENCE_RETURN_IF_ERROR(r.Read(&v, field)); *f = v; return Status::Ok(); }
    case GgufValue::kString: return r.ReadString(s, field);
    default: return r.Error(field, "unknown value type " + std::to_string(type));
  }
}

}  // namespace

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  auto g = std::unique_ptr<GgufFile>(new GgufFile());
  g->file_ = std::move(mapped).value();
  Reader r(g->file_.data(), g->file_.size(), g->file_.path());

  uint32_t magic = 0;
  CADENCE_RETURN_IF_ERROR(r.Read(&magic, "header.magic"));
  if (std::memcmp(&magic, "GGUF", 4) != 0)
    return Status::InvalidArgument(path + ": header.magic: not a GGUF file (the first 4 bytes are not 'GGUF')");
  CADENCE_RETURN_IF_ERROR(r.Read(&g->version_, "header.version"));
  if (g->version_ != 2 && g->version_ != 3)
    return Status::Unimplemented(path + ": header.version: GGUF version " + std::to_string(g->version_) +
                                 " is not supported (2 or 3 are); convert the model with a current llama.cpp");
  uint64_t n_tensors = 0, n_kv = 0;
  CADENCE_RETURN_IF_ERROR(r.Read(&n_tensors, "header.tensor_count"));
  CADENCE_RETURN_IF_ERROR(r.Read(&n_kv, "header.metadata_kv_count"));
  if (n_tensors > (1u << 20)) return r.Error("header.tensor_count", "implausible count " + std::to_string(n_tensors));
  if (n_kv > (1u << 20)) return r.Error("header.metadata_kv_count", "implausible count " + std::to_string(n_kv));

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    CADENCE_RETURN_IF_ERROR(r.ReadString(&key, "metadata[" + std::to_string(k) + "].key"));
    GgufValue v;
    uint32_t type = 0;
    CADENCE_RETURN_IF_ERROR(r.Read(&type, "metadata." + key + " (type)"));
    if (type > GgufValue::kF64) return r.Error("metadata." + key, "unknown value type " + std::to_string(type));
    v.type = static_cast<GgufValue::Type>(type);
    if (type == GgufValue::kArray) {
      uint32_t elem_type = 0;
      uint64_t n = 0;
      CADENCE_RETURN_IF_ERROR(r.Read(&elem_type, "metadata." + key + " (array type)"));
      CADENCE_RETURN_IF_ERROR(r.Read(&n, "metadata." + key + " (array length)"));
      if (elem_type > GgufValue::kF64 || elem_type == GgufValue::kArray)
        return r.Error("metadata." + key, "unsupported array element type " + std::to_string(elem_type));
      if (n > kMaxArrayElems) return r.Error("metadata." + key, "array length " + std::to_string(n) + " out of bounds");
      v.array_type = static_cast<GgufValue::Type>(elem_type);
      for (uint64_t e = 0; e < n; ++e) {
        int64_t iv = 0;
        double fv = 0;
        std::string sv;
        CADENCE_RETURN_IF_ERROR(ReadScalar(r, elem_type, "metadata." + key + "[" + std::to_string(e) + "]", &iv, &fv, &sv));
        if (elem_type == GgufValue::kString) v.strings.push_back(std::move(sv));
        else if (IsIntType(elem_type)) v.ints.push_back(iv);
        else v.floats.push_back(fv);
      }
    } else {
      CADENCE_RETURN_IF_ERROR(ReadScalar(r, type, "metadata." + key, &v.i, &v.f, &v.s));
    }
    g->kv_[key] = std::move(v);
  }

  if (const GgufValue* a = g->Find("general.alignment")) {
    if (!IsIntType(a->type) || a->i <= 0 || (a->i & (a->i - 1)) != 0)
      return Status::InvalidArgument(path + ": metadata.general.alignment: must be a power of two integer");
    g->alignment_ = static_cast<uint64_t>(a->i);
  }

  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensor info;
    const std::string field = "tensor_info[" + std::to_string(t) + "]";
    CADENCE_RETURN_IF_ERROR(r.ReadString(&info.name, field + ".name"));
    uint32_t n_dims = 0;
    CADENCE_RETURN_IF_ERROR(r.Read(&n_dims, field + ".n_dims (" + info.name + ")"));
    if (n_dims == 0 || n_dims > 4) return r.Error("tensor " + info.name + ".n_dims", "must be 1..4, is " + std::to_string(n_dims));
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      int64_t ne = 0;
      CADENCE_RETURN_IF_ERROR(r.Read(&ne, "tensor " + info.name + ".shape"));
      if (ne <= 0 || ne > (int64_t{1} << 40)) return r.Error("tensor " + info.name + ".shape", "dimension " + std::to_string(ne) + " out of range");
      // The element count must fit, with room for its bytes (GgufTensor::elements() relies on it).
      if (__builtin_mul_overflow(elements, ne, &elements) || elements > (int64_t{1} << 50))
        return r.Error("tensor " + info.name + ".shape", "more elements than any file can hold");
      info.shape.push_back(ne);
    }
    uint32_t type = 0;
    CADENCE_RETURN_IF_ERROR(r.Read(&type, "tensor " + info.name + ".type"));
    if (!IsSupportedDType(type))
      return Status::Unimplemented(path + ": tensor " + info.name + ".type: ggml type " + std::to_string(type) +
                                   " is not supported (F32, F16, BF16, Q8_0, Q5_0, Q5_1, Q4_0, Q4_K, Q6_K are); requantize the model");
    info.type = static_cast<DType>(type);
    CADENCE_RETURN_IF_ERROR(r.Read(&info.offset, "tensor " + info.name + ".offset"));
    if (info.shape[0] % BlockElems(info.type) != 0)
      return Status::InvalidArgument(path + ": tensor " + info.name + ".shape: row length " + std::to_string(info.shape[0]) +
                                     " is not a multiple of the " + std::string(DTypeName(info.type)) + " block size");
    if (info.offset % g->alignment_ != 0)
      return Status::InvalidArgument(path + ": tensor " + info.name + ".offset: " + std::to_string(info.offset) +
                                     " is not aligned to " + std::to_string(g->alignment_));
    info.bytes = RowBytes(info.type, info.shape[0]) * static_cast<size_t>(info.elements() / info.shape[0]);
    if (g->tensor_index_.count(info.name)) return Status::InvalidArgument(path + ": tensor " + info.name + ": duplicate name");
    g->tensor_index_[info.name] = g->tensors_.size();
    g->tensors_.push_back(std::move(info));
  }

  const uint64_t data_start = (r.pos() + g->alignment_ - 1) / g->alignment_ * g->alignment_;
  for (GgufTensor& info : g->tensors_) {
    if (data_start > g->file_.size() || info.offset > g->file_.size() - data_start ||
        info.bytes > g->file_.size() - data_start - info.offset)
      return Status::DataLoss(path + ": tensor " + info.name + ": data (offset " + std::to_string(info.offset) + ", " +
                              std::to_string(info.bytes) + " bytes) lies beyond the end of the file (" +
                              std::to_string(g->file_.size()) + " bytes); the file is truncated — re-download it");
    info.data = g->file_.data() + data_start + info.offset;
  }
  return g;
}

const GgufValue* GgufFile::Find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensor* GgufFile::FindTensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::string> GgufFile::GetString(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return Status::NotFound(path() + ": metadata." + key + ": missing");
  if (v->type != GgufValue::kString) return Status::InvalidArgument(path() + ": metadata." + key + ": expected a string");
  return v->s;
}

Result<int64_t> GgufFile::GetInt(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return Status::NotFound(path() + ": metadata." + key + ": missing");
  if (!IsIntType(v->type)) return Status::InvalidArgument(path() + ": metadata." + key + ": expected an integer");
  return v->i;
}

Result<double> GgufFile::GetFloat(const std::string& key) const {
  const GgufValue* v = Find(key);
  if (!v) return Status::NotFound(path() + ": metadata." + key + ": missing");
  if (v->type == GgufValue::kF32 || v->type == GgufValue::kF64) return v->f;
  if (IsIntType(v->type)) return static_cast<double>(v->i);
  return Status::InvalidArgument(path() + ": metadata." + key + ": expected a number");
}

int64_t GgufFile::GetIntOr(const std::string& key, int64_t fallback) const {
  auto r = GetInt(key);
  return r.ok() ? *r : fallback;
}

double GgufFile::GetFloatOr(const std::string& key, double fallback) const {
  auto r = GetFloat(key);
  return r.ok() ? *r : fallback;
}

}  // namespace cadence::engine
