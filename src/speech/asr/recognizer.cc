#include "speech/asr/recognizer.h"

#include "speech/asr/pocketsphinx_recognizer.h"

namespace cadence::speech {

Result<std::unique_ptr<Recognizer>> CreateRecognizer(const RecognizerConfig& config) {
  if (!config.model_path.empty())
    return Status::Unimplemented("Whisper recognition is not built yet (model_path '" + config.model_path +
                                 "'); leave the ASR model path empty to use PocketSphinx");
  if (config.language == "zh")
    return Status::Unimplemented("PocketSphinx here has only the US English model; Mandarin recognition "
                                 "needs Whisper (not built yet); use language \"en\" or \"\"");
  if (!config.language.empty() && config.language != "en")
    return Status::InvalidArgument("recognizer language '" + config.language + "' is not supported; use \"en\", \"zh\" or \"\"");
  return CreatePocketSphinxRecognizer({DefaultPocketSphinxModelDir()});
}

}  // namespace cadence::speech
