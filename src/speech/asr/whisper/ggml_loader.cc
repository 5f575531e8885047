// whisper.cpp's legacy ggml file: uint32 magic 0x67676d6c; 11 int32 hparams (n_vocab, n_audio_ctx,
// n_audio_state, n_audio_head, n_audio_layer, n_text_ctx, n_text_state, n_text_head, n_text_layer,
// n_mels, ftype); mel filters (int32 n_mel, int32 n_fft, float32 data); vocabulary (int32 count,
// then uint32 length + bytes per token); then tensors until end of file, each int32 n_dims,
// int32 name length, int32 ggml type, int32 ne[n_dims] (innermost first), name, data.
#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "engine/dtype.h"
#include "engine/formats/mapped_file.h"
#include "speech/asr/whisper/model.h"

namespace cadence::speech::whisper {
namespace {

constexpr uint32_t kGgmlMagic = 0x67676d6c;

class Reader {
 public:
  Reader(const engine::MappedFile& file) : file_(file) {}
  size_t pos() const { return pos_; }
  size_t left() const { return file_.size() - pos_; }
  bool Read(void* out, size_t bytes) {
    if (bytes > left()) return false;
    std::memcpy(out, file_.data() + pos_, bytes);
    pos_ += bytes;
    return true;
  }
  const uint8_t* Take(size_t bytes) {
    if (bytes > left()) return nullptr;
    const uint8_t* p = file_.data() + pos_;
    pos_ += bytes;
    return p;
  }

 private:
  const engine::MappedFile& file_;
  size_t pos_ = 0;
};

// The layout of released multilingual vocabularies (whisper.cpp derives it from n_vocab the same
// way): 51865 ids for v1/v2 (99 languages), 51866 for large-v3 (100 languages).
void StandardSpecials(int n_vocab, SpecialTokens* s) {
  if (n_vocab < 51865) return;
  const int languages = n_vocab >= 51866 ? 100 : 99;
  s->end_of_text = 50257;
  s->start_of_transcript = 50258;
  for (int i = 0; i < languages; ++i) s->languages[WhisperLanguageCodes()[i]] = 50259 + i;
  s->translate = 50259 + languages;
  s->transcribe = s->translate + 1;
  s->no_speech = s->translate + 4;
  s->no_timestamps = s->translate + 5;
}

void SpecialsFromVocab(const std::vector<std::string>& vocab, SpecialTokens* s) {
  for (int id = 0; id < static_cast<int>(vocab.size()); ++id) {
    const std::string& t = vocab[id];
    if (t == "<|endoftext|>") s->end_of_text = id;
    else if (t == "<|startoftranscript|>") s->start_of_transcript = id;
    else if (t == "<|transcribe|>") s->transcribe = id;
    else if (t == "<|translate|>") s->translate = id;
    else if (t == "<|notimestamps|>") s->no_timestamps = id;
    else if (t == "<|nospeech|>" || t == "<|nocaptions|>") s->no_speech = id;
    else if (t.size() > 4 && t.rfind("<|", 0) == 0 && t.compare(t.size() - 2, 2, "|>") == 0) {
      const std::string code = t.substr(2, t.size() - 4);
      const auto& codes = WhisperLanguageCodes();
      if (std::find(codes.begin(), codes.end(), code) != codes.end()) s->languages[code] = id;
    }
  }
}

}  // namespace

Result<std::unique_ptr<Model>> LoadGgmlModel(const std::string& path) {
  auto mapped = engine::MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  const engine::MappedFile file = std::move(mapped).value();
  Reader r(file);
  auto err = [&](const std::string& what) {
    return Status::InvalidArgument(path + ": " + what + " (at byte " + std::to_string(r.pos()) + ")");
  };
  uint32_t magic = 0;
  if (!r.Read(&magic, 4) || magic != kGgmlMagic) {
    return err("not a whisper.cpp ggml model: magic is not 0x67676d6c; for Hugging Face checkpoints pass the "
               "directory holding model.safetensors and config.json");
  }
  auto model = std::make_unique<Model>();
  model->path = path;
  model->format = "ggml";
  int32_t hp[11];
  if (!r.Read(hp, sizeof(hp))) return err("file ends inside the hparams");
  HParams& h = model->hparams;
  h = {hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6], hp[7], hp[8], hp[9]};

  int32_t n_mel = 0, n_fft = 0;
  if (!r.Read(&n_mel, 4) || !r.Read(&n_fft, 4)) return err("file ends inside the mel filter header");
  if (n_mel != h.n_mels || n_fft != 201) {
    return err("mel filters are " + std::to_string(n_mel) + " x " + std::to_string(n_fft) + ", expected n_mels (" +
               std::to_string(h.n_mels) + ") x 201");
  }
  // Sized from the file before anything is allocated (a hostile n_mel must not allocate gigabytes).
  if (n_mel <= 0 || static_cast<uint64_t>(n_mel) * n_fft > r.left() / 4) {
    return err("mel filters of " + std::to_string(n_mel) + " x 201 do not fit in the file");
  }
  model->mel_filters.resize(static_cast<size_t>(n_mel) * n_fft);
  if (!r.Read(model->mel_filters.data(), 4 * model->mel_filters.size())) return err("file ends inside the mel filters");

