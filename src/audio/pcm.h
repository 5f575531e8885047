// Sample formats: 16-bit little-endian PCM and G.711 (mu-law, A-law) to and from float [-1, 1].
//
// Pure functions, no allocation beyond the output vector; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cadence::audio {

// The wire formats of the Realtime protocol.
enum class SampleFormat { kPcm16, kG711Ulaw, kG711Alaw };

// "pcm16" | "g711_ulaw" | "g711_alaw"; ParseSampleFormat returns false for anything else.
std::string_view SampleFormatName(SampleFormat format);
bool ParseSampleFormat(std::string_view name, SampleFormat* format);
// Wire sample rate: 24000 for pcm16, 8000 for G.711.
int SampleFormatRateHz(SampleFormat format);
// Bytes per sample on the wire: 2 for pcm16, 1 for G.711.
int SampleFormatBytes(SampleFormat format);

float Pcm16ToFloat(int16_t s);
int16_t FloatToPcm16(float x);  // clamps to [-1, 1]

uint8_t LinearToUlaw(int16_t pcm);
int16_t UlawToLinear(uint8_t code);
uint8_t LinearToAlaw(int16_t pcm);
int16_t AlawToLinear(uint8_t code);

// Decodes wire bytes into floats, appending to `out`. For pcm16 an odd trailing byte is ignored;
// callers that must reject odd lengths check `bytes.size()` first.
void DecodeSamples(SampleFormat format, std::span<const uint8_t> bytes, std::vector<float>* out);
// Encodes floats into wire bytes, appending to `out`.
void EncodeSamples(SampleFormat format, std::span<const float> samples, std::vector<uint8_t>* out);

}  // namespace cadence::audio
