#include "speech/asr/recognizer.h"

#include "speech/asr/pocketsphinx_recognizer.h"
#include "speech/asr/whisper/whisper_recognizer.h"

namespace cadence::speech {

Result<std::unique_ptr<Recognizer>> CreateRecognizer(const RecognizerConfig& config) {
  if (!config.model_path.empty()) {
    whisper::WhisperOptions options;
    options.language = config.language;
    options.beam_size = config.beam_size;
    options.encode_padding = config.encode_padding;
    options.temperature_increment = config.temperature_increment;
    auto whisper = whisper::WhisperRecognizer::Create(config.model_path, options);
    if (!whisper.ok()) return whisper.status().WithContext("--asr-model");
    return std::unique_ptr<Recognizer>(std::move(whisper).value());
  }
  if (config.language == "zh")
    return Status::Unimplemented("PocketSphinx here has only the US English model; Mandarin recognition "
                                 "needs a Whisper model (--asr-model FILE); use language \"en\" or \"\"");
  if (!config.language.empty() && config.language != "en")
    return Status::InvalidArgument("recognizer language '" + config.language + "' is not supported; use \"en\", \"zh\" or \"\"");
  PocketSphinxConfig pocketsphinx;
  pocketsphinx.model_dir = DefaultPocketSphinxModelDir();
  pocketsphinx.single_pass = config.fast;
  pocketsphinx.preload_decoders = config.preload;
  pocketsphinx.max_decoders = config.max_decoders;
  return CreatePocketSphinxRecognizer(pocketsphinx);
}

}  // namespace cadence::speech
