// `cadence bench asr [--model FILE] [--threads N] [--tokens N] [--beam N] [--repeat N]`: Whisper
// speed on this machine.
//
// Without --model it builds random models in memory with the shapes of openai/whisper-tiny
// (d 384, 4 + 4 layers, 6 heads) and whisper-base (d 512, 6 + 6 layers, 8 heads): 80 mels, 1500
// audio and 448 text positions, 51865-token vocabulary, matrices stored as F16 like released ggml
// f16 files. Random weights never pick <|endoftext|> here (its embedding row is zeroed, so its
// logit is 0 against a maximum of several sigma), which makes every decode run exactly --tokens
// tokens. It measures, with the same functions WhisperRecognizer calls:
//   - log-mel of a 30-s window, encoder on the 30-s window (3000 frames), cross-attention K/V;
//   - decoder ms/token (greedy, one sequence) and ms/step for a beam of --beam sequences;
//   - one retry of the temperature fallback (5 samples at T 0.2, --tokens each);
//   - speech_stopped -> final transcript for a 5-s utterance: one end-to-end run of mel (30-s
//     window, as Whisper pads) + encoder + prompt (4 tokens) + --tokens greedy tokens; the same
//     with --asr-window speech; and both as early finals, started at the turn detector's pause;
//   - a partial: the same on only the audio buffered so far (2 s and 5 s, as Partial() does);
//   - real-time factors: final latency / 5 s, and (encoder + 4 tokens/s x 30 s) / 30 s for a
//     full window of speech.
// Then Silero VAD per session (thread CPU time on 30 s of real speech) and sessions per core.
// Each figure is wall time and the process CPU time (caller + team threads): on a shared machine
// wall time includes other processes' turns; the load average is printed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "audio/wav.h"
#include "cli/command.h"
#include "core/cpu_time.h"
#include "engine/dtype.h"
#include "engine/kernels.h"
#include "engine/parallel.h"
#include "speech/asr/whisper/fallback.h"
#include "speech/asr/whisper/log_mel.h"
#include "speech/asr/whisper/model.h"
#include "speech/asr/whisper/transformer.h"
#include "speech/vad/silero_vad.h"

namespace {

namespace whisper = cadence::speech::whisper;
using cadence::ProcessCpuSeconds;
using cadence::ThreadCpuSeconds;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Wall and process-CPU seconds of one interval.
struct Span {
  Clock::time_point wall = Clock::now();
  double cpu = ProcessCpuSeconds();
  double WallS() const { return Since(wall); }
  double CpuS() const { return ProcessCpuSeconds() - cpu; }
};
struct Cost {
  double wall_s = 1e9, cpu_s = 1e9;
  void Keep(const Span& s) {  // best of the repetitions
    const double w = s.WallS(), c = s.CpuS();
    if (w < wall_s) wall_s = w;
    if (c < cpu_s) cpu_s = c;
  }
};
void Line(const char* what, const Cost& c, const char* note = "") {
  std::printf("  %-30s %9.1f ms wall %9.1f ms CPU  %s\n", what, 1e3 * c.wall_s, 1e3 * c.cpu_s, note);
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Uniform values with standard deviation `sigma` from a 64-bit LCG: fast enough for 74M weights.
struct Random {
  uint64_t state;
  float Next(float sigma) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const float u = static_cast<float>(state >> 40) / static_cast<float>(1 << 24);  // [0, 1)
    return (2.0f * u - 1.0f) * 1.7320508f * sigma;
  }
};

// Q8_0 blocks of `values` (a multiple of 32): d = max|v| / 127 as f16, q = round(v / d); `values`
// becomes what the blocks decode to.
std::vector<uint8_t> QuantizeQ8_0(std::vector<float>* values) {
  std::vector<uint8_t> raw(values->size() / 32 * cadence::engine::kQ8_0Bytes);
  for (size_t b = 0; b < values->size() / 32; ++b) {
    float* v = values->data() + 32 * b;
    uint8_t* out = raw.data() + b * cadence::engine::kQ8_0Bytes;
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(v[i]));
    const uint16_t h = cadence::engine::Fp32ToFp16(amax / 127.0f);
    std::memcpy(out, &h, 2);
    const float d = cadence::engine::Fp16ToFp32(h);
    for (int i = 0; i < 32; ++i) {
      const int q = d > 0.0f ? static_cast<int>(std::lround(v[i] / d)) : 0;
      out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(q, -127, 127)));
      v[i] = d * static_cast<int8_t>(out[2 + i]);
    }
  }
  return raw;
}

