// GgufFile::Open on hostile headers (regressions found reading the parser for fuzz/gguf_fuzz.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/formats/gguf.h"

namespace cadence::engine {
namespace {

struct Writer {
  std::vector<uint8_t> b;
  template <typename T>
  Writer& Put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof(T));
    return *this;
  }
  Writer& Str(const std::string& s) {
    Put<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
};

std::string WriteTemp(const Writer& w, const std::string& name) {
  const std::string path = (std::filesystem::temp_directory_path() / ("cadence_gguf_test_" + name + ".gguf")).string();
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(w.b.data()), w.b.size());
  return path;
}

// GGUF v3 with no metadata and one tensor `t` of `shape` (F32 at offset 0), then `data_bytes`
// zero bytes in the data section.
Writer OneTensor(const std::vector<int64_t>& shape, size_t data_bytes = 0) {
  Writer w;
  w.b = {'G', 'G', 'U', 'F'};
  w.Put<uint32_t>(3).Put<uint64_t>(1).Put<uint64_t>(0);
  w.Str("t").Put<uint32_t>(static_cast<uint32_t>(shape.size()));
  for (int64_t d : shape) w.Put<int64_t>(d);
  w.Put<uint32_t>(0).Put<uint64_t>(0);
  w.b.resize((w.b.size() + 31) / 32 * 32 + data_bytes, 0);
  return w;
}

TEST(GgufTest, ShapeWhoseElementCountOverflowsIsRejected) {
  // Four dimensions of 2^40 wrapped the element count (and so the byte size) to 0: the tensor was
  // accepted with no data behind its shape.
  const int64_t big = int64_t{1} << 40;
  const std::string path = WriteTemp(OneTensor({big, big, big, big}, 64), "overflow");
  auto g = GgufFile::Open(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("tensor t.shape"), std::string::npos) << g.status().message();
}

TEST(GgufTest, TensorDataBeyondTheFileIsRejected) {
  const std::string path = WriteTemp(OneTensor({32, 4}, 64), "short");  // needs 512 bytes
  auto g = GgufFile::Open(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("beyond the end of the file"), std::string::npos) << g.status().message();
}

}  // namespace
}  // namespace cadence::engine
