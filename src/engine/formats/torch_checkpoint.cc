#include "engine/formats/torch_checkpoint.h"

#include <zip.h>

#include <cstring>
#include <unordered_map>

#include "engine/formats/pickle.h"

namespace cadence::engine {
namespace {

using pickle::Value;
using pickle::ValuePtr;

// What torch.save writes for a state dict (torch 1.6 to 2.x), and nothing else.
const std::vector<std::string> kAllowedGlobals = {
    "collections.OrderedDict",   "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch.FloatStorage",        "torch.HalfStorage",               "torch.BFloat16Storage",
    "torch.DoubleStorage",       "torch.LongStorage",               "torch.IntStorage",
    "torch.ShortStorage",        "torch.CharStorage",               "torch.ByteStorage",
    "torch.BoolStorage",
};

constexpr size_t kMaxPickleBytes = size_t{1} << 30;

struct StorageType {
  const char* global;
  size_t elem_bytes;
  bool is_float;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", 4, true}, {"torch.HalfStorage", 2, true}, {"torch.BFloat16Storage", 2, true},
    {"torch.DoubleStorage", 8, true}, {"torch.LongStorage", 8, false}, {"torch.IntStorage", 4, false},
    {"torch.ShortStorage", 2, false}, {"torch.CharStorage", 1, false}, {"torch.ByteStorage", 1, false},
    {"torch.BoolStorage", 1, false},
};

const StorageType* FindStorageType(const std::string& global) {
  for (const auto& t : kStorageTypes)
    if (global == t.global) return &t;
  return nullptr;
}

// An open zip archive (libzip), closed on destruction.
class Zip {
 public:
  ~Zip() {
    if (zip_) zip_discard(zip_);
  }
  Status OpenPath(const std::string& path) {
    int err = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!zip_) return OpenError(path, err);
    return Status::Ok();
  }
  Status OpenBuffer(const std::string& bytes, const std::string& label) {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
    if (!src) return Status::Internal(label + ": " + zip_error_strerror(&error));
    zip_ = zip_open_from_source(src, ZIP_RDONLY, &error);
    if (!zip_) {
      zip_source_free(src);
      const int code = zip_error_code_zip(&error);
      zip_error_fini(&error);
      return OpenError(label, code);
    }
    zip_error_fini(&error);
    return Status::Ok();
  }
  zip_t* get() const { return zip_; }

  // The whole entry `index`, refusing more than `limit` bytes.
  Status Read(zip_uint64_t index, const std::string& where, size_t limit, std::vector<uint8_t>* out) const {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      return Status::DataLoss(where + ": cannot stat the zip entry");
    if (st.size > limit)
      return Status::DataLoss(where + ": " + std::to_string(st.size) + " bytes, more than the " +
                              std::to_string(limit) + " it may hold");
    zip_file_t* f = zip_fopen_index(zip_, index, 0);
    if (!f) return Status::DataLoss(where + ": " + zip_strerror(zip_));
    out->resize(st.size);
    const zip_int64_t got = st.size ? zip_fread(f, out->data(), st.size) : 0;
    zip_fclose(f);
    if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
      return Status::DataLoss(where + ": read " + std::to_string(got) + " of " + std::to_string(st.size) +
                              " bytes; truncated or corrupt zip entry");
    return Status::Ok();
  }

 private:
  static Status OpenError(const std::string& what, int code) {
    if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN)
      return Status::NotFound(what + ": cannot open (missing file?)");
    if (code == ZIP_ER_NOZIP)
      return Status::DataLoss(what + ": not a zip archive; PyTorch checkpoints saved before torch 1.6 "
                                     "(legacy format) are not read — re-save with torch.save in a current torch");
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    Status s = Status::DataLoss(what + ": " + zip_error_strerror(&e));
    zip_error_fini(&e);
    return s;
  }
  zip_t* zip_ = nullptr;
};

bool ToInt(const ValuePtr& v, int64_t* out) {
  if (!v || v->kind != Value::Kind::kInt) return false;
  *out = v->i;
  return true;
}

