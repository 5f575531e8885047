// Reads the CTEN golden tensors the reference tools write (tools/engine/token2wav/
// make_voice_prompt_onnx.py): b"CTEN", int32 dtype (1 float32, 7 int64), int32 rank, int64
// dims[rank], then the little-endian data. A missing or malformed file gives an empty tensor with
// `error` set, so the test can say which file is wrong.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace cadence::testing {

struct GoldenTensor {
  std::vector<int64_t> shape;
  std::vector<float> floats;  // dtype 1
  std::vector<int64_t> ints;  // dtype 7
  std::string error;          // empty when read
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

inline GoldenTensor ReadGoldenTensor(const std::string& path) {
  GoldenTensor t;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    t.error = path + ": cannot open";
    return t;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "CTEN", 4) != 0) {
    t.error = path + ": not a CTEN file";
    return t;
  }
  int32_t dtype = 0, rank = 0;
  std::memcpy(&dtype, bytes.data() + 4, 4);
  std::memcpy(&rank, bytes.data() + 8, 4);
  size_t at = 12;
  if (rank < 0 || rank > 8 || bytes.size() < at + 8 * static_cast<size_t>(rank)) {
    t.error = path + ": bad rank";
    return t;
  }
  t.shape.resize(rank);
  std::memcpy(t.shape.data(), bytes.data() + at, 8 * rank);
  at += 8 * rank;
  const size_t n = static_cast<size_t>(t.size());
  const size_t width = dtype == 1 ? 4 : 8;
  if ((dtype != 1 && dtype != 7) || bytes.size() != at + n * width) {
    t.error = path + ": bad dtype or size";
    return t;
  }
  if (dtype == 1) {
    t.floats.resize(n);
    std::memcpy(t.floats.data(), bytes.data() + at, 4 * n);
  } else {
    t.ints.resize(n);
    std::memcpy(t.ints.data(), bytes.data() + at, 8 * n);
  }
  return t;
}

}  // namespace cadence::testing
