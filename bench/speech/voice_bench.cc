// `cadence bench voice --voice-model DIR [--voice-token2wav DIR]`: the neural voice's parts and the
// whole. (1) CosyVoice 2's speech-token LM: the prompt (sos, prompt text + text, task id, prompt
// speech tokens) and the speech tokens per second of greedy decode after it (25 per second of
// audio are needed for real time). (2) The voice prompt: a 5-s clip (Flite's slt) through the
// features, CAM++ and the speech tokenizer. (3) `say` through the neural synthesizer: time to the
// first audio chunk and the real-time factor. Random weights in the published shapes come from
// tools/engine/token2wav/cosyvoice_lm_reference.py --published-shape DIR and
// make_tiny_token2wav.py / make_voice_prompt_onnx.py --published-shape/--published-size DIR.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/command.h"
#include "engine/models/cosyvoice_lm.h"
#include "speech/tts/engine_voice.h"
#include "speech/tts/neural_synthesizer.h"
#include "speech/voice_prompt/voice_prompt_encoder.h"

namespace cadence::bench {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int RunVoiceBench(int argc, char** argv) {
  cli::Flags flags("cadence bench voice --voice-model DIR [--voice-token2wav DIR] [--threads N] [--tokens N]");
  flags.String("voice-model", "DIR", "a CosyVoice 2 folder (llm.pt + CosyVoice-BlankEN/)");
  flags.String("voice-token2wav", "DIR", "a token2wav folder with campplus.onnx and the tokenizer (default: --voice-model)");
  flags.Int("threads", "N", "compute threads", 2, 1, 256);
  flags.Int("tokens", "N", "speech tokens decoded for the LM figure", 64, 1, 4096);
  flags.Int("steps", "N", "flow Euler steps for the say figure (0: the model's)", 0, 0, 100);
  flags.Choice("lm-weights", "the LM's layers: q8_0 (quantized at load, the server's default) or f32", {"q8_0", "f32"},
               "q8_0");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const std::string lm_dir = flags.Get("voice-model");
  const std::string t2w_dir = flags.Get("voice-token2wav").empty() ? lm_dir : flags.Get("voice-token2wav");
  if (lm_dir.empty()) {
    std::fprintf(stderr, "error: --voice-model DIR is required\n");
    return 2;
  }
  const int threads = flags.GetInt("threads");

  // (1) The LM.
  engine::LoadOptions options;
  options.threads = threads;
  options.quantize_q8_0 = flags.Get("lm-weights") == "q8_0";
  auto t0 = Clock::now();
  auto lm = engine::CosyVoiceLm::Load(lm_dir, options);
  if (!lm.ok()) {
    std::fprintf(stderr, "error: %s\n", lm.status().ToString().c_str());
    return 1;
  }
  const double load_s = Since(t0);
  std::vector<engine::TokenId> text, prompt_text;
  std::vector<int> prompt_speech;
  for (int i = 0; i < 40; ++i) text.push_back(100 + i);
  for (int i = 0; i < 20; ++i) prompt_text.push_back(300 + i);
  for (int i = 0; i < 50; ++i) prompt_speech.push_back(100 * i);
  engine::CosyVoiceSampling greedy;
  greedy.greedy = true;
  greedy.max_token_text_ratio = 1000;  // decode the asked number of tokens, whatever the model says
  greedy.min_token_text_ratio = 1000;
  const int n = flags.GetInt("tokens");
  std::vector<Clock::time_point> at;
  t0 = Clock::now();
  auto out = (*lm)->Generate(text, prompt_text, prompt_speech, greedy, 0, [&](int) {
    at.push_back(Clock::now());
    return static_cast<int>(at.size()) < n + 1;
  });
  if (!out.ok() || at.size() < 2) {
    std::fprintf(stderr, "error: %s\n", out.ok() ? "too few tokens" : out.status().ToString().c_str());
    return 1;
  }
  const double prefill_s = std::chrono::duration<double>(at.front() - t0).count();
  const double decode_s = std::chrono::duration<double>(at.back() - at.front()).count();
  std::printf("voice bench, %d thread(s)\n", threads);
  std::printf("  LM %s (%s layers): load %.1f s; prompt of %zu positions + first token %.0f ms; %zu tokens at %.1f tokens/s "
              "(real time needs 25)\n",
              lm_dir.c_str(), flags.Get("lm-weights").c_str(), load_s, 2 + prompt_text.size() + text.size() + prompt_speech.size(), prefill_s * 1e3,
              at.size() - 1, (at.size() - 1) / decode_s);
  lm->reset();

