// Flite voices. Each utterance gets its own features layered over the shared voice's (utt_init
// links them), so prosody overrides never mutate the voice; a per-voice mutex still serializes
// synthesis because Flite does not document its voices as re-entrant.
#include <algorithm>
#include <cmath>
#include <mutex>

extern "C" {
#include <flite/flite.h>
cst_voice* register_cmu_us_slt(const char* voxdir);
cst_voice* register_cmu_us_rms(const char* voxdir);
cst_voice* register_cmu_us_awb(const char* voxdir);
cst_voice* register_cmu_us_kal16(const char* voxdir);
}

#include "speech/tts/engine_voice.h"

namespace cadence::speech {
namespace {

std::once_flag g_flite_init;

class FliteVoice final : public EngineVoice {
 public:
  // `f0_mean_hz`/`f0_stddev_hz`: the int_f0_target_* values that reproduce the voice's own
  // intonation (measured with Praat: a voice whose features lack them renders at its model's F0,
  // and setting 100 Hz would move it); 0 when the voice ignores these features (rms).
  FliteVoice(cst_voice* voice, float f0_mean_hz, float f0_stddev_hz)
      : voice_(voice), f0_mean_hz_(f0_mean_hz), f0_stddev_hz_(f0_stddev_hz) {
    stretch_ = get_param_float(voice_->features, "duration_stretch", 1.0f);
    sample_rate_hz_ = get_param_int(voice_->features, "sample_rate", 16000);
  }

  int sample_rate_hz() const override { return sample_rate_hz_; }
  bool native_pitch() const override { return f0_mean_hz_ > 0; }

  Status Render(std::string_view text, const EngineProsody& prosody, const CancelToken& cancel,
                std::vector<float>* out) const override {
    if (cancel.cancelled()) return Status::Cancelled("synthesis cancelled");
    std::string input(text);
    std::lock_guard<std::mutex> lock(mutex_);
    cst_utterance* utt = new_utterance();
    utt_set_input_text(utt, input.c_str());
    utt_init(utt, voice_);
    double rate = std::clamp(prosody.rate, 0.25, 4.0);
    feat_set_float(utt->features, "duration_stretch", static_cast<float>(stretch_ / rate));
    if (native_pitch() && (prosody.pitch_st != 0.0 || prosody.pitch_range != 1.0)) {
      double f0_scale = std::pow(2.0, prosody.pitch_st / 12.0);
      feat_set_float(utt->features, "int_f0_target_mean", static_cast<float>(f0_mean_hz_ * f0_scale));
      feat_set_float(utt->features, "int_f0_target_stddev",
                     static_cast<float>(f0_stddev_hz_ * f0_scale * std::clamp(prosody.pitch_range, 0.0, 4.0)));
    }
    if (utt_synth(utt) == nullptr) {
      // utt_synth frees nothing on failure; the utterance is ours to delete.
      delete_utterance(utt);
      return Status::Internal("flite could not synthesize the text \"" + input.substr(0, 60) + "\"");
    }
    cst_wave* wave = utt_wave(utt);
    if (wave != nullptr) {
      int n = cst_wave_num_samples(wave);
      float gain = static_cast<float>(prosody.volume / 32768.0);
      out->reserve(out->size() + n);
      for (int i = 0; i < n; ++i) out->push_back(wave->samples[i] * gain);
    }
    delete_utterance(utt);
    return Status::Ok();
  }

 private:
  cst_voice* voice_;  // registered once, lives for the process
  float f0_mean_hz_, f0_stddev_hz_, stretch_;
  int sample_rate_hz_;
  mutable std::mutex mutex_;
};

}  // namespace

Result<std::shared_ptr<EngineVoice>> CreateFliteVoice(const std::string& id) {
  std::call_once(g_flite_init, [] { flite_init(); });
  // Registration builds large tables; do it once per id for the whole process.
  static std::mutex registry_mutex;
  static std::vector<std::pair<std::string, std::shared_ptr<EngineVoice>>> registry;
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (const auto& [name, voice] : registry)
    if (name == id) return voice;
  cst_voice* voice = nullptr;
  float mean_hz = 0, stddev_hz = 0;
  if (id == "slt") voice = register_cmu_us_slt(nullptr), mean_hz = 170, stddev_hz = 27;
  else if (id == "rms") voice = register_cmu_us_rms(nullptr);
  else if (id == "awb") voice = register_cmu_us_awb(nullptr), mean_hz = 129, stddev_hz = 25;
  else if (id == "kal16") voice = register_cmu_us_kal16(nullptr), mean_hz = 92, stddev_hz = 15;
  else return Status::NotFound("no Flite voice '" + id + "' (have slt, rms, awb, kal16)");
  if (voice == nullptr) return Status::Unavailable("Flite could not register voice '" + id + "'");
  auto shared = std::shared_ptr<EngineVoice>(std::make_shared<FliteVoice>(voice, mean_hz, stddev_hz));
  registry.emplace_back(id, shared);
  return shared;
}

}  // namespace cadence::speech
