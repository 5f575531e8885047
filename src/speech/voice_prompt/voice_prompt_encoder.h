// VoicePromptEncoder: turns a voice prompt (a few seconds of someone speaking) into what the
// token2wav flow model of CosyVoice 2 / Step-Audio 2 is conditioned on:
//   - a speaker embedding: Kaldi fbank of the 16 kHz audio (kaldi_fbank.h), mean-normalised over
//     time, through CAM++ (campplus.onnx: input [1, T, 80] -> [1, 192]);
//   - prompt speech tokens: Whisper's 128-bin log-mel of the 16 kHz audio
//     (speech/asr/whisper/log_mel.h) through the S3 tokenizer v2 (speech_tokenizer_v2_25hz.onnx:
//     feats [1, 128, T] and feats_length [1] -> indices, 25 tokens per second, ids 0..6560);
//   - the prompt mel: the 80-bin 24 kHz mel of prompt_mel.h (no model).
// Both graphs run in Cadence's own ONNX interpreter (engine/formats/onnx/interpreter.h); like
// CosyVoice, the encoder feeds the graphs' first inputs in order, whatever their names.
//
// What the published files are (read from public code; no model file could be downloaded):
//   campplus.onnx (28 MB, 3,206 nodes, 617 initializers): input "input" [B, T, 80] float, output
//     [B, 192]; CosyVoice's TensorRT profile names the input "input" (min [1,4,80], opt
//     [1,500,80], max [1,3000,80]); 3D-Speaker's exporter (speakerlab/bin/
//     export_speaker_embedding_onnx.py) uses opset 11. Architecture: 3D-Speaker
//     speakerlab/models/campplus/DTDNN.py and layers.py.
//   speech_tokenizer_v2_25hz.onnx (~496 MB, 1,358 nodes, 102 initializers): inputs "feats"
//     [1, 128, T] float and "feats_length" [1] int32, output "indices" (callers flatten it);
//     CosyVoice's frontend.py and C++/Rust ports feed these names. Architecture (conv front end,
//     FSMN attention blocks with rotary q/k, FSQ 3^8 codes): xingchensong/S3Tokenizer
//     s3tokenizer/model_v2.py, which loads its weights from this file's initializers (Linear as
//     MatMul + Add, LayerNorm decomposed: opset < 17).
// The operators torch.onnx.export writes for these architectures are what
// tools/engine/token2wav/make_voice_prompt_onnx.py prints; the interpreter implements them all.
//
// Create() loads and checks both files: a missing file, a graph with an operator the interpreter
// lacks, or inputs of the wrong count are errors naming the file (and the operator and node). A
// created encoder is immutable; its methods are const and may be called from several threads.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/formats/onnx/interpreter.h"
#include "engine/formats/onnx/onnx_model.h"
#include "speech/voice_prompt/prompt_mel.h"

namespace cadence::speech::voice_prompt {

struct VoicePromptConfig {
  std::string campplus_path;   // campplus.onnx
  std::string tokenizer_path;  // speech_tokenizer_v2_25hz.onnx
  Status Validate() const;
  std::string ToString() const;
};

struct VoicePrompt {
  std::vector<float> speaker_embedding;  // 192 values for the published CAM++
  std::vector<int> tokens;               // 25 Hz, 0..6560
  PromptMel mel;                         // [frames][80], 50 frames per second
};

class VoicePromptEncoder {
 public:
  static Result<std::unique_ptr<VoicePromptEncoder>> Create(const VoicePromptConfig& config);

  // CAM++ on the mean-normalised fbank. InvalidArgument for audio shorter than 25 ms.
  Result<std::vector<float>> SpeakerEmbedding(std::span<const float> samples_16k) const;
  // The tokenizer on the 128-bin log-mel. InvalidArgument for audio over 30 s (the tokenizer's
  // limit in CosyVoice) or too short for the log-mel.
  Result<std::vector<int>> SpeechTokens(std::span<const float> samples_16k) const;
  // All three; the mel is aligned to the tokens as `alignment` says.
  Result<VoicePrompt> Encode(std::span<const float> samples_16k, std::span<const float> samples_24k,
                             MelTokenAlignment alignment = MelTokenAlignment::kCropToShorter) const;
  // The same from mono audio at any rate: resampled (audio/resampler.h, libsoxr) to 16 and 24 kHz
  // from the original, as Step-Audio 2's token2wav does with torchaudio.
  Result<VoicePrompt> EncodeAudio(std::span<const float> samples, int sample_rate_hz,
                                  MelTokenAlignment alignment = MelTokenAlignment::kCropToShorter) const;

 private:
  VoicePromptEncoder(VoicePromptConfig config, engine::onnx::OnnxModel campplus, engine::onnx::OnnxModel tokenizer);

  VoicePromptConfig config_;
  engine::onnx::OnnxModel campplus_model_;
  engine::onnx::OnnxModel tokenizer_model_;
  engine::onnx::OnnxInterpreter campplus_;
  engine::onnx::OnnxInterpreter tokenizer_;
};

}  // namespace cadence::speech::voice_prompt
