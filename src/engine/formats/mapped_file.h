// MappedFile: a read-only memory map of a whole file (model weights are used in place, never copied).
//
// Move-only; unmaps on destruction. The bytes stay valid while the MappedFile lives; reading them
// from many threads is safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace cadence::engine {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // NotFound when the file is missing, InvalidArgument when it is empty or not a regular file.
  static Result<MappedFile> Open(const std::string& path);

  const uint8_t* data() const { return data_; }
  // Tells the kernel that bytes [p, p + n) of the map will not be read again soon: the whole pages
  // inside the range leave the process's resident set (reading them again faults them back in
  // from the file). For weights the loader has copied into another layout.
  void Release(const uint8_t* p, size_t n) const;
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace cadence::engine
