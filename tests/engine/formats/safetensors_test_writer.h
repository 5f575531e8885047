// A tiny safetensors writer for tests: F32 / BF16 tensors into one file, and a sharded checkpoint's
// model.safetensors.index.json.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cadence::engine::testing {

struct TestTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
  bool bf16 = false;  // stored as BF16 (rounded to nearest even)
};

inline uint16_t ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

inline void WriteSafetensors(const std::string& path, const std::vector<TestTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const TestTensor& t : tensors) {
    const size_t begin = data.size();
    for (float v : t.values) {
      if (t.bf16) {
        const uint16_t b = ToBf16(v);
        data.append(reinterpret_cast<const char*>(&b), 2);
      } else {
        data.append(reinterpret_cast<const char*>(&v), 4);
      }
    }
    header[t.name] = {{"dtype", t.bf16 ? "BF16" : "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h += ' ';  // as Hugging Face pads it: the data starts 8-aligned
  const uint64_t n = h.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << data;
}

// Writes `shards` (file name -> tensors) into dir with an index naming every tensor's shard.
inline void WriteShardedCheckpoint(const std::string& dir, const std::map<std::string, std::vector<TestTensor>>& shards) {
  std::filesystem::create_directories(dir);
  nlohmann::json map = nlohmann::json::object();
  for (const auto& [file, tensors] : shards) {
    WriteSafetensors(dir + "/" + file, tensors);
    for (const TestTensor& t : tensors) map[t.name] = file;
  }
  std::ofstream(dir + "/model.safetensors.index.json") << nlohmann::json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump(1);
}

}  // namespace cadence::engine::testing
