// The 80-bin mel spectrogram of the 24 kHz voice prompt that the CosyVoice 2 / Step-Audio 2 flow
// model takes as its prompt condition (CosyVoice's matcha-style mel_spectrogram(y, n_fft=1920,
// num_mels=80, sampling_rate=24000, hop_size=480, win_size=1920, fmin=0, fmax=8000,
// center=False)): reflect padding of (n_fft - hop) / 2 = 720 samples on each side, frames of 1920
// every 480 samples (so frames = samples / 480, 50 per second), periodic Hann window, magnitude
// sqrt(re^2 + im^2 + 1e-9), Slaney mel filters (librosa.filters.mel, area-normalised) from 0 to
// 8000 Hz, natural log of max(x, 1e-5).
//
// Also the alignment to the prompt tokens (two mel frames per 25 Hz token): CosyVoice 2 crops
// both to the shorter, Step-Audio 2 pads the mel by repeating its last frame.
//
// Pure functions, safe from any thread.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "speech/asr/whisper/log_mel.h"

namespace cadence::speech::voice_prompt {

inline constexpr int kPromptMelSampleRateHz = 24000;
inline constexpr int kPromptMelFftSize = 1920;
inline constexpr int kPromptMelHopSamples = 480;
inline constexpr int kPromptMelBins = 80;
inline constexpr int kMelFramesPerToken = 2;

struct PromptMel {
  int n_mels = 0;
  int n_frames = 0;
  std::vector<float> data;  // [n_frames][n_mels], row-major (the flow model's [T, 80] prompt_feat)
  float at(int frame, int mel) const { return data[static_cast<size_t>(frame) * n_mels + mel]; }
};

// The filters: librosa.filters.mel with Slaney scale and norm, as Whisper's (one implementation).
using whisper::SlaneyMelFilterbank;

// InvalidArgument when the audio is too short to reflect-pad (720 samples or fewer).
Result<PromptMel> ComputePromptMel(std::span<const float> samples_24k);

enum class MelTokenAlignment {
  kCropToShorter,   // CosyVoice 2 frontend: tokens = min(tokens, frames / 2), frames = 2 * tokens
  kPadLastFrame,    // Step-Audio 2 token2wav: frames = 2 * tokens, padding repeats the last frame
};

// Makes mel->n_frames == kMelFramesPerToken * tokens->size() as `how` says.
void AlignMelToTokens(MelTokenAlignment how, PromptMel* mel, std::vector<int>* tokens);

}  // namespace cadence::speech::voice_prompt