bool ToInts(const ValuePtr& v, std::vector<int64_t>* out) {
  if (!v || v->kind != Value::Kind::kTuple) return false;
  out->clear();
  for (const auto& x : v->items) {
    int64_t i;
    if (!ToInt(x, &i) || i < 0) return false;
    out->push_back(i);
  }
  return true;
}

bool IsCallOf(const ValuePtr& v, const char* global) {
  return v && v->kind == Value::Kind::kCall && v->items.size() == 2 && v->items[0]->s == global;
}

// The dict a state dict is: an OrderedDict() call with items, or a plain dict.
const std::vector<std::pair<ValuePtr, ValuePtr>>* DictEntries(const ValuePtr& v) {
  if (!v) return nullptr;
  if (v->kind == Value::Kind::kDict) return &v->entries;
  if (IsCallOf(v, "collections.OrderedDict")) return &v->entries;
  return nullptr;
}

bool IsTensor(const ValuePtr& v) {
  return IsCallOf(v, "torch._utils._rebuild_tensor_v2") || IsCallOf(v, "torch._utils._rebuild_parameter");
}

}  // namespace

const TorchTensor* TorchCheckpoint::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

Result<std::vector<float>> TorchCheckpoint::Floats(const std::string& name, const std::vector<int64_t>& shape) const {
  const TorchTensor* t = Find(name);
  if (!t) return Status::NotFound(path_ + ": tensor " + name + " is missing (wrong checkpoint for this model?)");
  auto dims = [](const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t k = 0; k < s.size(); ++k) out += (k ? ", " : "") + std::to_string(s[k]);
    return out + "]";
  };
  if (!shape.empty() && shape != t->shape)
    return Status::InvalidArgument(path_ + ": tensor " + name + " has shape " + dims(t->shape) + ", expected " +
                                   dims(shape) + " (the config does not match the checkpoint)");
  const int64_t n = t->elems();
  std::vector<float> out(static_cast<size_t>(n));
  if (n == 0) return out;  // an empty tensor may have no storage bytes at all
  if (t->type == DType::kF32) {
    std::memcpy(out.data(), t->data, out.size() * 4);
  } else {
    for (int64_t k = 0; k < n; ++k) {
      uint16_t h;
      std::memcpy(&h, t->data + 2 * k, 2);
      out[k] = t->type == DType::kF16 ? Fp16ToFp32(h) : Bf16ToFp32(h);
    }
  }
  return out;
}

namespace {

// Builds the checkpoint's tensors from the unpickled tree, reading storage records on demand.
class Assembler {
 public:
  Assembler(const Zip& zip, std::string prefix, const std::string& label,
            std::unordered_map<std::string, zip_uint64_t> entries, std::map<std::string, TorchTensor>* tensors,
            std::vector<std::vector<uint8_t>>* buffers)
      : zip_(zip), prefix_(std::move(prefix)), label_(label), entries_(std::move(entries)), tensors_(tensors),
        buffers_(buffers) {}

