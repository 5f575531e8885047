#include "audio/pcm.h"

#include <algorithm>
#include <cmath>

namespace cadence::audio {

std::string_view SampleFormatName(SampleFormat format) {
  switch (format) {
    case SampleFormat::kPcm16: return "pcm16";
    case SampleFormat::kG711Ulaw: return "g711_ulaw";
    case SampleFormat::kG711Alaw: return "g711_alaw";
  }
  return "pcm16";
}

bool ParseSampleFormat(std::string_view name, SampleFormat* format) {
  if (name == "pcm16") *format = SampleFormat::kPcm16;
  else if (name == "g711_ulaw") *format = SampleFormat::kG711Ulaw;
  else if (name == "g711_alaw") *format = SampleFormat::kG711Alaw;
  else return false;
  return true;
}

int SampleFormatRateHz(SampleFormat format) { return format == SampleFormat::kPcm16 ? 24000 : 8000; }
int SampleFormatBytes(SampleFormat format) { return format == SampleFormat::kPcm16 ? 2 : 1; }

float Pcm16ToFloat(int16_t s) { return static_cast<float>(s) / 32768.0f; }

int16_t FloatToPcm16(float x) {
  const float scaled = std::lrintf(std::clamp(x, -1.0f, 1.0f) * 32767.0f);
  return static_cast<int16_t>(scaled);
}

// G.711 per ITU-T G.711 (the classic Sun reference algorithm).
uint8_t LinearToUlaw(int16_t pcm) {
  constexpr int kBias = 0x84;
  constexpr int kClip = 32635;
  int sign = (pcm >> 8) & 0x80;
  int sample = pcm;
  if (sign) sample = -sample;
  if (sample > kClip) sample = kClip;
  sample += kBias;
  int exponent = 7;
  for (int mask = 0x4000; (sample & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  const int mantissa = (sample >> (exponent + 3)) & 0x0F;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

int16_t UlawToLinear(uint8_t code) {
  code = ~code;
  const int sign = code & 0x80;
  const int exponent = (code >> 4) & 0x07;
  const int mantissa = code & 0x0F;
  int sample = ((mantissa << 3) + 0x84) << exponent;
  sample -= 0x84;
  return static_cast<int16_t>(sign ? -sample : sample);
}

uint8_t LinearToAlaw(int16_t pcm) {
  int sample = pcm;
  int sign = 0x80;
  if (sample < 0) {
    sign = 0;
    sample = -sample - 1;
  }
  if (sample > 32767) sample = 32767;
  int exponent;
  int mantissa;
  if (sample >= 256) {
    exponent = 7;
    for (int mask = 0x4000; (sample & mask) == 0 && exponent > 1; mask >>= 1) --exponent;
    mantissa = (sample >> (exponent + 3)) & 0x0F;
  } else {
    exponent = 0;
    mantissa = sample >> 4;
  }
  return static_cast<uint8_t>((sign | (exponent << 4) | mantissa) ^ 0x55);
}

int16_t AlawToLinear(uint8_t code) {
  code ^= 0x55;
  const int sign = code & 0x80;
  const int exponent = (code >> 4) & 0x07;
  const int mantissa = code & 0x0F;
  int sample = (mantissa << 4) + 8;
  if (exponent != 0) sample = (sample + 0x100) << (exponent - 1);
  return static_cast<int16_t>(sign ? sample : -sample);
}

void DecodeSamples(SampleFormat format, std::span<const uint8_t> bytes, std::vector<float>* out) {
  switch (format) {
    case SampleFormat::kPcm16: {
      const size_t n = bytes.size() / 2;
      out->reserve(out->size() + n);
      for (size_t i = 0; i < n; ++i) {
        const int16_t s = static_cast<int16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8));
        out->push_back(Pcm16ToFloat(s));
      }
      break;
    }
    case SampleFormat::kG711Ulaw:
      out->reserve(out->size() + bytes.size());
      for (uint8_t b : bytes) out->push_back(Pcm16ToFloat(UlawToLinear(b)));
      break;
    case SampleFormat::kG711Alaw:
      out->reserve(out->size() + bytes.size());
      for (uint8_t b : bytes) out->push_back(Pcm16ToFloat(AlawToLinear(b)));
      break;
  }
}

void EncodeSamples(SampleFormat format, std::span<const float> samples, std::vector<uint8_t>* out) {
  switch (format) {
    case SampleFormat::kPcm16:
      out->reserve(out->size() + samples.size() * 2);
      for (float x : samples) {
        const uint16_t s = static_cast<uint16_t>(FloatToPcm16(x));
        out->push_back(static_cast<uint8_t>(s & 0xFF));
        out->push_back(static_cast<uint8_t>(s >> 8));
      }
      break;
    case SampleFormat::kG711Ulaw:
      out->reserve(out->size() + samples.size());
      for (float x : samples) out->push_back(LinearToUlaw(FloatToPcm16(x)));
      break;
    case SampleFormat::kG711Alaw:
      out->reserve(out->size() + samples.size());
      for (float x : samples) out->push_back(LinearToAlaw(FloatToPcm16(x)));
      break;
  }
}

}  // namespace cadence::audio
