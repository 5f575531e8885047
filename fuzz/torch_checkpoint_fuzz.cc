// Fuzzes TorchCheckpoint's restricted unpickler and tensor assembly: the fuzzer's bytes become the
// data.pkl of an in-memory zip (stored, so no CRC stands between the mutation and the parser) next
// to sixteen 256-byte storage records "0".."15"; every tensor accepted is read end to end.
#include <zip.h>

#include <cstdint>
#include <string>

#include "engine/formats/torch_checkpoint.h"

namespace {

// A zip of {a/data.pkl: pickle, a/data/0..15: 256 bytes each}; empty on a libzip failure.
std::string ZipWithPickle(const uint8_t* data, size_t size) {
  static const std::string kStorage(256, '\x3f');
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (!src) return {};
  zip_source_keep(src);
  zip_t* za = zip_open_from_source(src, ZIP_TRUNCATE, &error);
  std::string out;
  if (za) {
    auto add = [&](const char* name, const void* bytes, size_t n) {
      zip_source_t* s = zip_source_buffer(za, bytes, n, 0);
      const zip_int64_t index = s ? zip_file_add(za, name, s, ZIP_FL_OVERWRITE) : -1;
      if (index < 0) {
        if (s) zip_source_free(s);
        return;
      }
      zip_set_file_compression(za, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
    };
    add("a/data.pkl", data, size);
    for (int k = 0; k < 16; ++k) add(("a/data/" + std::to_string(k)).c_str(), kStorage.data(), kStorage.size());
    if (zip_close(za) == 0 && zip_source_open(src) == 0) {
      char buf[4096];
      zip_int64_t n;
      while ((n = zip_source_read(src, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
      zip_source_close(src);
    } else {
      zip_discard(za);
    }
  }
  zip_source_free(src);
  zip_error_fini(&error);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 16)) return 0;
  std::string zipped = ZipWithPickle(data, size);
  if (zipped.empty()) return 0;
  auto ckpt = cadence::engine::TorchCheckpoint::FromBytes(std::move(zipped), "fuzz.pt");
  if (!ckpt.ok()) return 0;
  volatile uint64_t sum = 0;
  for (const auto& [name, t] : (*ckpt)->tensors()) {
    for (size_t i = 0; i < t.bytes; ++i) sum = sum + t.data[i];
    auto values = (*ckpt)->Floats(name);
    if (values.ok() && !values->empty()) sum = sum + static_cast<uint64_t>((*values)[0] != 0);
  }
  return 0;
}
