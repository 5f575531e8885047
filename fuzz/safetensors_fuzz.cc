// Fuzzes SafetensorsFile::Open (the JSON header, dtypes, shapes, data_offsets) on the fuzzer's
// bytes written to a scratch file; every tensor it accepts is read end to end.
#include <cstdint>
#include <string>

#include "engine/formats/safetensors.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cadence::fuzz::ScratchFile scratch("safetensors");
  const std::string& path = scratch.Write(data, size);
  if (path.empty()) return 0;
  auto file = cadence::engine::SafetensorsFile::Open(path);
  if (!file.ok()) return 0;
  volatile uint64_t sum = 0;
  for (const auto& [name, t] : (*file)->tensors()) {
    for (size_t i = 0; i < t.bytes; ++i) sum = sum + t.data[i];
    (void)(*file)->Find(name);
  }
  return 0;
}
