// `cadence say`: text (with inline style tags) → WAV, through the speech synthesizer.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "audio/wav.h"
#include "cli/command.h"
#include "speech/tts/style_parser.h"
#include "speech/tts/neural_synthesizer.h"
#include "speech/tts/synthesizer.h"

namespace cadence::cli {
namespace {

int RunSay(int argc, char** argv) {
  Flags flags("cadence say [--voice V] [--tone EMOTION] [--lang en|zh|yue] [--speed X] \"text [laughs] more\" -o out.wav\n"
              "       cadence say --voice-model DIR [--voice-token2wav DIR] [--voice-prompt NAME=FILE.wav:TEXT] ... "
              "(the neural voice)");
  flags.String("voice", "V", "voice: slt rms awb kal16 cmn-f cmn-m yue-f yue-m, or alloy ash ballad coral echo sage shimmer "
                             "verse marin cedar qingchunshaonv wenrounansheng", "slt");
  flags.String("tone", "EMOTION", "scene tone: neutral happy excited angry sad tired tender calm whisper", "neutral");
  flags.String("lang", "LANG", "en | zh | yue (default: en or zh, detected per sentence)");
  flags.Double("speed", "X", "speaking-rate multiplier", 1.0, 0.25, 4.0);
  flags.String("out", "FILE", "output WAV (24 kHz mono pcm16)");
  flags.Short('o', "out");
  flags.Switch("transcript", "also print the spoken words (tags removed)");
  flags.String("voice-model", "DIR", "neural voice: a CosyVoice 2 folder (llm.pt + CosyVoice-BlankEN/)");
  flags.String("voice-token2wav", "DIR", "neural voice: the token2wav folder (default: --voice-model)");
  flags.String("voice-prompt", "NAME=FILE.wav:TEXT", "neural voice: a voice from a prompt clip and its transcript");
  flags.Int("voice-steps", "N", "neural voice: flow Euler steps (0: the model's)", 0, 0, 100);
  flags.Choice("voice-lm-weights", "neural voice: the LM's layers as q8_0 (quantized at load) or f32", {"q8_0", "f32"},
               "q8_0");
  flags.Int("threads", "N", "neural voice: compute threads", 2, 1, 256);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.positional().empty() || flags.Get("out").empty()) {
    std::fprintf(stderr, "error: say needs the text and -o FILE\n%s", flags.Help().c_str());
    return 2;
  }
  std::string text;
  for (const auto& p : flags.positional()) text += (text.empty() ? "" : " ") + p;

  const bool neural = !flags.Get("voice-model").empty();
  Result<std::unique_ptr<speech::Synthesizer>> synth = Status::Internal("unset");
  if (neural) {
    speech::NeuralVoiceConfig config;
    config.lm_dir = flags.Get("voice-model");
    config.token2wav_dir = flags.Get("voice-token2wav");
    config.n_timesteps = flags.GetInt("voice-steps");
    config.threads = flags.GetInt("threads");
    config.lm_q8_0 = flags.Get("voice-lm-weights") == "q8_0";
    if (!flags.Get("voice-prompt").empty()) {
      auto prompt = speech::ParseVoicePrompt(flags.Get("voice-prompt"));
      if (!prompt.ok()) {
        std::fprintf(stderr, "error: %s\n", prompt.status().ToString().c_str());
        return 2;
      }
      config.prompts.push_back(*prompt);
    }
    std::fprintf(stderr, "loading the neural voice from %s ...\n", config.lm_dir.c_str());
    synth = speech::CreateNeuralSynthesizer(config);
  } else {
    synth = speech::CreateSynthesizer({});
  }
  if (!synth.ok()) {
    std::fprintf(stderr, "error: %s\n", synth.status().ToString().c_str());
    return 1;
  }
  speech::SynthesisRequest request;
  request.text = text;
  request.voice = flags.Get("voice");
  if (neural) {
    auto voice = (*synth)->ResolveVoice(request.voice);
    request.voice = voice.ok() ? *voice : (*synth)->Voices().front().id;
  }
  request.language = flags.Get("lang");
  request.tone.emotion = flags.Get("tone");  // the synthesizer applies the emotion's preset
  request.speed = flags.GetDouble("speed");

  audio::Waveform wave{speech::kTtsSampleRateHz, {}};
  auto start = std::chrono::steady_clock::now();
  double first_chunk_ms = -1;
  Status status = (*synth)->Synthesize(request, CancelToken(), [&](std::span<const float> pcm) {
    if (first_chunk_ms < 0)
      first_chunk_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    wave.samples.insert(wave.samples.end(), pcm.begin(), pcm.end());
    return true;
  });
  double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return 1;
  }
  Status written = audio::WriteWav(flags.Get("out"), wave);
  if (!written.ok()) {
    std::fprintf(stderr, "error: %s\n", written.ToString().c_str());
    return 1;
  }
  if (flags.On("transcript")) std::printf("transcript: %s\n", speech::SpokenText(text).c_str());
  std::printf("wrote %s: %.2f s of audio in %.0f ms (first chunk after %.0f ms)\n", flags.Get("out").c_str(),
              wave.duration_s(), total_ms, first_chunk_ms);
  return 0;
}

}  // namespace

CADENCE_COMMAND(say, "synthesize text (with style tags) to a WAV file", RunSay);

}  // namespace cadence::cli
