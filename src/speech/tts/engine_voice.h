// EngineVoice: one voice of one synthesis engine (Flite or eSpeak NG), rendering plain text.
//
// Internal to speech/tts. Voices are created once and shared; Render() is safe from several
// threads at once (each engine serializes what it must). Output is mono float [-1, 1] at the
// engine's native rate (sample_rate_hz()); the synthesizer resamples to 24 kHz. Render() stops
// early, returning Cancelled, when `cancel` is set where the engine allows (eSpeak: every
// ~20 ms of audio; Flite: before and after the phrase).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"

namespace cadence::speech {

// Native prosody controls, relative to the voice's defaults.
struct EngineProsody {
  double rate = 1.0;         // speaking-rate multiplier (2 = twice as fast)
  double pitch_st = 0.0;     // mean F0 offset in semitones
  double pitch_range = 1.0;  // multiplier on F0 excursions
  double volume = 1.0;       // linear amplitude multiplier
};

class EngineVoice {
 public:
  virtual ~EngineVoice() = default;
  virtual int sample_rate_hz() const = 0;
  // False when the engine ignores EngineProsody::pitch_st/pitch_range for this voice, so the
  // caller must shift pitch on the waveform instead.
  virtual bool native_pitch() const { return true; }
  // How far (semitones) the voice's mean F0 moves by itself when pitch_range is applied; the
  // caller shifts by the negative so range and mean stay independent.
  virtual double MeanShiftFromRangeSt(double pitch_range) const { return 0.0; }
  virtual Status Render(std::string_view text, const EngineProsody& prosody, const CancelToken& cancel,
                        std::vector<float>* out) const = 0;
};

// Flite voice by Cadence id: "slt", "rms", "awb", "kal16". NotFound for other ids.
Result<std::shared_ptr<EngineVoice>> CreateFliteVoice(const std::string& id);
// eSpeak NG voice by eSpeak name, e.g. "cmn+f2", at eSpeak base pitch `base_pitch` (0-100).
// Unavailable if eSpeak NG cannot initialize.
Result<std::shared_ptr<EngineVoice>> CreateEspeakVoice(const std::string& espeak_name, int base_pitch = 50);

}  // namespace cadence::speech
