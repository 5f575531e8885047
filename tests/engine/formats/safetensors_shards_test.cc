// SafetensorsShards: one model.safetensors or index + shards, and the errors of a broken checkpoint.
#include "engine/formats/safetensors_shards.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <type_traits>
#include <utility>

#include "engine/formats/safetensors_test_writer.h"

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;
using testing::TestTensor;
using testing::WriteShardedCheckpoint;

class SafetensorsShardsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("cadence_shards_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name())))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void WriteTwoShards() {
    WriteShardedCheckpoint(dir_, {{"model-00001-of-00002.safetensors", {{"a", {2}, {1, 2}}, {"b", {1, 2}, {3, 4}, true}}},
                                  {"model-00002-of-00002.safetensors", {{"c", {3}, {5, 6, 7}}}}});
  }
  std::string dir_;
};

std::string Message(const Status& s) { return s.message(); }

TEST_F(SafetensorsShardsTest, FindsTensorsOverAllShards) {
  WriteTwoShards();
  auto f = SafetensorsShards::Open(dir_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->shard_count(), 2u);
  EXPECT_EQ((*f)->path(), dir_ + "/model.safetensors.index.json");
  EXPECT_EQ((*f)->Names(), (std::vector<std::string>{"a", "b", "c"}));
  const StoredTensor* c = (*f)->Find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->shape, (std::vector<int64_t>{3}));
  float v[3];
  std::memcpy(v, c->data, 12);
  EXPECT_EQ(v[2], 7.0f);
  const StoredTensor* b = (*f)->Find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, DType::kBF16);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ((*f)->Find("d"), nullptr);
  // The index file itself opens too.
  auto g = SafetensorsShards::Open(dir_ + "/model.safetensors.index.json");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_NE((*g)->Find("a"), nullptr);
}

TEST_F(SafetensorsShardsTest, SingleFileFolder) {
  testing::WriteSafetensors(dir_ + "/model.safetensors", {{"w", {2, 2}, {1, 2, 3, 4}}});
  auto f = SafetensorsShards::Open(dir_);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->path(), dir_ + "/model.safetensors");
  ASSERT_NE((*f)->Find("w"), nullptr);
  EXPECT_EQ((*f)->Find("w")->bytes, 16u);
  auto g = SafetensorsShards::Open(dir_ + "/model.safetensors");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ((*g)->Names(), std::vector<std::string>{"w"});
}

TEST_F(SafetensorsShardsTest, EmptyFolderIsNotFound) {
  auto f = SafetensorsShards::Open(dir_);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(Message(f.status()).find("model.safetensors.index.json"), std::string::npos) << Message(f.status());
}

TEST_F(SafetensorsShardsTest, MissingShardIsNamed) {
  WriteTwoShards();
  fs::remove(dir_ + "/model-00002-of-00002.safetensors");
  auto f = SafetensorsShards::Open(dir_);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kNotFound);
  EXPECT_NE(Message(f.status()).find("shard model-00002-of-00002.safetensors"), std::string::npos) << Message(f.status());
  EXPECT_NE(Message(f.status()).find("tensor c"), std::string::npos) << Message(f.status());
}

TEST_F(SafetensorsShardsTest, EntryNotInItsShardIsNamed) {
  WriteTwoShards();
  // The index says c is in shard 1; it is in shard 2.
  std::ofstream(dir_ + "/model.safetensors.index.json")
      << R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})";
  auto f = SafetensorsShards::Open(dir_);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(Message(f.status()).find("tensor c in model-00001-of-00002.safetensors"), std::string::npos)
      << Message(f.status());
}

TEST_F(SafetensorsShardsTest, MalformedIndexIsNamed) {
  WriteTwoShards();
  const std::string index = dir_ + "/model.safetensors.index.json";
  for (const std::string& text : {std::string("{not json"), std::string(R"({"metadata": {}})"),
                                  std::string(R"({"weight_map": {"a": 3}})"), std::string(R"({"weight_map": {}})"),
                                  std::string(R"({"weight_map": {"a": "../x.safetensors"}})")}) {
    std::ofstream(index, std::ios::trunc) << text;
    auto f = SafetensorsShards::Open(dir_);
    ASSERT_FALSE(f.ok()) << text;
    EXPECT_NE(Message(f.status()).find(index), std::string::npos) << Message(f.status());
  }
}

TEST_F(SafetensorsShardsTest, CorruptShardNamesShardAndIndex) {
  WriteTwoShards();
  std::ofstream(dir_ + "/model-00002-of-00002.safetensors", std::ios::trunc) << "xx";
  auto f = SafetensorsShards::Open(dir_);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(Message(f.status()).find("model-00002-of-00002.safetensors"), std::string::npos) << Message(f.status());
  EXPECT_NE(Message(f.status()).find("index.json"), std::string::npos) << Message(f.status());
}

// What the Qwen2 loader's StoredTensorSource<File> needs of File.
static_assert(std::is_same_v<decltype(std::declval<const SafetensorsShards&>().Find(std::string())), const StoredTensor*>);
static_assert(std::is_same_v<decltype(std::declval<const SafetensorsShards&>().path()), const std::string&>);

TEST(SafetensorsShardsFixtureTest, StepAudio2TinyCheckpoint) {
  const std::string dir = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/step_audio2/tiny";
  auto f = SafetensorsShards::Open(dir);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ((*f)->shard_count(), 2u);
  const StoredTensor* t = (*f)->Find("encoder.conv1.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, DType::kBF16);
  EXPECT_EQ(t->shape, (std::vector<int64_t>{64, 128, 3}));
}

}  // namespace
}  // namespace cadence::engine
