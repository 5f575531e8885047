#include "speech/vad/vad.h"

#include "core/log.h"
#include "speech/vad/silero_vad.h"

namespace cadence::speech {

std::unique_ptr<VadModel> CreateVad(const VadConfig& config) {
  // Silero VAD v5 when its ONNX file is there (--vad-model, else the npm package's copy), the
  // energy VAD otherwise; the log says which and why.
  std::string path = config.model_path;
  if (path.empty()) path = FindDefaultSileroModel();
  if (path.empty()) {
    CADENCE_LOG(kWarn, "vad", "using the energy VAD: no Silero model (pass --vad-model FILE.onnx, or run "
                "`npm install` in the repository for %s)", kSileroNpmRelativePath);
    return CreateEnergyVad();
  }
  auto silero = SileroVadModel::Load(path);
  if (!silero.ok()) {
    CADENCE_LOG(kWarn, "vad", "using the energy VAD: Silero model unusable: %s", silero.status().ToString().c_str());
    return CreateEnergyVad();
  }
  CADENCE_LOG(kInfo, "vad", "using Silero VAD v5 from %s", path.c_str());
  return std::move(silero).value();
}

}  // namespace cadence::speech
