// `cadence chat`: one spoken turn with an end-to-end speech model (Step-Audio 2) — a WAV and/or
// text in, the answer's text printed and its speech written as a WAV. For scripts and for checking
// a download: `cadence chat --model Step-Audio-2-mini --audio question.wav -o answer.wav`.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "audio/resampler.h"
#include "audio/wav.h"
#include "brain/step_audio_brain.h"
#include "cli/command.h"
#include "speech/tts/token_voices.h"

namespace cadence::cli {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

Result<std::vector<float>> ReadAudio16k(const std::string& path) {
  auto wav = audio::ReadWav(path);
  if (!wav.ok()) return wav.status().WithContext("--audio");
  if (wav->sample_rate_hz == 16000) return std::move(wav->samples);
  audio::Resampler to16k(wav->sample_rate_hz, 16000);
  std::vector<float> out;
  to16k.Process(wav->samples, &out);
  to16k.Flush(&out);
  return out;
}

int RunChat(int argc, char** argv) {
  Flags flags("cadence chat --model DIR (--audio IN.wav | --text T) [-o OUT.wav] [--instructions TEXT]\n"
              "       cadence chat --llm-url http://HOST:8000/v1 --voice-token2wav DIR --audio IN.wav -o OUT.wav");
  flags.String("model", "DIR", "the Step-Audio 2 folder (a download of stepfun-ai/Step-Audio-2-mini)");
  flags.String("llm-url", "URL", "StepFun's vLLM backend serving Step-Audio 2 instead of --model (key: CADENCE_LLM_API_KEY)");
  flags.String("llm-model", "NAME", "the model name the vLLM backend serves", "step-audio-2-mini");
  flags.String("audio", "FILE", "the user's turn as a WAV file (any rate; resampled to 16 kHz)");
  flags.String("text", "TEXT", "the user's turn as text (with --audio: sent after the audio as the transcript is not)");
  flags.String("instructions", "TEXT", "instructions for the assistant (added to the default persona's system prompt)");
  flags.String("out", "FILE", "write the spoken answer here (24 kHz WAV); without it the answer is text only");
  flags.Short('o', "out");
  flags.String("voice-token2wav", "DIR", "the token2wav folder that renders the speech (default: --model/token2wav)");
  flags.String("voice-prompt", "NAME=FILE.wav:TEXT", "the voice: a prompt clip and its transcript (default: Flite slt)");
  flags.Int("voice-steps", "N", "flow Euler steps (0: the model's 10)", 0, 0, 100);
  flags.Int("max-tokens", "N", "tokens to generate at most", 1024, 1, 16384);
  flags.Double("temp", "T", "sampling temperature (0: greedy)", 0.7, 0.0, 2.0);
  flags.Choice("weights", "the LLM's layers as q8_0 (quantized at load) or as stored (bf16)", {"q8_0", "stored"}, "q8_0");
  flags.Int("threads", "N", "compute threads (0: all cores)", 0, 0, 256);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.Get("model").empty() == flags.Get("llm-url").empty()) {
    std::fprintf(stderr, "error: chat needs --model DIR or --llm-url URL (one of them)\n%s", flags.Help().c_str());
    return 2;
  }
  if (flags.Get("audio").empty() && flags.Get("text").empty()) {
    std::fprintf(stderr, "error: chat needs the user's turn: --audio FILE and/or --text TEXT\n");
    return 2;
  }
  brain::Message user;
  user.text = flags.Get("text");
  if (!flags.Get("audio").empty()) {
    auto samples = ReadAudio16k(flags.Get("audio"));
    if (!samples.ok()) {
      std::fprintf(stderr, "error: %s\n", samples.status().ToString().c_str());
      return 1;
    }
    user.audio_16k = std::make_shared<const std::vector<float>>(std::move(samples).value());
  }

