#include "persona/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "persona/text.h"

namespace cadence::persona {
namespace {

TEST(StoreTest, EmbeddedDefaultsAreBilingual) {
  PersonaStore store = PersonaStore::Embedded();
  const Persona& def = store.Default();
  EXPECT_EQ(def.id, "cadence");
  EXPECT_FALSE(def.first_mes.empty());
  EXPECT_EQ(def.voice.engine, "flite");
  const Persona* zh = store.Find("xiaoyu");
  ASSERT_NE(zh, nullptr);
  EXPECT_EQ(DetectLanguage(zh->first_mes), "zh");
  EXPECT_EQ(zh->voice.voice, "cmn-f");
  EXPECT_EQ(store.Find("nobody"), nullptr);
}

TEST(StoreTest, LoadsDirectorySkippingBadCards) {
  auto dir = std::filesystem::temp_directory_path() / ("persona_store_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "good.json") << R"({"name":"Good One","first_mes":"hi"})";
  std::ofstream(dir / "broken.json") << R"({"spec":"chara_card_v2","data":{"name":3}})";
  std::ofstream(dir / "junk.png") << "not a png";
  std::ofstream(dir / "notes.txt") << "ignored";
  auto store = PersonaStore::Load(dir.string());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_NE(store->Find("good"), nullptr);
  EXPECT_EQ(store->Find("good")->name, "Good One");
  EXPECT_EQ(store->Find("broken"), nullptr);
  EXPECT_EQ(store->Find("junk"), nullptr);
  EXPECT_NE(store->Find("cadence"), nullptr);  // embedded defaults stay
  auto list = store->List();
  EXPECT_TRUE(std::is_sorted(list.begin(), list.end(), [](auto* a, auto* b) { return a->id < b->id; }));
  EXPECT_TRUE(store->SetDefault("good").ok());
  EXPECT_EQ(store->Default().id, "good");
  Status missing = store->SetDefault("ghost");
  EXPECT_NE(missing.message().find("ghost"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(StoreTest, MissingDirectoryIsAnErrorNamingIt) {
  auto store = PersonaStore::Load("/nonexistent/personas_dir");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent/personas_dir"), std::string::npos);
}

TEST(StoreTest, ShippedDirectoryLoadsEveryCard) {
  auto store = PersonaStore::Load(std::string(CADENCE_SOURCE_DIR) + "/personas");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(CADENCE_SOURCE_DIR) + "/personas"))
    if (e.path().extension() == ".json" || e.path().extension() == ".png") {
      ++files;
      EXPECT_NE(store->Find(e.path().stem().string()), nullptr) << e.path();
    }
  EXPECT_GE(files, 2u);
}

}  // namespace
}  // namespace cadence::persona
