#include "speech/vad/vad.h"

#include "core/log.h"

namespace cadence::speech {

std::unique_ptr<VadModel> CreateVad(const VadConfig& config) {
  CADENCE_LOG(kInfo, "vad", "using the energy VAD (Silero VAD is not built yet)");
  return CreateEnergyVad();
}

}  // namespace cadence::speech