  brain::StepAudioBrainOptions options;
  options.model_dir = flags.Get("model");
  options.threads = flags.GetInt("threads");
  options.q8_0 = flags.Get("weights") == "q8_0";
  options.slots = 1;
  options.vllm.url = flags.Get("llm-url");
  options.vllm.model = flags.Get("llm-model");
  if (const char* key = std::getenv("CADENCE_LLM_API_KEY")) options.vllm.api_key = key;
  std::fprintf(stderr, "loading %s ...\n", options.vllm.url.empty() ? options.model_dir.c_str() : options.vllm.url.c_str());
  const auto load_start = Clock::now();
  auto brain = brain::CreateStepAudioBrain(options);
  if (!brain.ok()) {
    std::fprintf(stderr, "error: %s\n", brain.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<speech::TokenVoices> voices;
  const bool spoken = !flags.Get("out").empty();
  if (spoken) {
    speech::TokenVoicesConfig config;
    config.token2wav_dir = flags.Get("voice-token2wav");
    if (config.token2wav_dir.empty() && !options.model_dir.empty()) config.token2wav_dir = options.model_dir + "/token2wav";
    if (config.token2wav_dir.empty()) {
      std::fprintf(stderr, "error: with --llm-url the speech is rendered here: give --voice-token2wav DIR\n");
      return 2;
    }
    config.n_timesteps = flags.GetInt("voice-steps");
    if (flags.GetInt("threads") > 0) config.threads = flags.GetInt("threads");
    if (!flags.Get("voice-prompt").empty()) {
      auto prompt = speech::ParseVoicePrompt(flags.Get("voice-prompt"));
      if (!prompt.ok()) {
        std::fprintf(stderr, "error: %s\n", prompt.status().ToString().c_str());
        return 2;
      }
      config.prompts.push_back(*prompt);
    }
    auto created = speech::TokenVoices::Create(config);
    if (!created.ok()) {
      std::fprintf(stderr, "error: %s\n", created.status().WithContext("--voice-token2wav").ToString().c_str());
      return 1;
    }
    voices = std::move(created).value();
  }
  std::fprintf(stderr, "loaded in %.1f s\n", MsSince(load_start) / 1000.0);

  brain::ReplyRequest request;
  request.instructions = flags.Get("instructions");
  request.history.push_back(user);
  request.max_output_tokens = flags.GetInt("max-tokens");
  request.temperature = flags.GetDouble("temp");

  audio::Waveform wave{speech::kTtsSampleRateHz, {}};
  std::unique_ptr<speech::TokenVoices::Speaker> speaker;
  Status render = Status::Ok();
  if (spoken) {
    auto started = voices->Start("", [&](std::span<const float> pcm) {
      wave.samples.insert(wave.samples.end(), pcm.begin(), pcm.end());
      return true;
    });
    if (!started.ok()) {
      std::fprintf(stderr, "error: %s\n", started.status().ToString().c_str());
      return 1;
    }
    speaker = std::move(started).value();
  }
  const auto start = Clock::now();
  double first_text_ms = -1, first_audio_ms = -1;
  int64_t speech_tokens = 0;
  auto on_text = [&](std::string_view text) {
    if (first_text_ms < 0) first_text_ms = MsSince(start);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  };
  Status status = Status::Ok();
  if (spoken) {
    status = (*brain)->ReplySpoken(request, CancelToken(), on_text, [&](std::span<const int> tokens) {
      speech_tokens += static_cast<int64_t>(tokens.size());
      const size_t before = wave.samples.size();
      auto pushed = speaker->Push(tokens);
      if (!pushed.ok()) render = pushed.status();
      if (first_audio_ms < 0 && wave.samples.size() > before) first_audio_ms = MsSince(start);
      return render.ok();
    }, [&](std::string_view thinking) {  // a Think model's reasoning: shown, never spoken
      std::fwrite(thinking.data(), 1, thinking.size(), stderr);
      return true;
    });
    if (status.ok() && render.ok()) render = speaker->Finish();
  } else {
    status = (*brain)->Reply(request, CancelToken(), on_text);
  }
  const double total_ms = MsSince(start);
  std::printf("\n");
  if (!status.ok() || !render.ok()) {
    std::fprintf(stderr, "error: %s\n", (!status.ok() ? status : render).ToString().c_str());
    return 1;
  }
  const brain::BrainStats stats = (*brain)->Stats();
  std::fprintf(stderr, "%lld prompt tokens, %lld generated (%lld speech) in %.0f ms; first text %.0f ms", 
               static_cast<long long>(stats.prompt_tokens + stats.reused_tokens),
               static_cast<long long>(stats.generated_tokens), static_cast<long long>(speech_tokens), total_ms,
               first_text_ms);
  if (spoken) std::fprintf(stderr, ", first audio %.0f ms", first_audio_ms);
  std::fprintf(stderr, "\n");
  if (spoken) {
    Status written = audio::WriteWav(flags.Get("out"), wave);
    if (!written.ok()) {
      std::fprintf(stderr, "error: %s\n", written.ToString().c_str());
      return 1;
    }
    std::fprintf(stderr, "wrote %s: %.2f s of speech\n", flags.Get("out").c_str(), wave.duration_s());
  }
  return 0;
}

}  // namespace

CADENCE_COMMAND(chat, "one spoken turn with Step-Audio 2 (WAV/text in, text and WAV out)", RunChat);

}  // namespace cadence::cli
