// Helpers shared by the libFuzzer harnesses in fuzz/.
//
// ScratchFile gives parsers that only take a path (GGUF, safetensors, whisper ggml) the fuzzer's
// bytes as a file: one path per process under /dev/shm (or /tmp), rewritten for every input and
// removed at exit. Single-threaded, as libFuzzer runs inputs one at a time.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace cadence::fuzz {

class ScratchFile {
 public:
  explicit ScratchFile(std::string_view name) {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(dir) + "/cadence-fuzz-" + std::string(name) + "-" + std::to_string(getpid());
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the file's contents with `data`; returns its path ("" if it could not be written).
  const std::string& Write(const uint8_t* data, size_t size) {
    static const std::string kNone;
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr) return kNone;
    const bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
    if (std::fclose(f) != 0 || !ok) return kNone;
    return path_;
  }

 private:
  std::string path_;
};

// Splits `data` into pieces at every `separator` byte (pieces may be empty).
inline std::vector<std::string_view> SplitInput(const uint8_t* data, size_t size, char separator) {
  std::vector<std::string_view> out;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  while (true) {
    const size_t end = all.find(separator, start);
    if (end == std::string_view::npos) {
      out.push_back(all.substr(start));
      return out;
    }
    out.push_back(all.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace cadence::fuzz
