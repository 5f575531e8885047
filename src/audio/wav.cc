#include "audio/wav.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

#include "audio/pcm.h"

namespace cadence::audio {
namespace {

// Above any real audio rate (768 kHz is the highest ADCs offer); keeps rate * 2 within an int.
constexpr uint32_t kMaxSampleRateHz = 1'000'000;

uint32_t U32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24); }
uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

void PutU32(std::vector<uint8_t>* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU16(std::vector<uint8_t>* out, uint16_t v) {
  out->push_back(static_cast<uint8_t>(v));
  out->push_back(static_cast<uint8_t>(v >> 8));
}

}  // namespace

Result<Waveform> ParseWav(std::span<const uint8_t> b, const std::string& name) {
  if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 || std::memcmp(b.data() + 8, "WAVE", 4) != 0)
    return Status::InvalidArgument(name + ": not a RIFF/WAVE file");
  uint16_t format_tag = 0, channels = 0, bits = 0;
  uint32_t rate = 0;
  const uint8_t* data = nullptr;
  size_t data_size = 0;
  size_t pos = 12;
  while (pos + 8 <= b.size()) {
    const uint8_t* chunk = b.data() + pos;
    const uint32_t size = U32(chunk + 4);
    const size_t body = pos + 8;
    const size_t avail = b.size() - body;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (size < 16 || avail < 16) return Status::InvalidArgument(name + ": truncated 'fmt ' chunk");
      format_tag = U16(chunk + 8);
      channels = U16(chunk + 10);
      rate = U32(chunk + 12);
      bits = U16(chunk + 22);
      if (format_tag == 0xFFFE && size >= 40 && avail >= 40) format_tag = U16(chunk + 32);  // extensible
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      data = chunk + 8;
      data_size = std::min<size_t>(size, avail);  // tolerate streaming writers' bogus sizes
      break;
    }
    pos = body + size + (size & 1);
  }
  if (channels == 0 || rate == 0) return Status::InvalidArgument(name + ": missing or empty 'fmt ' chunk");
  if (rate > kMaxSampleRateHz)
    return Status::InvalidArgument(name + ": sample rate " + std::to_string(rate) + " Hz is beyond any audio rate (at most " +
                                   std::to_string(kMaxSampleRateHz) + ")");
  if (!data) return Status::InvalidArgument(name + ": no 'data' chunk");
  const bool is_float = format_tag == 3;
  if (!(format_tag == 1 || is_float))
    return Status::InvalidArgument(name + ": unsupported WAV format tag " + std::to_string(format_tag) +
                                   " (need PCM or IEEE float)");
  if ((is_float && bits != 32) || (!is_float && bits != 8 && bits != 16 && bits != 24 && bits != 32))
    return Status::InvalidArgument(name + ": unsupported bits per sample " + std::to_string(bits));
  const size_t bytes_per_sample = bits / 8;
  const size_t frame_bytes = bytes_per_sample * channels;
  const size_t frames = data_size / frame_bytes;
  Waveform w;
  w.sample_rate_hz = static_cast<int>(rate);
  w.samples.resize(frames);
  for (size_t f = 0; f < frames; ++f) {
    double acc = 0;
    for (size_t c = 0; c < channels; ++c) {
      const uint8_t* p = data + f * frame_bytes + c * bytes_per_sample;
      double x = 0;
      if (is_float) {
        float v;
        std::memcpy(&v, p, 4);
        // NaN and infinities carry no signal; out-of-range values clip, as a DAC would.
        x = std::isfinite(v) ? std::clamp(static_cast<double>(v), -1.0, 1.0) : 0.0;
      } else if (bits == 8) {
        x = (static_cast<int>(p[0]) - 128) / 128.0;
      } else if (bits == 16) {
        x = static_cast<int16_t>(U16(p)) / 32768.0;
      } else if (bits == 24) {
        const auto v = static_cast<int32_t>((uint32_t(p[0]) << 8) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 24));
        x = (v >> 8) / 8388608.0;
      } else {
        x = static_cast<int32_t>(U32(p)) / 2147483648.0;
      }
      acc += x;
    }
    w.samples[f] = static_cast<float>(acc / channels);
  }
  return w;
}

Result<Waveform> ReadWav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseWav(bytes, path);
}

std::vector<uint8_t> EncodeWav(const Waveform& wave) {
  std::vector<uint8_t> out;
  const uint32_t data_bytes = static_cast<uint32_t>(wave.samples.size() * 2);
  out.reserve(44 + data_bytes);
  out.insert(out.end(), {'R', 'I', 'F', 'F'});
  PutU32(&out, 36 + data_bytes);
  out.insert(out.end(), {'W', 'A', 'V', 'E', 'f', 'm', 't', ' '});
  PutU32(&out, 16);
  PutU16(&out, 1);
  PutU16(&out, 1);
  PutU32(&out, static_cast<uint32_t>(wave.sample_rate_hz));
  PutU32(&out, static_cast<uint32_t>(wave.sample_rate_hz * 2));
  PutU16(&out, 2);
  PutU16(&out, 16);
  out.insert(out.end(), {'d', 'a', 't', 'a'});
  PutU32(&out, data_bytes);
  EncodeSamples(SampleFormat::kPcm16, wave.samples, &out);
  return out;
}

Status WriteWav(const std::string& path, const Waveform& wave) {
  const auto bytes = EncodeWav(wave);
  std::ofstream out(path, std::ios::binary);
  if (!out) return Status::NotFound(path + ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) return Status::DataLoss(path + ": write failed");
  return Status::Ok();
}

}  // namespace cadence::audio
