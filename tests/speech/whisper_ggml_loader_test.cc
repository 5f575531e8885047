// LoadGgmlModel on hostile whisper.cpp ggml files (regressions found by fuzz/whisper_ggml_fuzz.cc):
// every header field that sizes an allocation is checked against the bytes the file holds.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "speech/asr/whisper/model.h"

namespace cadence::speech::whisper {
namespace {

struct Bytes {
  std::vector<uint8_t> b;
  Bytes& I32(int32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(v) >> (8 * i)));
    return *this;
  }
  Bytes& Str(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
};

// Magic and hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer, n_text_ctx,
// n_text_state, n_text_head, n_text_layer, n_mels, ftype.
Bytes Header(int32_t n_vocab, int32_t n_mels, int32_t n_audio_layer = 0, int32_t n_text_layer = 0) {
  Bytes h;
  h.I32(0x67676d6c);
  for (int32_t v : {n_vocab, 4, 4, 1, n_audio_layer, 4, 4, 1, n_text_layer, n_mels, 0}) h.I32(v);
  return h;
}

// Header plus one mel filter row (n_mels = 1) and an empty vocabulary.
Bytes OneMel(int32_t n_audio_layer = 0, int32_t n_text_layer = 0) {
  Bytes b = Header(8, 1, n_audio_layer, n_text_layer);
  b.I32(1).I32(201);
  for (int i = 0; i < 201; ++i) b.I32(0);
  b.I32(0);  // vocabulary: no tokens
  return b;
}

Result<std::unique_ptr<Model>> Load(const Bytes& bytes, const std::string& name) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / ("cadence_ggml_loader_" + name + ".bin");
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.b.data()), bytes.b.size());
  auto model = LoadGgmlModel(path.string());
  std::filesystem::remove(path);
  return model;
}

TEST(GgmlLoaderTest, NegativeOrOversizedMelCountIsAnErrorNotAnAllocation) {
  // n_mels -1 used to resize the filters to (size_t)-1 * 201 floats (std::length_error).
  Bytes negative = Header(8, -1);
  negative.I32(-1).I32(201);
  auto n = Load(negative, "negative_mels");
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find("mel filters"), std::string::npos) << n.status().message();

  // 2^24 mel rows (13 GB of floats) in a 60-byte file: refused before allocating.
  Bytes huge = Header(8, 1 << 24);
  huge.I32(1 << 24).I32(201);
  auto h = Load(huge, "huge_mels");
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("mel filters"), std::string::npos) << h.status().message();
}

TEST(GgmlLoaderTest, VocabularyLargerThanTheFileIsAnErrorNotAReservation) {
  // 2^31 - 1 tokens used to be reserved (64 GB of strings) before reading the first one.
  Bytes b = Header(0x7fffffff, 1);
  b.I32(1).I32(201);
  for (int i = 0; i < 201; ++i) b.I32(0);
  b.I32(0x7fffffff);
  auto m = Load(b, "huge_vocab");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("vocabulary"), std::string::npos) << m.status().message();
}

TEST(GgmlLoaderTest, TensorWhoseSizeOverflowsIsAnError) {
  // 65536^4 elements wrapped the int64 count to 0: an empty tensor of that shape was accepted.
  Bytes b = OneMel();
  b.I32(4).I32(1).I32(0);  // n_dims, name length, f32
  for (int i = 0; i < 4; ++i) b.I32(65536);
  b.Str("t");
  auto m = Load(b, "overflow");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("tensor t"), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("truncated"), std::string::npos) << m.status().message();
}

TEST(GgmlLoaderTest, LayerCountsBeyondTheTensorsAreRefusedBeforeExpandingThem) {
  // 2^31 - 1 layers used to make ValidateModel list ~30 billion expected tensor names first.
  auto m = Load(OneMel(0x7fffffff, 0x7fffffff), "layers");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("layer"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace cadence::speech::whisper
