// `cadence bench step-audio-2 --model DIR`: Step-Audio 2 mini in the engine, part by part, and what
// the parts add up to for a spoken answer:
//   1. load time, resident memory and the LLM's weight bytes (--weights q8_0: the LLM's BF16 layer
//      matrices quantized at load; stored: kept BF16);
//   2. audio in, per user turn of S seconds (--seconds; synthetic audio, tones and noise): the
//      log-mel (StepAudioPieces, as the brain makes it) and the encoder + adaptor
//      (StepAudio2::EncodeAudio), time per second of speech, and the audio tokens;
//   3. prefill: the published speech-to-speech prompt (system "You are a helpful assistant.", the
//      user's audio, the assistant's "<tts_start>") evaluated from scratch (its audio already
//      encoded): prompt tokens/s;
//   4. decode: --tokens greedy steps after the longest turn's prompt: tokens/s against the
//      memory-bandwidth bound (Model::DecodeBytes at the mid-decode context over the read bandwidth,
//      measured with the same threads after every 16 steps, as `cadence bench engine` does);
//   5. speech: a spoken answer interleaves 1 text token with 4 speech tokens and real time needs 25
//      speech tokens/s (31.25 LLM tokens/s): the decode's speech real-time factor;
//   6. speech_stopped -> first audio, estimated from the measured parts: log-mel + encoder (turn of
//      S s) + prefill + the decode steps holding the first token2wav chunk (25 + 3 look-ahead speech
//      tokens and their 7 text tokens = 35 steps, measured) + (--token2wav DIR) token2wav's first
//      streamed chunk from a primed voice prompt (bench/engine/token2wav_timing.h, as `cadence bench
//      token2wav` measures it). The parts run one after another on the same cores.
// Random weights in the published shapes come from `/usr/bin/python3
// tools/engine/step_audio2/make_tiny_step_audio2.py --published-shape DIR` (~15 GB of BF16): the
// timing is what matters, the answers are noise.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "brain/step_audio_brain.h"
#include "cli/command.h"
#include "engine/models/step_audio2.h"
#include "engine/models/token2wav.h"
#include "engine/parallel.h"
#include "memory_probe.h"
#include "token2wav_timing.h"

namespace cadence::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace cadence::engine;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr int kSpeechPerText = 4;          // a spoken answer: 1 text token, then 4 speech tokens
constexpr double kSpeechTokensPerS = 25;   // CosyVoice 2 speech tokens per second of audio
constexpr int kFirstChunkSpeech = 25 + 3;  // token2wav's first chunk: 25 tokens + pre_lookahead_len
// LLM steps that hold kFirstChunkSpeech speech tokens: 28 speech + 7 text = 35.
constexpr int kFirstChunkSteps = kFirstChunkSpeech + (kFirstChunkSpeech + kSpeechPerText - 1) / kSpeechPerText;

// Prints elapsed time and resident memory every few seconds while a long step (the load) runs.
class Ticker {
 public:
  explicit Ticker(const char* what) : what_(what), t0_(Clock::now()), thread_([this] { Run(); }) {}
  ~Ticker() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(5), [this] { return done_; }))
      std::fprintf(stderr, "  %s ... %.0f s, RSS %.2f GiB\n", what_, Since(t0_), RssMiB() / 1024.0);
  }
  const char* what_;
  Clock::time_point t0_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// `seconds` of 16 kHz speech-like audio: a voiced tone (f0 gliding 110-190 Hz, 12 harmonics with a
// falling envelope) amplitude-modulated at a syllable rate of ~4 Hz, plus a little noise.
std::vector<float> SyntheticSpeech(double seconds, uint32_t seed) {
  const int n = static_cast<int>(seconds * 16000);
  std::vector<float> out(static_cast<size_t>(n));
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  double phase = 0;
  for (int i = 0; i < n; ++i) {
    const double t = i / 16000.0;
    const double f0 = 150 + 40 * std::sin(2 * M_PI * 0.7 * t);
    phase += 2 * M_PI * f0 / 16000.0;
    double v = 0;
    for (int h = 1; h <= 12; ++h) v += std::sin(h * phase) / h;
    const double syllable = 0.5 + 0.5 * std::sin(2 * M_PI * 4.1 * t);
    out[static_cast<size_t>(i)] = static_cast<float>(0.15 * syllable * v) + noise(rng);
  }
  return out;
}

