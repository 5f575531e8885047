// Fuzzes the whisper.cpp ggml model loader (speech/asr/whisper LoadGgmlModel: hparams, mel
// filters, vocabulary, tensors with dequantization, then ValidateModel) on the fuzzer's bytes
// written to a scratch file.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "speech/asr/whisper/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static cadence::fuzz::ScratchFile scratch("ggml");
  const std::string& path = scratch.Write(data, size);
  if (path.empty()) return 0;
  (void)cadence::speech::whisper::LoadGgmlModel(path);
  return 0;
}