  Status Add(const std::string& name, const ValuePtr& call) {
    const std::string where = label_ + ": tensor " + name;
    ValuePtr v = call;
    if (IsCallOf(v, "torch._utils._rebuild_parameter")) {
      const auto& args = v->items[1]->items;
      if (args.empty() || !IsCallOf(args[0], "torch._utils._rebuild_tensor_v2"))
        return Status::DataLoss(where + ": _rebuild_parameter without a tensor");
      v = args[0];
    }
    const auto& args = v->items[1]->items;
    if (args.size() < 4) return Status::DataLoss(where + ": _rebuild_tensor_v2 needs (storage, offset, size, stride)");
    // The storage: persistent id ('storage', torch.XStorage, key, location, numel).
    const ValuePtr& pid = args[0];
    if (!pid || pid->kind != Value::Kind::kPersistentId || pid->items.empty() ||
        pid->items[0]->kind != Value::Kind::kTuple || pid->items[0]->items.size() < 5)
      return Status::DataLoss(where + ": storage is not a ('storage', type, key, location, numel) persistent id");
    const auto& sid = pid->items[0]->items;
    if (!sid[0]->IsString("storage") || sid[1]->kind != Value::Kind::kGlobal || sid[2]->kind != Value::Kind::kString)
      return Status::DataLoss(where + ": malformed storage id");
    const StorageType* st = FindStorageType(sid[1]->s);
    if (!st) return Status::DataLoss(where + ": unknown storage type " + sid[1]->s);
    int64_t numel = 0, offset = 0;
    std::vector<int64_t> size, stride;
    if (!ToInt(sid[4], &numel) || numel < 0 || !ToInt(args[1], &offset) || offset < 0 || !ToInts(args[2], &size) ||
        !ToInts(args[3], &stride) || size.size() != stride.size())
      return Status::DataLoss(where + ": malformed offset, size or stride");
    if (!st->is_float) return Status::Ok();  // integer buffers (BatchNorm's num_batches_tracked): not weights
    auto storage = Storage(sid[2]->s, numel * static_cast<int64_t>(st->elem_bytes), where);
    if (!storage.ok()) return storage.status();
    const uint8_t* base = storage.value();

    // The highest element the view touches must lie inside the storage.
    int64_t elems = 1, last = offset;
    for (size_t d = 0; d < size.size(); ++d) {
      if (__builtin_mul_overflow(elems, size[d], &elems) || elems > (int64_t{1} << 40))
        return Status::DataLoss(where + ": shape has more elements than any file can hold");
      if (size[d] > 0) {
        int64_t reach;
        if (__builtin_mul_overflow(size[d] - 1, stride[d], &reach) || __builtin_add_overflow(last, reach, &last))
          return Status::DataLoss(where + ": stride overflows");
      }
    }
    if (elems > 0 && last >= numel)
      return Status::DataLoss(where + ": view reaches element " + std::to_string(last) + " of a storage of " +
                              std::to_string(numel));

    TorchTensor t;
    t.name = name;
    t.shape = size;
    const size_t out_bytes = st->elem_bytes == 8 ? 4 : st->elem_bytes;
    t.type = st->elem_bytes == 4 || st->elem_bytes == 8 ? DType::kF32
             : sid[1]->s == "torch.HalfStorage"         ? DType::kF16
                                                        : DType::kBF16;
    t.bytes = static_cast<size_t>(elems) * out_bytes;
    bool contiguous = st->elem_bytes != 8;
    int64_t expect = 1;
    for (size_t d = size.size(); d-- > 0;) {
      if (size[d] != 1 && stride[d] != expect) contiguous = false;
      expect *= size[d];
    }
    if (contiguous) {
      t.data = base + offset * static_cast<int64_t>(st->elem_bytes);
    } else {
      std::vector<uint8_t> copy(t.bytes);
      std::vector<int64_t> idx(size.size(), 0);
      for (int64_t k = 0; k < elems; ++k) {
        int64_t src = offset;
        for (size_t d = 0; d < size.size(); ++d) src += idx[d] * stride[d];
        const uint8_t* from = base + src * static_cast<int64_t>(st->elem_bytes);
        if (st->elem_bytes == 8) {
          double x;
          std::memcpy(&x, from, 8);
          const float f = static_cast<float>(x);
          std::memcpy(copy.data() + k * 4, &f, 4);
        } else {
          std::memcpy(copy.data() + k * out_bytes, from, out_bytes);
        }
        for (size_t d = size.size(); d-- > 0;) {
          if (++idx[d] < size[d]) break;
          idx[d] = 0;
        }
      }
      buffers_->push_back(std::move(copy));
      t.data = buffers_->back().data();
    }
    (*tensors_)[name] = std::move(t);
    return Status::Ok();
  }

 private:
  Result<const uint8_t*> Storage(const std::string& key, int64_t bytes, const std::string& where) {
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (static_cast<int64_t>((*buffers_)[cached->second].size()) < bytes)
        return Status::DataLoss(where + ": storage " + key + " is shorter than its declared size");
      return (*buffers_)[cached->second].data();
    }
    const std::string record = prefix_ + "data/" + key;
    auto entry = entries_.find(record);
    if (entry == entries_.end()) return Status::DataLoss(where + ": storage record " + record + " is missing");
    std::vector<uint8_t> data;
    CADENCE_RETURN_IF_ERROR(zip_.Read(entry->second, label_ + ": " + record, size_t{1} << 40, &data));
    if (static_cast<int64_t>(data.size()) < bytes)
      return Status::DataLoss(where + ": storage record " + record + " holds " + std::to_string(data.size()) +
                              " bytes, the tensor needs " + std::to_string(bytes));
    buffers_->push_back(std::move(data));
    storages_[key] = buffers_->size() - 1;
    return buffers_->back().data();
  }