  // (2) The voice prompt, 5 s of Flite's slt.
  auto slt = speech::CreateFliteVoice("slt");
  if (!slt.ok()) {
    std::fprintf(stderr, "error: %s\n", slt.status().ToString().c_str());
    return 1;
  }
  std::vector<float> clip;
  (void)(*slt)->Render("It is a bright morning, and I am glad to help you with whatever you need today, my friend.",
                       speech::EngineProsody{}, CancelToken{}, &clip);
  clip.resize(static_cast<size_t>(5 * (*slt)->sample_rate_hz()), 0.0f);
  speech::voice_prompt::VoicePromptConfig prompt_config;
  prompt_config.campplus_path = (std::filesystem::path(t2w_dir) / "campplus.onnx").string();
  prompt_config.tokenizer_path = (std::filesystem::path(t2w_dir) / "speech_tokenizer_v2_25hz.onnx").string();
  t0 = Clock::now();
  auto encoder = speech::voice_prompt::VoicePromptEncoder::Create(prompt_config);
  if (!encoder.ok()) {
    std::fprintf(stderr, "error: %s\n", encoder.status().ToString().c_str());
    return 1;
  }
  const double encoder_load_s = Since(t0);
  t0 = Clock::now();
  auto prompt = (*encoder)->EncodeAudio(clip, (*slt)->sample_rate_hz());
  if (!prompt.ok()) {
    std::fprintf(stderr, "error: %s\n", prompt.status().ToString().c_str());
    return 1;
  }
  std::printf("  voice prompt (5 s): graphs loaded in %.1f s; features + CAM++ + tokenizer %.2f s\n", encoder_load_s,
              Since(t0));
  encoder->reset();

  // (3) The whole voice.
  speech::NeuralVoiceConfig config;
  config.lm_dir = lm_dir;
  config.token2wav_dir = t2w_dir;
  config.threads = threads;
  config.n_timesteps = flags.GetInt("steps");
  config.lm_q8_0 = flags.Get("lm-weights") == "q8_0";
  auto synth = speech::CreateNeuralSynthesizer(config);
  if (!synth.ok()) {
    std::fprintf(stderr, "error: %s\n", synth.status().ToString().c_str());
    return 1;
  }
  speech::SynthesisRequest request;
  request.text = "Hello there, it is good to hear from you again today.";
  request.voice = (*synth)->Voices().front().id;
  double first_s = -1;
  size_t samples = 0;
  t0 = Clock::now();
  Status said = (*synth)->Synthesize(request, CancelToken(), [&](std::span<const float> pcm) {
    if (first_s < 0) first_s = Since(t0);
    samples += pcm.size();
    return true;
  });
  const double total_s = Since(t0);
  if (!said.ok()) {
    std::fprintf(stderr, "error: %s\n", said.ToString().c_str());
    return 1;
  }
  const double audio_s = static_cast<double>(samples) / speech::kTtsSampleRateHz;
  std::printf("  say (%zu characters): first audio after %.0f ms; %.2f s of audio in %.2f s (RTF %.2f)\n",
              request.text.size(), first_s * 1e3, audio_s, total_s, audio_s > 0 ? total_s / audio_s : 0.0);
  return 0;
}

}  // namespace

CADENCE_BENCH(voice, "neural voice: LM tokens/s, voice-prompt encoding, say's first audio and RTF", RunVoiceBench);

}  // namespace cadence::bench
