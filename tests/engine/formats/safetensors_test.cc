// SafetensorsFile::Open on hostile headers (regressions found reading the parser for
// fuzz/safetensors_fuzz.cc).
#include <gtest/gtest.h>

#include <cstdint>
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

}  // namespace
}  // namespace cadence::engine