std::unique_ptr<whisper::Model> RandomModel(const std::string& name, int d, int layers, int heads, bool q8_0) {
  auto m = std::make_unique<whisper::Model>();
  m->path = "random " + name + "-shaped model";
  m->format = "memory";
  whisper::HParams& h = m->hparams;
  h = {51865, 1500, d, heads, layers, 448, d, heads, layers, 80};
  whisper::SpecialTokens& s = m->specials;
  s.end_of_text = 50257;
  s.start_of_transcript = 50258;
  for (int i = 0; i < 99; ++i) s.languages[whisper::WhisperLanguageCodes()[i]] = 50259 + i;
  s.translate = 50358;
  s.transcribe = 50359;
  s.no_timestamps = 50363;
  Random rng{0x5eedULL + static_cast<uint64_t>(d)};
  for (const auto& [tensor_name, shape] : whisper::ExpectedTensorShapes(h)) {
    whisper::Tensor t;
    t.shape = shape;
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;
    t.data.resize(count);
    const bool matrix = shape.size() >= 2;
    const bool ln_gain = tensor_name.find("ln") != std::string::npos && tensor_name.ends_with(".weight");
    const float sigma = matrix ? 1.0f / std::sqrt(static_cast<float>(count / shape[0])) : 0.05f;
    for (float& v : t.data) v = (ln_gain ? 1.0f : 0.0f) + rng.Next(sigma);
    if (tensor_name == "decoder.token_embedding.weight") {
      std::fill_n(t.data.begin() + static_cast<size_t>(s.end_of_text) * d, d, 0.0f);
    }
    if (q8_0 && shape.size() == 2 && tensor_name.find("positional") == std::string::npos && shape[1] % 32 == 0) {
      // As whisper.cpp's quantize: 2-D matrices in Q8_0, convolutions and positions as before.
      t.stored_type = cadence::engine::DType::kQ8_0;
      t.raw = QuantizeQ8_0(&t.data);
    } else if (matrix && tensor_name.find("positional") == std::string::npos) {
      // Stored as F16, as in released ggml f16 files; data holds the same values widened.
      t.stored_type = cadence::engine::DType::kF16;
      t.raw.resize(2 * static_cast<size_t>(count));
      auto* half = reinterpret_cast<uint16_t*>(t.raw.data());
      for (int64_t i = 0; i < count; ++i) {
        half[i] = cadence::engine::Fp32ToFp16(t.data[i]);
        t.data[i] = cadence::engine::Fp16ToFp32(half[i]);
      }
    }
    m->tensors[tensor_name] = std::move(t);
  }
  return m;
}

std::vector<float> Speech(double seconds) {
  std::vector<float> clip;
  auto wave = cadence::audio::ReadWav(std::string(CADENCE_SHARED_DATA) + "/speech/en_m_jfk.wav");
  if (wave.ok() && wave->sample_rate_hz == 16000 && !wave->samples.empty()) clip = wave->samples;
  if (clip.empty()) {  // no shared data: a tone still exercises every operation identically
    for (int i = 0; i < 16000; ++i) clip.push_back(0.1f * std::sin(0.05f * i));
  }
  std::vector<float> out;
  while (out.size() < seconds * 16000) out.insert(out.end(), clip.begin(), clip.end());
  out.resize(static_cast<size_t>(seconds * 16000));
  return out;
}

// mel + encoder + greedy decode of `tokens` tokens on `samples` zero-padded to `window_samples`:
// the work of WhisperRecognizer::Run, with an optional draft (a partial's tokens). `text`, when not
// null, gets the generated ids. false on error.
bool Transcribe(const whisper::Model& m, const std::vector<float>& samples, size_t window_samples, int tokens,
                cadence::engine::WorkerTeam* team, Cost* cost, std::span<const int> draft = {},
                std::vector<int>* text = nullptr) {
  const Span span;
  std::vector<float> padded(window_samples, 0.0f);
  std::copy_n(samples.begin(), std::min(window_samples, samples.size()), padded.begin());
  whisper::LogMelOptions options;
  options.n_mels = m.hparams.n_mels;
  options.filters = m.mel_filters;
  auto mel = whisper::ComputeLogMel(padded, options);
  if (!mel.ok()) return false;
  auto audio = whisper::Encode(m, *mel, team);
  if (!audio.ok()) return false;
  auto prompt = whisper::TranscribePrompt(m, "en");
  if (!prompt.ok()) return false;
  whisper::Decoder decoder(m, *audio, team);
  auto ids = whisper::GreedyDecode(&decoder, *prompt, tokens, nullptr, draft);
  if (!ids.ok()) return false;
  cost->Keep(span);
  if (text != nullptr) text->assign(ids->begin() + static_cast<long>(prompt->size()), ids->end());
  return true;
}