  int32_t n_words = 0;
  if (!r.Read(&n_words, 4) || n_words < 0 || n_words > h.n_vocab) {
    return err("vocabulary size " + std::to_string(n_words) + " is outside [0, n_vocab " + std::to_string(h.n_vocab) + "]");
  }
  if (static_cast<uint64_t>(n_words) > r.left() / 4) {  // each token takes at least its 4-byte length
    return err("vocabulary of " + std::to_string(n_words) + " tokens does not fit in the file");
  }
  model->vocab.reserve(n_words);
  for (int i = 0; i < n_words; ++i) {
    uint32_t len = 0;
    if (!r.Read(&len, 4) || len > r.left()) return err("vocabulary token " + std::to_string(i) + " runs past the end");
    const uint8_t* bytes = r.Take(len);
    model->vocab.emplace_back(reinterpret_cast<const char*>(bytes), len);
  }
  StandardSpecials(h.n_vocab, &model->specials);
  SpecialsFromVocab(model->vocab, &model->specials);

  while (r.left() > 0) {
    int32_t head[3];
    if (!r.Read(head, sizeof(head))) return err("file ends inside a tensor header");
    const int32_t n_dims = head[0], name_len = head[1], type = head[2];
    if (n_dims < 1 || n_dims > 4 || name_len <= 0 || name_len > 256) {
      return err("tensor header has n_dims " + std::to_string(n_dims) + " and name length " + std::to_string(name_len));
    }
    int32_t ne[4] = {1, 1, 1, 1};
    if (!r.Read(ne, 4 * n_dims)) return err("file ends inside a tensor's dimensions");
    const uint8_t* name_bytes = r.Take(name_len);
    if (name_bytes == nullptr) return err("file ends inside a tensor name");
    const std::string name(reinterpret_cast<const char*>(name_bytes), name_len);
    if (type < 0 || !engine::IsSupportedDType(static_cast<uint32_t>(type)) || type == 30) {
      return err("tensor " + name + " has ggml type " + std::string(engine::DTypeName(static_cast<engine::DType>(type))) +
                 "; supported: f32, f16, q8_0, q5_0, q5_1, q4_0, q4_k, q6_k (requantize q4_1 files with "
                 "whisper.cpp's quantize to q5_1 or q8_0)");
    }
    const auto dtype = static_cast<engine::DType>(type);
    Tensor t;
    int64_t count = 1;
    for (int d = n_dims - 1; d >= 0; --d) {
      if (ne[d] <= 0) return err("tensor " + name + " has a non-positive dimension");
      t.shape.push_back(ne[d]);
      // No tensor holds more elements than its bytes allow (at least 1 bit each): stops before
      // the count can overflow, however large the dimensions claim to be.
      if (__builtin_mul_overflow(count, ne[d], &count) || static_cast<uint64_t>(count) / 8 > r.left()) {
        return err("tensor " + name + " is larger than what is left of the file; the file is truncated");
      }
    }
    if (ne[0] % engine::BlockElems(dtype) != 0) {
      return err("tensor " + name + " has rows of " + std::to_string(ne[0]) + " values, not whole " +
                 std::string(engine::DTypeName(dtype)) + " blocks");
    }
    const size_t bytes = engine::RowBytes(dtype, count);
    const uint8_t* data = r.Take(bytes);
    if (data == nullptr) return err("tensor " + name + " needs " + std::to_string(bytes) + " bytes; the file is truncated");
    t.data.resize(count);
    engine::DequantizeRow(dtype, data, t.data.data(), count);
    if (dtype != engine::DType::kF32 && n_dims >= 2) {
      t.stored_type = dtype;
      t.raw.assign(data, data + bytes);
    }
    // whisper.cpp stores the conv biases as [n_state, 1].
    if (t.shape.size() == 2 && t.shape[1] == 1 && name.find("conv") != std::string::npos) t.shape = {t.shape[0]};
    model->tensors[name] = std::move(t);
  }
  // Every layer needs over a dozen tensors: refuse counts the file cannot hold before
  // ValidateModel lists each layer's expected tensors.
  if (h.n_audio_layer < 0 || h.n_text_layer < 0 ||
      static_cast<uint64_t>(h.n_audio_layer) + static_cast<uint64_t>(h.n_text_layer) > model->tensors.size()) {
    return Status::InvalidArgument(path + ": " + std::to_string(h.n_audio_layer) + " encoder and " +
                                   std::to_string(h.n_text_layer) + " decoder layers, but the file holds only " +
                                   std::to_string(model->tensors.size()) + " tensors; is this a Whisper checkpoint?");
  }
  if (Status s = ValidateModel(*model); !s.ok()) return s;
  return model;
}

}  // namespace cadence::speech::whisper