  const Zip& zip_;
  std::string prefix_;
  const std::string& label_;
  std::unordered_map<std::string, zip_uint64_t> entries_;
  std::map<std::string, TorchTensor>* tensors_;
  std::vector<std::vector<uint8_t>>* buffers_;
  std::unordered_map<std::string, size_t> storages_;
};

Status Load(const Zip& zip, const std::string& label, std::map<std::string, TorchTensor>* tensors,
            std::vector<std::vector<uint8_t>>* buffers) {
  std::unordered_map<std::string, zip_uint64_t> entries;
  std::string pkl_name;
  const zip_int64_t n = zip_get_num_entries(zip.get(), 0);
  for (zip_int64_t k = 0; k < n; ++k) {
    const char* name = zip_get_name(zip.get(), static_cast<zip_uint64_t>(k), 0);
    if (!name) continue;
    std::string s(name);
    const size_t slash = s.find('/');
    if (slash != std::string::npos && s.compare(slash, std::string::npos, "/data.pkl") == 0) pkl_name = s;
    entries[s] = static_cast<zip_uint64_t>(k);
  }
  if (pkl_name.empty())
    return Status::DataLoss(label + ": no <archive>/data.pkl record; a zip, but not a PyTorch checkpoint");
  const std::string prefix = pkl_name.substr(0, pkl_name.size() - std::string("data.pkl").size());
  std::vector<uint8_t> pkl;
  CADENCE_RETURN_IF_ERROR(zip.Read(entries[pkl_name], label + ": " + pkl_name, kMaxPickleBytes, &pkl));
  auto root = pickle::Unpickle(std::string_view(reinterpret_cast<const char*>(pkl.data()), pkl.size()),
                               kAllowedGlobals, label + ": " + pkl_name);
  if (!root.ok()) return root.status();

  // The state dict is the top level, or a dict under one of the names training scripts use.
  const auto* dict = DictEntries(root->root);
  if (!dict) return Status::DataLoss(label + ": the pickle's top level is not a dict; not a state dict");
  bool has_tensor = false;
  for (const auto& [k, v] : *dict) has_tensor |= IsTensor(v);
  if (!has_tensor) {
    for (const auto& [k, v] : *dict) {
      if ((k->IsString("state_dict") || k->IsString("model") || k->IsString("module")) && DictEntries(v)) {
        dict = DictEntries(v);
        break;
      }
    }
  }
  Assembler assembler(zip, prefix, label, std::move(entries), tensors, buffers);
  for (const auto& [k, v] : *dict) {
    if (!IsTensor(v)) continue;
    if (k->kind != Value::Kind::kString) return Status::DataLoss(label + ": a state-dict key is not a string");
    CADENCE_RETURN_IF_ERROR(assembler.Add(k->s, v));
  }
  if (tensors->empty()) return Status::DataLoss(label + ": the checkpoint holds no floating-point tensors");
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TorchCheckpoint>> TorchCheckpoint::Open(const std::string& path) {
  Zip zip;
  CADENCE_RETURN_IF_ERROR(zip.OpenPath(path));
  auto c = std::unique_ptr<TorchCheckpoint>(new TorchCheckpoint());
  c->path_ = path;
  CADENCE_RETURN_IF_ERROR(Load(zip, path, &c->tensors_, &c->buffers_));
  return c;
}

Result<std::unique_ptr<TorchCheckpoint>> TorchCheckpoint::FromBytes(std::string bytes, const std::string& label) {
  Zip zip;
  CADENCE_RETURN_IF_ERROR(zip.OpenBuffer(bytes, label));
  auto c = std::unique_ptr<TorchCheckpoint>(new TorchCheckpoint());
  c->path_ = label;
  CADENCE_RETURN_IF_ERROR(Load(zip, label, &c->tensors_, &c->buffers_));
  return c;
}

}  // namespace cadence::engine
