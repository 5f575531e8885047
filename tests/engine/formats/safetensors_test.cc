// SafetensorsFile::Open on hostile headers (regressions found reading the parser for
// fuzz/safetensors_fuzz.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/formats/safetensors.h"

namespace cadence::engine {
namespace {

std::string WriteSafetensors(const std::string& header, const std::string& data, const std::string& name) {
  const std::string path = (std::filesystem::temp_directory_path() / ("cadence_st_test_" + name + ".safetensors")).string();
  std::ofstream out(path, std::ios::binary);
  const uint64_t n = header.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << header << data;
  return path;
}

TEST(SafetensorsTest, ShapeWhoseElementCountOverflowsIsRejected) {
  // [2^32, 2^32] wrapped the element count to 0, which matched empty data_offsets: accepted.
  const std::string path =
      WriteSafetensors(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", "", "overflow");
  auto f = SafetensorsFile::Open(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("tensor w.shape"), std::string::npos) << f.status().message();
}

TEST(SafetensorsTest, SmallFileLoads) {
  const std::string path = WriteSafetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                                            std::string(8, '\0'), "small");
  auto f = SafetensorsFile::Open(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_NE((*f)->Find("w"), nullptr);
  EXPECT_EQ((*f)->Find("w")->bytes, 8u);
}

TEST(SafetensorsTest, TensorsMisalignedInTheFileAreReadAligned) {
  // A writer that does not pad its header: the data starts at an odd offset, and an F32 read in
  // place would be a misaligned load (undefined behaviour, caught by UBSan).
  std::string header = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}})";
  while ((8 + header.size()) % 4 != 1) header += ' ';
  std::string data(16, '\0');
  const float values[3] = {1.5f, -2.25f, 3.0f};
  std::memcpy(data.data(), values, 12);
  const uint16_t bf16[2] = {0x3f80, 0xc000};  // 1, -2
  std::memcpy(data.data() + 12, bf16, 4);
  const std::string path = WriteSafetensors(header, data, "misaligned");
  auto f = SafetensorsFile::Open(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const SafetensorsTensor* a = (*f)->Find("a");
  const SafetensorsTensor* b = (*f)->Find("b");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->data) % 4, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data) % 2, 0u);
  const float* got = reinterpret_cast<const float*>(a->data);
  EXPECT_EQ(got[0], 1.5f);
  EXPECT_EQ(got[1], -2.25f);
  EXPECT_EQ(got[2], 3.0f);
  EXPECT_EQ(reinterpret_cast<const uint16_t*>(b->data)[1], 0xc000);
}

}  // namespace
}  // namespace cadence::engine