std::vector<double> ParseSeconds(const std::string& text) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const double s = std::strtod(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0' || !(s >= 0.2 && s <= 600)) return {};
    out.push_back(s);
  }
  return out;
}

// The published speech-to-speech prompt around `pieces`.
std::vector<StepAudio2Turn> SpeechPrompt(const std::vector<std::shared_ptr<const StepAudio2AudioPiece>>& pieces) {
  std::vector<StepAudio2Turn> turns;
  turns.push_back(StepAudio2Turn::Text("system", "You are a helpful assistant."));
  StepAudio2Turn human;
  human.role = "human";
  human.as_parts = true;
  for (const auto& p : pieces) human.parts.push_back({"", p, {}});
  turns.push_back(std::move(human));
  turns.push_back(StepAudio2Turn::Text("assistant", "<tts_start>", false));
  return turns;
}

TokenId Argmax(const std::vector<float>& logits) {
  return static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

struct TurnTiming {
  double seconds = 0;
  int pieces = 0, audio_tokens = 0, prompt_tokens = 0;
  double mel_s = 1e30, encode_s = 1e30, prefill_s = 1e30;
};

int Fail(const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

int RunStepAudio2Bench(int argc, char** argv) {
  cli::Flags flags(
      "cadence bench step-audio-2 --model DIR [--seconds S[,S...]] [--tokens N] [--weights q8_0|stored] "
      "[--threads N] [--token2wav DIR] [--runs N]");
  flags.String("model", "DIR", "a Step-Audio 2 mini checkpoint folder (config.json, shards, tokenizer)");
  flags.String("seconds", "S[,S...]", "user turn lengths for the encoder and the prefill", "2,5,10,25");
  flags.Int("tokens", "N", "greedy decode steps after the longest turn's prompt", 64, 1, 100000);
  flags.Choice("weights", "the LLM's layer matrices: quantized to Q8_0 at load, or kept as stored (BF16)",
               {"q8_0", "stored"}, "q8_0");
  flags.Int("threads", "N", "compute threads (LLM, encoder, token2wav, bandwidth probe)", 2, 1, 256);
  flags.String("token2wav", "DIR", "a token2wav folder: add its first streamed chunk to the first-audio estimate");
  flags.Int("steps", "N", "token2wav's Euler steps (0: flow.yaml's, 10 published)", 0, 0, 100);
  flags.Int("runs", "N", "repetitions of the encoder, prefill and token2wav timings; the fastest is reported", 1, 1,
            100);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.Get("model").empty()) {
    std::fprintf(stderr, "error: --model DIR is required (random published-shape weights: /usr/bin/python3 "
                         "tools/engine/step_audio2/make_tiny_step_audio2.py --published-shape DIR)\n");
    return 2;
  }
  const std::vector<double> lengths = ParseSeconds(flags.Get("seconds"));
  if (lengths.empty()) {
    std::fprintf(stderr, "error: --seconds: a comma-separated list of seconds in [0.2, 600]\n");
    return 2;
  }
  const int threads = flags.GetInt("threads"), runs = flags.GetInt("runs"), decode_tokens = flags.GetInt("tokens");
  const bool q8_0 = flags.Get("weights") == "q8_0";

  // 1. Load.
  StepAudio2Options options;
  options.llm.threads = threads;
  options.llm.quantize_q8_0 = q8_0;
  std::fprintf(stderr, "loading %s (LLM layers %s, %d threads) ...\n", flags.Get("model").c_str(),
               q8_0 ? "quantized to Q8_0" : "as stored", threads);
  const auto t_load = Clock::now();
  Result<std::unique_ptr<StepAudio2>> loaded = Status::Internal("not loaded");
  {
    Ticker ticker("loading");
    loaded = StepAudio2::Load(flags.Get("model"), options);
  }
  if (!loaded.ok()) return Fail(loaded.status());
  const double load_s = Since(t_load);
  const StepAudio2& model = **loaded;
  const Model& llm = model.llm();
  const ModelConfig& c = llm.config();
  const StepAudio2EncoderConfig& ac = model.audio_config();
  std::printf("step-audio-2 %s: LLM %d layers, hidden %d, FFN %d, heads %d/%d, vocab %d; encoder %d layers x %d; "
              "%d threads, kernels %s\n",
              flags.Get("model").c_str(), c.n_layer, c.n_embd, c.n_ff, c.n_head, c.n_head_kv, c.n_vocab,
              ac.n_audio_layer, ac.n_audio_state, threads, std::string(IsaName(BestIsa())).c_str());
  std::printf("  load: %.1f s (LLM layers %s); LLM weights %.2f GB; RSS %.2f GiB after load, of which anonymous "
              "%.2f GiB (the rest: pages of the mapped checkpoint)\n",
              load_s, q8_0 ? "quantized to Q8_0" : "BF16 as stored", static_cast<double>(llm.WeightBytes()) / 1e9,
              RssMiB() / 1024.0, RssAnonMiB() / 1024.0);
  std::fflush(stdout);

  // Warm-up: the first calls touch every weight page (mapped shards, fresh allocations).
  {
    std::fprintf(stderr, "warm-up: 1 s of audio through the encoder, a text prompt through the LLM ...\n");
    const auto t0 = Clock::now();
    auto pieces = brain::StepAudioPieces(SyntheticSpeech(1.0, 99), ac.n_mels);
    if (!pieces.ok()) return Fail(pieces.status());
    if (!pieces->empty()) {
      auto rows = model.EncodeAudio(*pieces->front());
      if (!rows.ok()) return Fail(rows.status());
    }
    auto prompt = model.BuildPrompt({StepAudio2Turn::Text("system", "You are a helpful assistant."),
                                     StepAudio2Turn::Text("human", "Hello."),
                                     StepAudio2Turn::Text("assistant", "<tts_start>", false)});
    if (!prompt.ok()) return Fail(prompt.status());
    Sequence warm(llm, static_cast<int>(prompt->ids.size()) + 8);
    std::vector<float> logits;
    auto s = model.Prefill(warm, *prompt, &logits);
    if (!s.ok()) return Fail(s.status());
    std::fprintf(stderr, "warm-up done in %.1f s\n", Since(t0));
  }

  // 2 + 3. Audio in and prefill, per turn length.
  std::vector<TurnTiming> turns;
  std::unique_ptr<Sequence> longest;  // the longest turn's prefilled sequence, for the decode
  std::vector<float> longest_logits;
  int longest_prompt = 0;
  for (double seconds : lengths) {
    TurnTiming t;
    t.seconds = seconds;
    const std::vector<float> samples = SyntheticSpeech(seconds, 7);
    for (int run = 0; run < runs; ++run) {
      std::fprintf(stderr, "turn of %.1f s, run %d: log-mel, encoder, prefill ...\n", seconds, run + 1);
      auto t0 = Clock::now();
      auto pieces = brain::StepAudioPieces(samples, ac.n_mels);
      if (!pieces.ok()) return Fail(pieces.status());
      t.mel_s = std::min(t.mel_s, Since(t0));
      // Fresh keys each run: the encoder's cache must not answer.
      std::vector<std::shared_ptr<const StepAudio2AudioPiece>> fresh;
      for (const auto& p : *pieces) {
        auto copy = std::make_shared<StepAudio2AudioPiece>(*p);
        copy->key = p->key ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(run + 1 + 1000 * turns.size()));
        fresh.push_back(std::move(copy));
      }
      t.pieces = static_cast<int>(fresh.size());
      t.audio_tokens = 0;
      t0 = Clock::now();
      for (const auto& p : fresh) {
        auto rows = model.EncodeAudio(*p);
        if (!rows.ok()) return Fail(rows.status());
        t.audio_tokens += static_cast<int>((*rows)->size() / static_cast<size_t>(c.n_embd));
      }
      t.encode_s = std::min(t.encode_s, Since(t0));
      auto prompt = model.BuildPrompt(SpeechPrompt(fresh));
      if (!prompt.ok()) return Fail(prompt.status());
      t.prompt_tokens = static_cast<int>(prompt->ids.size());
      auto seq = std::make_unique<Sequence>(llm, t.prompt_tokens + decode_tokens + 8);
      std::vector<float> logits;
      t0 = Clock::now();
      auto reused = model.Prefill(*seq, *prompt, &logits);  // the audio rows come from the cache
      if (!reused.ok()) return Fail(reused.status());
      t.prefill_s = std::min(t.prefill_s, Since(t0));
      if (t.prompt_tokens >= longest_prompt) {
        longest_prompt = t.prompt_tokens;
        longest = std::move(seq);
        longest_logits = std::move(logits);
      }
    }
    turns.push_back(t);
  }
  std::printf("audio in (log-mel + encoder + adaptor), best of %d:\n", runs);
  for (const TurnTiming& t : turns) {
    const double total = t.mel_s + t.encode_s;
    std::printf("  %5.1f s turn (%d piece%s): %4d audio tokens; log-mel %6.0f ms, encoder + adaptor %7.0f ms = "
                "%7.0f ms, %5.1f ms per second of speech (RTF %.3f)\n",
                t.seconds, t.pieces, t.pieces == 1 ? "" : "s", t.audio_tokens, t.mel_s * 1e3, t.encode_s * 1e3,
                total * 1e3, total * 1e3 / t.seconds, total / t.seconds);
  }
  std::printf("prefill (system + the user's audio + <tts_start>, from scratch), best of %d:\n", runs);
  for (const TurnTiming& t : turns)
    std::printf("  %5.1f s turn: %4d prompt tokens in %7.0f ms = %6.1f tokens/s\n", t.seconds, t.prompt_tokens,
                t.prefill_s * 1e3, t.prompt_tokens / t.prefill_s);
  std::fflush(stdout);

  // 4. Decode after the longest turn's prompt.
  std::fprintf(stderr, "decode: %d greedy steps after a %d-token prompt ...\n", decode_tokens, longest_prompt);
  // In segments of 16 steps, each followed by a read-bandwidth measurement (256 MiB, best of 3, as
  // `cadence bench engine` does): on a shared VM the bandwidth drifts by half within a minute, so
  // each segment's GB/s is divided by the bandwidth measured right after it and the fraction is the
  // median over the segments. Decode times count the decode steps only.
  constexpr int kSegmentSteps = 16;
  std::vector<float> logits = std::move(longest_logits);
  BandwidthProbe probe(threads, size_t{256} << 20);
  double decode_s = 0, first_chunk_s = -1;
  std::vector<double> fractions, bandwidths;
  for (int done = 0; done < decode_tokens;) {
    const int n = std::min(kSegmentSteps, decode_tokens - done);
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto s = longest->Append({Argmax(logits)}, &logits);
      if (!s.ok()) return Fail(s);
      if (done + i + 1 == kFirstChunkSteps) first_chunk_s = decode_s + Since(t0);
    }
    const double segment_s = Since(t0);
    decode_s += segment_s;
    const double segment_bytes = n * static_cast<double>(llm.DecodeBytes(longest_prompt + done + n / 2));
    bandwidths.push_back(probe.MeasureGBs(3));
    fractions.push_back(segment_bytes / segment_s / 1e9 / bandwidths.back());
    done += n;
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  const double decode_tps = decode_tokens / decode_s;
  if (first_chunk_s < 0) first_chunk_s = kFirstChunkSteps / decode_tps;  // fewer steps than the chunk: scaled
  const double bandwidth_gbs = median(bandwidths);
  const double step_bytes = static_cast<double>(llm.DecodeBytes(longest_prompt + decode_tokens / 2));
  const double bound_tps = bandwidth_gbs * 1e9 / step_bytes;
  std::printf("decode (%s layers): %d steps after %d prompt tokens: %.2f tokens/s (%.0f ms/token); %.2f GB/step; "
              "%.0f %% of the bandwidth bound [%.0f-%.0f over %zu segments; read bandwidth %.1f GB/s, %.1f-%.1f] "
              "(bound %.2f tokens/s)\n",
              q8_0 ? "Q8_0" : "BF16", decode_tokens, longest_prompt, decode_tps, 1e3 / decode_tps, step_bytes / 1e9,
              100.0 * median(fractions), 100.0 * *std::min_element(fractions.begin(), fractions.end()),
              100.0 * *std::max_element(fractions.begin(), fractions.end()), fractions.size(), bandwidth_gbs,
              *std::min_element(bandwidths.begin(), bandwidths.end()),
              *std::max_element(bandwidths.begin(), bandwidths.end()), bound_tps);

  // 5. Speech.
  const double speech_tps = decode_tps * kSpeechPerText / (kSpeechPerText + 1);
  const double needed_tps = kSpeechTokensPerS * (kSpeechPerText + 1) / kSpeechPerText;
  std::printf("speech: 1 text + %d speech tokens per %d steps -> %.2f speech tokens/s; speech RTF (speech tokens/s / "
              "%.0f) %.3f: real time needs %.2f LLM tokens/s, %.1fx %s; at the bandwidth bound the speech RTF "
              "would be %.3f\n",
              kSpeechPerText, kSpeechPerText + 1, speech_tps, kSpeechTokensPerS, speech_tps / kSpeechTokensPerS,
              needed_tps, decode_tps < needed_tps ? needed_tps / decode_tps : decode_tps / needed_tps,
              decode_tps < needed_tps ? "too slow" : "faster than needed",
              bound_tps * kSpeechPerText / (kSpeechPerText + 1) / kSpeechTokensPerS);
  std::fflush(stdout);

  // 6. First audio.
  double t2w_first_s = 0;
  if (!flags.Get("token2wav").empty()) {
    Token2Wav::Options t2w_options;
    t2w_options.n_timesteps = flags.GetInt("steps");
    std::fprintf(stderr, "loading token2wav %s ...\n", flags.Get("token2wav").c_str());
    auto t2w = Token2Wav::Load(flags.Get("token2wav"), t2w_options);
    if (!t2w.ok()) return Fail(t2w.status());
    WorkerTeam team(threads);
    std::mt19937 rng(3);
    const VoicePrompt prompt = RandomVoicePrompt(**t2w, 3.0, rng);
    const int look = (*t2w)->config().encoder.pre_lookahead_len;
    const std::vector<int32_t> tokens = RandomSpeechTokens(**t2w, static_cast<size_t>(25 + look), rng);
    double setup_s = 1e30;
    t2w_first_s = 1e30;
    for (int run = 0; run < std::max(2, runs); ++run) {  // the first run also touches the weights
      auto timing = TimeStream(**t2w, prompt, tokens, 25, &team, /*first_only=*/true);
      if (!timing.ok()) return Fail(timing.status());
      setup_s = std::min(setup_s, timing->setup_s);
      t2w_first_s = std::min(t2w_first_s, timing->first_s);
    }
    std::printf("token2wav %s: first streamed chunk (25 + %d tokens, 1 s of audio) %.0f ms after a primed 3-s "
                "voice prompt (set-up %.0f ms, once per voice), best of %d\n",
                flags.Get("token2wav").c_str(), look, t2w_first_s * 1e3, setup_s * 1e3, std::max(2, runs));
  }
  std::printf("speech_stopped -> first audio (estimate: the measured parts one after another; %s):\n",
              flags.Get("token2wav").empty() ? "token2wav not included, --token2wav DIR adds it" : "token2wav included");
  for (const TurnTiming& t : turns) {
    const double total = t.mel_s + t.encode_s + t.prefill_s + first_chunk_s + t2w_first_s;
    std::printf("  %5.1f s turn: log-mel + encoder %6.0f ms + prefill %6.0f ms + %d decode steps%s %6.0f ms", t.seconds,
                (t.mel_s + t.encode_s) * 1e3, t.prefill_s * 1e3, kFirstChunkSteps,
                decode_tokens < kFirstChunkSteps ? " (scaled from the decode rate)" : "", first_chunk_s * 1e3);
    if (!flags.Get("token2wav").empty()) std::printf(" + token2wav chunk %5.0f ms", t2w_first_s * 1e3);
    std::printf(" = %.2f s\n", total);
  }
  std::printf("RSS at the end %.2f GiB, of which anonymous %.2f GiB\n", RssMiB() / 1024.0, RssAnonMiB() / 1024.0);
  return 0;
}

}  // namespace

// Registered by hand: the bench's name has hyphens.
static ::cadence::cli::CommandRegistrar cadence_bench_step_audio_2(
    ::cadence::cli::Benches(),
    ::cadence::cli::Command{"step-audio-2",
                            "Step-Audio 2 mini: load, encoder RTF, prefill and decode tokens/s vs the bandwidth bound, "
                            "speech RTF, first-audio estimate",
                            RunStepAudio2Bench});

}  // namespace cadence::bench