int BenchModel(const whisper::Model& m, int threads, int tokens, int beam, int repeat) {
  const whisper::HParams& h = m.hparams;
  std::printf("\n%s: d %d, %d + %d layers, %d heads, %d mels, vocab %d, weights %s\n", m.path.c_str(), h.n_audio_state,
              h.n_audio_layer, h.n_text_layer, h.n_audio_head, h.n_mels, h.n_vocab,
              std::string(cadence::engine::DTypeName(m.Find("encoder.blocks.0.mlp.0.weight")->stored_type)).c_str());
  cadence::engine::WorkerTeam team(threads);
  const size_t window = static_cast<size_t>(2 * h.n_audio_ctx) * whisper::kHopSamples;
  const std::vector<float> speech = Speech(30.0);

  whisper::LogMelOptions mel_options;
  mel_options.n_mels = h.n_mels;
  mel_options.filters = m.mel_filters;
  Cost mel_c, encode_c, cross_c;
  cadence::Result<whisper::EncoderOutput> audio = cadence::Status::Internal("not run");
  const std::vector<float> window_audio(speech.begin(), speech.begin() + window);
  for (int r = 0; r < repeat; ++r) {
    Span span;
    auto mel = whisper::ComputeLogMel(window_audio, mel_options);
    mel_c.Keep(span);
    if (!mel.ok()) {
      std::fprintf(stderr, "error: %s\n", mel.status().ToString().c_str());
      return 1;
    }
    span = Span();
    audio = whisper::Encode(m, *mel, &team);
    encode_c.Keep(span);
    if (!audio.ok()) {
      std::fprintf(stderr, "error: %s\n", audio.status().ToString().c_str());
      return 1;
    }
    span = Span();
    whisper::Decoder probe(m, *audio, &team);
    cross_c.Keep(span);
  }
  Line("log-mel, 30-s window", mel_c);
  Line("encoder, 30-s window", encode_c);
  Line("cross-attention K/V", cross_c, "(once per utterance)");

  // Greedy: ms per token after the prompt.
  auto prompt = whisper::TranscribePrompt(m, "en");
  if (!prompt.ok()) {
    std::fprintf(stderr, "error: %s\n", prompt.status().ToString().c_str());
    return 1;
  }
  whisper::Decoder decoder(m, *audio, &team);
  std::vector<float> logits;
  for (int id : *prompt) {
    const int one[1] = {id};
    if (!decoder.StepBatch(one, &logits).ok()) return 1;
  }
  Span greedy_span;
  for (int n = 0; n < tokens; ++n) {
    const int one[1] = {static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
    if (auto s = decoder.StepBatch(one, &logits); !s.ok()) {
      std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  Cost token_c;
  token_c.wall_s = greedy_span.WallS() / tokens;
  token_c.cpu_s = greedy_span.CpuS() / tokens;
  char note[128];
  std::snprintf(note, sizeof note, "per token (greedy, %d tokens)", tokens);
  Line("decoder step", token_c, note);

  if (beam > 1) {
    whisper::Decoder beams(m, *audio, &team);
    for (int id : *prompt) {
      const int one[1] = {id};
      if (!beams.StepBatch(one, nullptr).ok()) return 1;
    }
    std::vector<int> sources(beam, 0);
    if (!beams.Reorder(sources).ok()) return 1;
    std::vector<int> step_tokens(beam, 220);
    Span beam_span;
    for (int n = 0; n < tokens; ++n) {
      for (int b = 0; b < beam; ++b) sources[b] = (n + b) % beam;  // a reorder every step, as beams do
      if (!beams.Reorder(sources).ok() || !beams.StepBatch(step_tokens, &logits).ok()) return 1;
    }
    Cost beam_c;
    beam_c.wall_s = beam_span.WallS() / tokens;
    beam_c.cpu_s = beam_span.CpuS() / tokens;
    std::snprintf(note, sizeof note, "per step of a beam of %d (all sequences + reorder)", beam);
    Line("beam decoder step", beam_c, note);
  }

  // One retry of openai-whisper's temperature fallback (fallback.h): 5 samples decoded as one
  // batch at T 0.2 over the same audio, the prompt included; what a repetitive or unlikely final
  // costs on top of its first decode, per retry.
  {
    whisper::Decoder sampler(m, *audio, &team);
    whisper::SampleOptions sample;
    sample.temperature = 0.2;
    sample.best_of = 5;
    sample.max_new_tokens = tokens;
    Cost retry_c;
    for (int r = 0; r < repeat; ++r) {
      const Span span;
      if (!whisper::SampleDecode(&sampler, *prompt, sample).ok()) return 1;
      retry_c.Keep(span);
    }
    std::snprintf(note, sizeof note, "(best_of 5 at T 0.2, 4 + %d tokens)", tokens);
    Line("fallback retry", retry_c, note);
  }

  // speech_stopped -> final for 5 s of speech: the whole recognizer path, end to end.
  Cost final_c;
  const std::vector<float> five(speech.begin(), speech.begin() + 5 * 16000);
  for (int r = 0; r < repeat; ++r) {
    if (!Transcribe(m, five, window, tokens, &team, &final_c)) return 1;
  }
  std::snprintf(note, sizeof note, "(mel + encoder on the 30-s window + 4 + %d tokens)", tokens);
  Line("speech_stopped -> final, 5 s", final_c, note);
  Cost speech_final_c;
  for (int r = 0; r < repeat; ++r) {
    if (!Transcribe(m, five, 5 * 16000, tokens, &team, &speech_final_c)) return 1;
  }
  std::snprintf(note, sizeof note, "(--asr-window speech: encoder on the 5 s only + 4 + %d tokens)", tokens);
  Line("speech_stopped -> final, 5 s", speech_final_c, note);
  // The early final (recognizer.h): with the default 500 ms of silence the turn detector reports
  // a pause 224 ms into the silence (7 windows of 32 ms) and the stop at 512 ms (16 windows). The
  // final of the audio up to the pause starts at the pause, so at speech_stopped only what is left
  // of it 288 ms later remains: measured here by running that final and subtracting the 288 ms.
  constexpr double kPauseToStopS = (16 - 7) * 0.032;
  const std::vector<float> to_pause(speech.begin(), speech.begin() + 5 * 16000 + 224 * 16);
  // The same, drafted (GreedyDecode): by a partial that had read every token of the final (the
  // best case; a real partial reads the utterance's start, and the rest is decoded step by step).
  std::vector<int> final_text;
  Cost untimed;
  if (!Transcribe(m, to_pause, window, tokens, &team, &untimed, {}, &final_text)) return 1;
  for (const int mode : {0, 1, 2}) {  // 0: 30-s window, 1: --asr-window speech, 2: 30-s window, drafted
    const bool padded = mode != 1;
    Cost early_c;
    for (int r = 0; r < repeat; ++r) {
      Cost run;
      if (!Transcribe(m, to_pause, padded ? window : to_pause.size(), tokens, &team, &run,
                      mode == 2 ? std::span<const int>(final_text) : std::span<const int>()))
        return 1;
      early_c.wall_s = std::min(early_c.wall_s, std::max(0.0, run.wall_s - kPauseToStopS));
      early_c.cpu_s = std::min(early_c.cpu_s, run.cpu_s);
    }
    std::snprintf(note, sizeof note, "(early final from the pause, 288 ms before the stop%s; CPU: the whole final)",
                  mode == 1 ? ", --asr-window speech" : mode == 2 ? ", drafted by a partial that read it all" : "");
    Line("speech_stopped -> final, 5 s", early_c, note);
  }
  for (int seconds : {2, 5}) {
    const std::vector<float> buffered(speech.begin(), speech.begin() + seconds * 16000);
    Cost partial_c;
    for (int r = 0; r < repeat; ++r) {
      if (!Transcribe(m, buffered, static_cast<size_t>(seconds) * 16000, tokens / 2, &team, &partial_c)) return 1;
    }
    char what[64];
    std::snprintf(what, sizeof what, "partial after %d s of speech", seconds);
    std::snprintf(note, sizeof note, "(encoder on %d s only + 4 + %d tokens)", seconds, tokens / 2);
    Line(what, partial_c, note);
  }
  std::printf("  real-time factor, 5-s utterance: %.3f wall, %.3f CPU-s per s (final latency / 5 s)\n",
              final_c.wall_s / 5.0, final_c.cpu_s / 5.0);
  std::printf("  real-time factor, 30 s of speech: %.3f wall, %.3f CPU-s per s (encoder + 124 steps, from above)\n",
              (mel_c.wall_s + encode_c.wall_s + cross_c.wall_s + 124 * token_c.wall_s) / 30.0,
              (mel_c.cpu_s + encode_c.cpu_s + cross_c.cpu_s + 124 * token_c.cpu_s) / 30.0);
  return 0;
}

void BenchSilero() {
  const std::string path = cadence::speech::FindDefaultSileroModel();
  if (path.empty()) {
    std::printf("\nSilero VAD: no model file found (npm install); skipped\n");
    return;
  }
  auto model = cadence::speech::SileroVadModel::Load(path);
  if (!model.ok()) {
    std::printf("\nSilero VAD: %s\n", model.status().ToString().c_str());
    return;
  }
  const std::vector<float> speech = Speech(30.0);
  auto stream = (*model)->CreateStream();
  std::vector<float> probabilities;
  const double cpu_start = ThreadCpuSeconds();
  const auto start = Clock::now();
  for (size_t at = 0; at < speech.size(); at += 320) {  // 20-ms chunks, as a session delivers them
    probabilities.clear();
    stream->Process(std::span<const float>(speech.data() + at, std::min<size_t>(320, speech.size() - at)),
                    &probabilities);
  }
  const double cpu_s = ThreadCpuSeconds() - cpu_start, wall_s = Since(start);
  std::printf("\nSilero VAD (%s), one session, 30 s of speech in 20-ms chunks:\n", path.c_str());
  std::printf("  real-time factor %.5f CPU (%.5f wall); sessions one core can serve: %.0f\n", cpu_s / 30.0,
              wall_s / 30.0, 30.0 / cpu_s);
}

int RunAsrBench(int argc, char** argv) {
  cadence::cli::Flags flags("cadence bench asr [--model FILE] [--threads N] [--tokens N] [--beam N] [--repeat N]");
  flags.String("model", "FILE", "Whisper model (ggml .bin or Hugging Face dir); default: random tiny- and base-shaped");
  flags.Int("threads", "N", "threads of the recognizer's team (default: all cores)", std::nullopt, 1, 1024);
  flags.Int("tokens", "N", "tokens decoded for a 5-s utterance (at most Whisper's 448-token context)", 20, 2, 448);
  flags.Int("beam", "N", "beam size for the beam-step figure (1: skip)", 5, 1, 16);
  flags.Int("repeat", "N", "repetitions of the encoder and end-to-end runs (the best is shown)", 2, 1, 1000);
  flags.Choice("weights", "matrix type of the random models", {"f16", "q8_0"}, "f16");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const int threads = flags.Has("threads") ? flags.GetInt("threads") : cadence::engine::DefaultThreads();
  const int tokens = flags.GetInt("tokens");
  const int beam = flags.GetInt("beam");
  const int repeat = flags.GetInt("repeat");
  const bool q8_0 = flags.Get("weights") == "q8_0";
  std::printf("asr bench: %d thread(s), kernels %s, load average %s\n", threads,
              std::string(cadence::engine::IsaName(cadence::engine::BestIsa())).c_str(), LoadAverage().c_str());
  if (!flags.Get("model").empty()) {
    auto model = whisper::LoadModel(flags.Get("model"));
    if (!model.ok()) {
      std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
      return 1;
    }
    if (BenchModel(**model, threads, tokens, beam, repeat) != 0) return 1;
  } else {
    const auto build = Clock::now();
    auto tiny = RandomModel("whisper-tiny", 384, 4, 6, q8_0);
    std::printf("(random weights built in %.1f s)\n", Since(build));
    if (BenchModel(*tiny, threads, tokens, beam, repeat) != 0) return 1;
    tiny.reset();
    auto base = RandomModel("whisper-base", 512, 6, 8, q8_0);
    if (BenchModel(*base, threads, tokens, beam, repeat) != 0) return 1;
  }
  BenchSilero();
  std::printf("load average at the end: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace

CADENCE_BENCH(asr, "Whisper encoder/decoder speed, speech_stopped->final latency, RTF; Silero VAD per session",
              RunAsrBench);
