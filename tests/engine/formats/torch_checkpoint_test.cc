// TorchCheckpoint and its restricted unpickler on checkpoints written by torch.save itself
// (tools/engine/make_torch_checkpoints.py): every tensor equals what torch reads back, views of
// shared storages and transposes come out contiguous, and a pickle that would run a command is
// refused without running it.
#include "engine/formats/torch_checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/formats/pickle.h"

namespace cadence::engine {
namespace {

using namespace std::string_literals;

const std::string kData = std::string(CADENCE_SOURCE_DIR) + "/tests/engine/data/torch/";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TorchCheckpointTest, EveryTensorEqualsWhatTorchReadsBack) {
  auto ckpt = TorchCheckpoint::Open(kData + "state_dict.pt");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  const auto golden = nlohmann::json::parse(ReadAll(kData + "state_dict.golden.json"));
  ASSERT_GE(golden.size(), 10u);
  for (auto it = golden.begin(); it != golden.end(); ++it) {
    const TorchTensor* t = (*ckpt)->Find(it.key());
    ASSERT_NE(t, nullptr) << it.key();
    EXPECT_EQ(t->shape, it.value()["shape"].get<std::vector<int64_t>>()) << it.key();
    auto values = (*ckpt)->Floats(it.key());
    ASSERT_TRUE(values.ok()) << values.status().ToString();
    const auto expect = it.value()["values"].get<std::vector<float>>();
    ASSERT_EQ(values->size(), expect.size()) << it.key();
    for (size_t k = 0; k < expect.size(); ++k) EXPECT_EQ((*values)[k], expect[k]) << it.key() << "[" << k << "]";
  }
  // Integer buffers are not weights and are left out; the float ones of the same module are there.
  EXPECT_EQ((*ckpt)->Find("bn.num_batches_tracked"), nullptr);
  EXPECT_NE((*ckpt)->Find("bn.running_mean"), nullptr);
  EXPECT_EQ((*ckpt)->Find("half")->type, DType::kF16);
  EXPECT_EQ((*ckpt)->Find("bf16")->type, DType::kBF16);
  EXPECT_EQ((*ckpt)->Find("double")->type, DType::kF32);
}

TEST(TorchCheckpointTest, ShapeMismatchAndMissingTensorNameThemselves) {
  auto ckpt = TorchCheckpoint::Open(kData + "state_dict.pt");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  auto wrong = (*ckpt)->Floats("conv.weight", {4, 3, 3});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("conv.weight has shape [4, 3, 5], expected [4, 3, 3]"), std::string::npos)
      << wrong.status().message();
  auto missing = (*ckpt)->Floats("conv.weight_g");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("conv.weight_g is missing"), std::string::npos);
}

TEST(TorchCheckpointTest, WeightsUnderModelKeyAreFound) {
  auto ckpt = TorchCheckpoint::Open(kData + "wrapped.pt");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  auto w = (*ckpt)->Floats("w", {2, 2});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ((*w)[3], 0.25f);
}

TEST(TorchCheckpointTest, PickleThatWouldRunACommandIsRefused) {
  const std::string marker = "/tmp/cadence-pickle-was-executed";
  std::filesystem::remove(marker);
  auto ckpt = TorchCheckpoint::Open(kData + "hostile.pt");
  ASSERT_FALSE(ckpt.ok());
  EXPECT_NE(ckpt.status().message().find("refusing global posix.system"), std::string::npos)
      << ckpt.status().message();
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(TorchCheckpointTest, EmptyTensorReadsAsNoValues) {
  // Found by fuzz/torch_checkpoint_fuzz.cc: a 0-element tensor on an empty storage reached memcpy
  // with a null source (undefined behaviour; the sanitized stage fails on it). torch.save writes
  // torch.zeros(0) that way (tools/engine/make_torch_checkpoints.py).
  auto ckpt = TorchCheckpoint::Open(kData + "empty_tensor.pt");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();
  auto w = (*ckpt)->Floats("w");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(w->empty());
}

TEST(TorchCheckpointTest, MissingFileAndNonZipAreClearErrors) {
  auto missing = TorchCheckpoint::Open(kData + "no-such.pt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto not_zip = TorchCheckpoint::FromBytes("plainly not a zip archive", "bytes.pt");
  ASSERT_FALSE(not_zip.ok());
  EXPECT_NE(not_zip.status().message().find("not a zip archive"), std::string::npos) << not_zip.status().message();
}

TEST(TorchCheckpointTest, TruncatedCheckpointsFailCleanly) {
  const std::string bytes = ReadAll(kData + "state_dict.pt");
  for (size_t cut : {bytes.size() / 4, bytes.size() / 2, bytes.size() - 30}) {
    auto c = TorchCheckpoint::FromBytes(bytes.substr(0, cut), "cut.pt");
    EXPECT_FALSE(c.ok()) << "cut at " << cut;
  }
}

TEST(PickleTest, ReducesOnlyAllowedGlobalsAndKeepsThemAsData) {
  // protocol 2: GLOBAL collections.OrderedDict, EMPTY_TUPLE, REDUCE, then 'a': 1 via SETITEM, STOP.
  const std::string ok = std::string("\x80\x02") + "ccollections\nOrderedDict\n)R" + "X\x01\x00\x00\x00" "aK\x01" "s."s;
  auto v = pickle::Unpickle(ok, {"collections.OrderedDict"}, "ok");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->root->kind, pickle::Value::Kind::kCall);
  ASSERT_EQ(v->root->entries.size(), 1u);
  EXPECT_EQ(v->root->entries[0].second->i, 1);
  // builtins.eval is never on the list.
  const std::string evil = std::string("\x80\x02") + "cbuiltins\neval\nX\x03\x00\x00\x00" "1+1\x85" "R."s;
  auto e = pickle::Unpickle(evil, {"collections.OrderedDict"}, "evil");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("refusing global builtins.eval"), std::string::npos);
  // REDUCE on a non-global, BUILD on a list, unknown opcodes and a missing STOP are errors.
  EXPECT_FALSE(pickle::Unpickle(std::string("\x80\x02") + "K\x01)R.", {}, "x").ok());
  EXPECT_FALSE(pickle::Unpickle(std::string("\x80\x02") + "]}b.", {}, "x").ok());
  EXPECT_FALSE(pickle::Unpickle(std::string("\x80\x02") + "i\n.", {}, "x").ok());
  EXPECT_FALSE(pickle::Unpickle(std::string("\x80\x02") + "K\x01", {}, "x").ok());
  // A list that contains itself (memo put, get, APPEND) is data, owned by its document.
  auto cycle = pickle::Unpickle(std::string("\x80\x02") + "]q\x00" "h\x00" "a."s, {}, "cycle");
  ASSERT_TRUE(cycle.ok()) << cycle.status().ToString();
  EXPECT_EQ(cycle->root->items.at(0), cycle->root);
}

}  // namespace
}  // namespace cadence::engine
