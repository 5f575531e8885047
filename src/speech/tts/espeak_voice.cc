// eSpeak NG voices. The library is one global synthesizer (voice, parameters, callback), so every
// render holds one process-wide mutex from selecting the voice to the last sample.
#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "core/log.h"
#include "speech/tts/engine_voice.h"

namespace cadence::speech {
namespace {

std::mutex g_espeak_mutex;
int g_espeak_rate_hz = 0;  // guarded by g_espeak_mutex; 0 until initialized, <0 on failure

struct RenderState {
  std::vector<float>* out;
  const CancelToken* cancel;
  float gain;
};

int OnSamples(short* wav, int num_samples, espeak_EVENT* events) {
  auto* state = static_cast<RenderState*>(events != nullptr ? events->user_data : nullptr);
  if (state == nullptr) return 0;
  for (int i = 0; wav != nullptr && i < num_samples; ++i) state->out->push_back(wav[i] * state->gain);
  return state->cancel->cancelled() ? 1 : 0;  // 1 aborts synthesis
}

// Requires g_espeak_mutex.
int EnsureInitialized() {
  if (g_espeak_rate_hz == 0) {
    // buflength 20 ms: the callback (and so the cancel check) runs every 20 ms of audio.
    int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 20, nullptr, espeakINITIALIZE_DONT_EXIT);
    g_espeak_rate_hz = rate > 0 ? rate : -1;
    if (rate > 0) espeak_SetSynthCallback(OnSamples);
    else CADENCE_LOG(kError, "tts", "espeak-ng failed to initialize (is espeak-ng-data installed?)");
  }
  return g_espeak_rate_hz;
}

class EspeakVoice final : public EngineVoice {
 public:
  EspeakVoice(std::string name, int rate_hz, int base_pitch)
      : name_(std::move(name)), rate_hz_(rate_hz), base_pitch_(base_pitch) {}
  int sample_rate_hz() const override { return rate_hz_; }
  // eSpeak's pitch parameter moved the measured F0 mean far less than its nominal scale (Praat:
  // ~2.7 st for 31 steps with range changing too), so mean pitch is shifted on the waveform.
  bool native_pitch() const override { return false; }
  // Measured with Praat on cmn-f: widening eSpeak's range lowers the mean (range ×2: −3.0 st;
  // ×0.44: +1.6 st), since the contour grows mostly downward.
  double MeanShiftFromRangeSt(double pitch_range) const override {
    double octaves = std::log2(std::clamp(pitch_range, 0.05, 2.0));
    return octaves >= 0 ? -3.0 * octaves : -1.4 * octaves;
  }

  Status Render(std::string_view text, const EngineProsody& prosody, const CancelToken& cancel,
                std::vector<float>* out) const override {
    if (cancel.cancelled()) return Status::Cancelled("synthesis cancelled");
    std::string input(text);
    std::lock_guard<std::mutex> lock(g_espeak_mutex);
    if (espeak_SetVoiceByName(name_.c_str()) != EE_OK)
      return Status::NotFound("espeak-ng has no voice '" + name_ + "'");
    int rate_wpm = static_cast<int>(std::lround(espeakRATE_NORMAL * prosody.rate));
    espeak_SetParameter(espeakRATE, std::clamp(rate_wpm, espeakRATE_MINIMUM, espeakRATE_MAXIMUM), 0);
    // Range (0-100, 50 default) scales F0 excursions; it works natively (Praat: 1.7 vs 6.3 st).
    espeak_SetParameter(espeakPITCH, base_pitch_, 0);
    espeak_SetParameter(espeakRANGE, std::clamp(static_cast<int>(std::lround(50 * prosody.pitch_range)), 0, 100), 0);
    espeak_SetParameter(espeakVOLUME, 100, 0);
    RenderState state{out, &cancel, static_cast<float>(prosody.volume / 32768.0)};
    espeak_ERROR err = espeak_Synth(input.c_str(), input.size() + 1, 0, POS_CHARACTER, 0,
                                    espeakCHARS_UTF8, nullptr, &state);
    if (err != EE_OK) return Status::Internal("espeak-ng synthesis failed (error " + std::to_string(err) + ")");
    espeak_Synchronize();
    if (cancel.cancelled()) return Status::Cancelled("synthesis cancelled");
    return Status::Ok();
  }

 private:
  std::string name_;
  int rate_hz_;
  int base_pitch_;
};

}  // namespace

Result<std::shared_ptr<EngineVoice>> CreateEspeakVoice(const std::string& espeak_name, int base_pitch) {
  std::lock_guard<std::mutex> lock(g_espeak_mutex);
  int rate = EnsureInitialized();
  if (rate <= 0) return Status::Unavailable("espeak-ng failed to initialize; install espeak-ng-data");
  if (espeak_SetVoiceByName(espeak_name.c_str()) != EE_OK)
    return Status::NotFound("espeak-ng has no voice '" + espeak_name + "'");
  return std::shared_ptr<EngineVoice>(std::make_shared<EspeakVoice>(espeak_name, rate, std::clamp(base_pitch, 0, 100)));
}

}  // namespace cadence::speech
