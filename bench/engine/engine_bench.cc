// `cadence bench engine [--model FILE] [--synthetic 0.5b,1.5b] [--types q8_0,q4_k]`: prompt and
// decode tokens/s, time to first token, memory, and decode speed as a fraction of the memory
// bandwidth (decode reads every weight once per token, so bandwidth bounds it). The bandwidth is
// measured again right after each model's decode, and the fraction uses that figure: on a shared
// machine the bandwidth drifts by tens of percent over a run. Synthetic models are Qwen2-shaped
// with random weights built in memory: no download.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/cpu_time.h"
#include "engine/attention.h"
#include "engine/gemm.h"
#include "engine/models/qwen2_llama.h"
#include "engine/parallel.h"
#include "memory_probe.h"

namespace {

using cadence::ProcessCpuSeconds;
using cadence::ThreadCpuSeconds;
using cadence::bench::BandwidthProbe;
using cadence::bench::RssMiB;

using namespace cadence::engine;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Random but well-formed weights of `type`: random quants, small positive scales.
WeightMatrix RandomMatrix(DType type, int64_t rows, int64_t cols, std::vector<std::vector<uint8_t>>* storage,
                          uint64_t seed) {
  // llama.cpp's quantizer falls back for rows that are not whole super-blocks (Qwen2-0.5B's 896).
  if (IsQuantized(type) && cols % BlockElems(type) != 0) type = type == DType::kQ6_K ? DType::kQ8_0 : DType::kQ5_0;
  if (type == DType::kQ5_0R) {  // Q5_0 in the layout the model loader gives it
    WeightMatrix w = RandomMatrix(DType::kQ5_0, rows, cols, storage, seed);
    std::vector<uint8_t> packed(storage->back().size());
    for (int64_t r = 0; r < rows; ++r) RepackQ5_0Row(w.data + r * w.row_bytes, packed.data() + r * w.row_bytes, cols / 32);
    storage->back() = std::move(packed);
    return WeightMatrix{DType::kQ5_0R, rows, cols, storage->back().data(), w.row_bytes};
  }
  const size_t row_bytes = RowBytes(type, cols);
  storage->emplace_back(row_bytes * static_cast<size_t>(rows));
  std::vector<uint8_t>& data = storage->back();
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(&data[i], &x, 8);
  }
  const uint16_t d = Fp32ToFp16(0.002f);
  const size_t bb = BlockBytes(type);
  for (size_t off = 0; off + bb <= data.size(); off += bb) {
    switch (type) {
      case DType::kQ8_0: case DType::kQ4_0: case DType::kQ5_0: std::memcpy(&data[off], &d, 2); break;
      case DType::kQ5_1: std::memcpy(&data[off], &d, 2), std::memcpy(&data[off + 2], &d, 2); break;
      case DType::kQ4_K: std::memcpy(&data[off], &d, 2), std::memcpy(&data[off + 2], &d, 2); break;
      case DType::kQ6_K: std::memcpy(&data[off + 208], &d, 2); break;
      case DType::kF16: case DType::kBF16: data[off + 1] &= 0x23; break;  // small magnitudes
      case DType::kF32: { const float v = 0.01f; std::memcpy(&data[off], &v, 4); break; }
      case DType::kQ5_0R: break;  // made from Q5_0 above
    }
  }
  return WeightMatrix{type, rows, cols, data.data(), row_bytes};
}

// Which type each matrix gets: every one `type`, or (q4_k_m) the main rules of llama.cpp's Q4_K_M
// recipe as its quantizer applies them to a Qwen2 checkpoint: the tied embedding/output matrix Q6_K, attn_v and
// ffn_down Q6_K in the layers use_more_bits() picks (the first and last eighth and every third
// between), every other matrix Q4_K. RandomMatrix then applies the quantizer's fallbacks for rows
// that are not whole super-blocks (Q4_K -> Q5_0, Q6_K -> Q8_0: the 0.5B's 896 columns).
struct Recipe {
  DType type = DType::kQ8_0;
  bool q4_k_m = false;
  DType Embedding() const { return q4_k_m ? DType::kQ6_K : type; }
  DType Matrix(bool v_or_down, int layer, int n_layer) const {
    if (!q4_k_m) return type;
    const bool more_bits = layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
    return v_or_down && more_bits ? DType::kQ6_K : DType::kQ4_K;
  }
};

std::unique_ptr<Model> SyntheticQwen2(const std::string& size, const Recipe& recipe, int threads) {
  ModelConfig c;
  c.arch = "qwen2";
  c.n_vocab = 151936;
  c.rope_theta = 1000000.0f;
  c.context_length = 32768;
  c.tied_embeddings = true;
  if (size == "0.5b") {
    c.n_embd = 896, c.n_layer = 24, c.n_head = 14, c.n_head_kv = 2, c.head_dim = 64, c.n_ff = 4864;
  } else {
    c.n_embd = 1536, c.n_layer = 28, c.n_head = 12, c.n_head_kv = 2, c.head_dim = 128, c.n_ff = 8960;
  }
  std::vector<std::vector<uint8_t>> storage;
  uint64_t seed = 1;
  WeightMatrix embd = RandomMatrix(recipe.Embedding(), c.n_vocab, c.n_embd, &storage, seed++);
  std::vector<Model::Layer> layers(static_cast<size_t>(c.n_layer));
  const int q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
  for (int i = 0; i < c.n_layer; ++i) {
    Model::Layer& l = layers[static_cast<size_t>(i)];
    const DType plain = recipe.Matrix(false, i, c.n_layer), more = recipe.Matrix(true, i, c.n_layer);
    l.attn_norm.assign(static_cast<size_t>(c.n_embd), 1.0f);
    l.ffn_norm.assign(static_cast<size_t>(c.n_embd), 1.0f);
    l.bq.assign(static_cast<size_t>(q_dim), 0.0f);
    l.bk.assign(static_cast<size_t>(kv_dim), 0.0f);
    l.bv.assign(static_cast<size_t>(kv_dim), 0.0f);
    l.wq = RandomMatrix(plain, q_dim, c.n_embd, &storage, seed++);
    l.wk = RandomMatrix(plain, kv_dim, c.n_embd, &storage, seed++);
    l.wv = RandomMatrix(more, kv_dim, c.n_embd, &storage, seed++);
    l.wo = RandomMatrix(plain, c.n_embd, q_dim, &storage, seed++);
    l.w_gate = RandomMatrix(plain, c.n_ff, c.n_embd, &storage, seed++);
    l.w_up = RandomMatrix(plain, c.n_ff, c.n_embd, &storage, seed++);
    l.w_down = RandomMatrix(more, c.n_embd, c.n_ff, &storage, seed++);
  }
  LoadOptions options;
  options.threads = threads;
  return Model::FromParts(c, embd, embd, std::vector<float>(static_cast<size_t>(c.n_embd), 1.0f), std::move(layers),
                          std::move(storage), options);
}

// CPU seconds of this thread per call: one warm-up call, then calls in batches of `batch` until
// 0.2 s of CPU time have passed.
template <typename Call>
double ThreadCpuPerCall(const Call& call, int batch) {
  call();
  const double t0 = ThreadCpuSeconds();
  int64_t calls = 0;
  double cpu = 0;
  while (cpu < 0.2) {
    for (int i = 0; i < batch; ++i) call();
    calls += batch;
    cpu = ThreadCpuSeconds() - t0;
  }
  return cpu / static_cast<double>(calls);
}

// Single-thread kernel throughput on a cache-resident matrix: weight bytes and multiply-adds per
// CPU-second, for one token (decode's mat-vec) and kDotTokens tokens (the prompt's mat-mat).
// Compute-bound figures: decode can reach the memory bound only if two cores' worth of this
// exceeds the measured bandwidth.
void RunKernels(const std::vector<DType>& types) {
  std::printf("kernel throughput, 1 thread, 128 x 2048 matrix in cache (CPU time of the thread):\n");
  std::vector<float> x(static_cast<size_t>(2048) * kDotTokens), y(static_cast<size_t>(128) * kDotTokens);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  for (DType type : types) {
    std::vector<std::vector<uint8_t>> storage;
    const WeightMatrix w = RandomMatrix(type, 128, 2048, &storage, 11);
    std::vector<Isa> isas{Isa::kScalar};
    if (BestIsa() != Isa::kScalar) isas.push_back(BestIsa());
    for (Isa isa : isas) {
      for (int tokens : {1, kDotTokens}) {
        MatMulScratch scratch;
        const double s = ThreadCpuPerCall([&] { MatMul(w, x.data(), tokens, y.data(), nullptr, isa, &scratch); }, 16);
        const double bytes = static_cast<double>(w.rows) * static_cast<double>(w.row_bytes);
        const double macs = static_cast<double>(w.rows * w.cols) * tokens;
        std::printf("  %-5s %-7s %d token%s  %6.1f GB/s of weights  %6.1f GMAC/s\n", std::string(DTypeName(w.type)).c_str(),
                    std::string(IsaName(isa)).c_str(), tokens, tokens > 1 ? "s" : " ", bytes / s / 1e9, macs / s / 1e9);
        std::fflush(stdout);
      }
    }
    // The integer GEMM of a prompt (quantization, packing and tiles), every SIMD ISA this CPU has.
    if (!GemmQuantizedSupports(type)) continue;
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
      if (!IsaSupported(isa)) continue;
      for (int tokens : {8, 64}) {
        std::vector<float> xm(static_cast<size_t>(w.cols) * tokens), ym(static_cast<size_t>(w.rows) * tokens);
        for (auto& v : xm) v = normal(rng);
        MatMulScratch scratch;
        const double s = ThreadCpuPerCall([&] { MatMul(w, xm.data(), tokens, ym.data(), nullptr, isa, &scratch); }, 4);
        std::printf("  %-5s %-7s GEMM %2d tokens  %6.1f GMAC/s\n", std::string(DTypeName(w.type)).c_str(),
                    std::string(IsaName(isa)).c_str(), tokens, static_cast<double>(w.rows * w.cols) * tokens / s / 1e9);
        std::fflush(stdout);
      }
    }
  }
}

// Single-thread attention of one decode step (CausalAttention, one query token) over an f32
// key/value cache in the 0.5B's and the 1.5B's head shapes: microseconds per layer and GB/s of
// keys and values read. As in a decode step, each call meets a cold cache: the calls cycle through
// 256 MiB of layers' caches, more than any last-level cache here.
void RunDecodeAttention() {
  std::printf("decode attention, 1 thread, one query token per layer call, cold cache (CPU time of the thread):\n");
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const AttentionShape shape : {AttentionShape{14, 2, 64}, AttentionShape{12, 2, 128}}) {
    for (int context : {512, 2048}) {
      const size_t kv = static_cast<size_t>(context) * shape.n_head_kv * shape.head_dim;
      const size_t layers = std::max<size_t>(2, (size_t{256} << 20) / (2 * kv * sizeof(float)));
      std::vector<float> q(static_cast<size_t>(shape.n_head) * shape.head_dim), out(q.size());
      std::vector<float> k(kv * layers), v(kv * layers);
      for (float& x : q) x = normal(rng);
      // Hundreds of MiB: a multiplicative hash is fast enough to fill them, random enough to attend.
      for (auto* buffer : {&k, &v})
        for (size_t i = 0; i < buffer->size(); ++i) (*buffer)[i] = static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
      std::vector<Isa> isas{Isa::kScalar};
      if (BestIsa() != Isa::kScalar) isas.push_back(BestIsa());
      for (Isa isa : isas) {
        size_t layer = 0;
        const double s = ThreadCpuPerCall([&] {
          CausalAttention(q.data(), 1, context - 1, k.data() + layer * kv, v.data() + layer * kv, shape, 0.125f,
                          out.data(), nullptr, isa);
          layer = (layer + 1) % layers;
        }, 8);
        std::printf("  heads %2d/%d x %3d  context %4d  %-7s %8.1f us/layer  %6.1f GB/s of keys and values\n",
                    shape.n_head, shape.n_head_kv, shape.head_dim, context, std::string(IsaName(isa)).c_str(), 1e6 * s,
                    2.0 * kv * sizeof(float) / s / 1e9);
        std::fflush(stdout);
      }
    }
  }
}

// prompt_runs > 1: one warm-up prompt (the first touches every weight page), then that many
// prompts, each on a fresh Sequence, reported as median [range]; 1: the first prompt alone.
void Run(const std::string& label, const Model& model, int prompt_tokens, int decode_tokens, int threads,
         int prompt_runs) {
  const ModelConfig& c = model.config();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> id(0, c.n_vocab - 1);
  std::vector<TokenId> prompt(static_cast<size_t>(prompt_tokens));
  for (auto& t : prompt) t = id(rng);
  std::vector<float> logits;
  if (prompt_runs > 1) {
    Sequence warm(model, prompt_tokens + 8);
    (void)warm.Append(prompt, &logits);
  }
  std::vector<double> prompt_times;
  std::unique_ptr<Sequence> seq;
  for (int run = 0; run < prompt_runs; ++run) {
    seq = std::make_unique<Sequence>(model, prompt_tokens + decode_tokens + 8);
    const auto t0 = Clock::now();
    auto s = seq->Append(prompt, &logits);
    prompt_times.push_back(Seconds(t0));
    if (!s.ok()) {
      std::printf("%s: %s\n", label.c_str(), s.ToString().c_str());
      return;
    }
  }
  const double prompt_s = Median(prompt_times);
  if (prompt_runs > 1) {
    std::printf("%-22s prompt %4d tok: %7.1f tok/s median of %d [%.1f-%.1f] after a warm-up\n", label.c_str(),
                prompt_tokens, prompt_tokens / prompt_s, prompt_runs,
                prompt_tokens / *std::max_element(prompt_times.begin(), prompt_times.end()),
                prompt_tokens / *std::min_element(prompt_times.begin(), prompt_times.end()));
  }
  // The decode runs in segments of kSegmentTokens, each followed by a read-bandwidth measurement
  // (256 MiB, best of 3, ~40 ms): on a shared machine the bandwidth drifts by a third within a
  // minute as neighbours come and go, so each segment's GB/s is divided by the bandwidth measured
  // right after it and the fraction is the median over segments. Decode tok/s and CPU count the
  // decode steps only.
  constexpr int kSegmentTokens = 16;
  const long rss_mib = RssMiB();
  BandwidthProbe probe(threads, size_t{256} << 20);
  double decode_s = 0, decode_cpu_s = 0, decode_gb = 0;
  std::vector<double> fractions, bandwidths;
  for (int done = 0; done < decode_tokens;) {
    const int n = std::min(kSegmentTokens, decode_tokens - done);
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      const TokenId next = static_cast<TokenId>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      (void)seq->Append({next}, &logits);
    }
    const double segment_s = Seconds(t0);
    decode_cpu_s += ProcessCpuSeconds() - cpu0;
    decode_s += segment_s;
    // Bytes the segment's steps read, at its middle context (KV reads grow with the context).
    const double segment_gb = n * static_cast<double>(model.DecodeBytes(prompt_tokens + done + n / 2)) / 1e9;
    decode_gb += segment_gb;
    bandwidths.push_back(probe.MeasureGBs(3));
    fractions.push_back(segment_gb / segment_s / bandwidths.back());
    done += n;
  }
  const double decode_tps = decode_tokens / decode_s;
  const double step_gb = decode_gb / decode_tokens;
  const double bandwidth_gbs = Median(bandwidths);
  std::printf("%-22s weights %6.2f GB  prompt %4d tok %7.1f tok/s  TTFT %7.1f ms  decode %6.2f tok/s "
              "(%.0f ms CPU/token)  %.3f GB/token  %5.1f GB/s = %4.1f %% of bandwidth [%.0f-%.0f over %zu segments; "
              "%.1f GB/s, %.1f-%.1f] (bound %.1f tok/s)  RSS %ld MiB\n",
              label.c_str(), static_cast<double>(model.WeightBytes()) / 1e9, prompt_tokens, prompt_tokens / prompt_s,
              1000.0 * prompt_s, decode_tps, 1000.0 * decode_cpu_s / decode_tokens, step_gb, decode_gb / decode_s,
              100.0 * Median(fractions), 100.0 * *std::min_element(fractions.begin(), fractions.end()),
              100.0 * *std::max_element(fractions.begin(), fractions.end()), fractions.size(), bandwidth_gbs,
              *std::min_element(bandwidths.begin(), bandwidths.end()),
              *std::max_element(bandwidths.begin(), bandwidths.end()), bandwidth_gbs / step_gb, rss_mib);
  std::fflush(stdout);
}

int RunEngineBench(int argc, char** argv) {
  cadence::cli::Flags flags("cadence bench engine [--model FILE] [--synthetic 0.5b,1.5b] [--types q8_0,q4_k]");
  flags.String("model", "FILE", "a GGUF/safetensors model to measure (instead of synthetic ones)");
  flags.String("synthetic", "SIZES", "Qwen2-shaped random models: 0.5b, 1.5b (comma separated), or none", "0.5b,1.5b");
  flags.String("types", "TYPES",
               "weight types of the synthetic models: q8_0, q4_k, q5_0, q5_1, q4_0, q6_k, f16, or q4_k_m (llama.cpp's "
               "Q4_K_M recipe: Q4_K with Q6_K embedding, attn_v and ffn_down in some layers)",
               "q8_0,q4_k");
  flags.Int("prompt-tokens", "N", "prompt length", 64, 1, 1 << 20);
  flags.Int("decode-tokens", "N", "tokens to decode (in segments of 16, each followed by a bandwidth measurement)", 128,
            1, 1 << 20);
  flags.Int("threads", "N", "compute threads (0: all cores)", 0, 0, 1024);
  flags.Int("prompt-runs", "N",
            "prompts to time (N > 1: after a warm-up prompt, each on a fresh sequence; the median and range printed)", 1,
            1, 1000);
  flags.Switch("kernels", "also measure single-thread kernel throughput per type (cache-resident, CPU time) and a decode step's attention");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const int threads = flags.GetInt("threads") > 0 ? flags.GetInt("threads") : DefaultThreads();
  const int prompt_tokens = flags.GetInt("prompt-tokens"), decode_tokens = flags.GetInt("decode-tokens");
  std::printf("engine bench: %d threads, kernels %s\n", threads, std::string(IsaName(BestIsa())).c_str());
  const double bw = BandwidthProbe(threads, size_t{1} << 30).MeasureGBs(5);
  std::printf("memory read bandwidth (1 GiB, %d threads, best of 5) at start: %.1f GB/s\n", threads, bw);
  if (flags.On("kernels")) {
    RunKernels({DType::kQ8_0, DType::kQ5_0, DType::kQ5_0R, DType::kQ5_1, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K, DType::kF16});
    RunDecodeAttention();
  }
  if (!flags.Get("model").empty()) {
    LoadOptions load;
    load.threads = threads;
    auto model = Model::Load(flags.Get("model"), load);
    if (!model.ok()) {
      std::fprintf(stderr, "error: %s\n", model.status().ToString().c_str());
      return 1;
    }
    Run(flags.Get("model"), **model, prompt_tokens, decode_tokens, threads, flags.GetInt("prompt-runs"));
    return 0;
  }
  std::vector<std::string> sizes, types;
  const std::string synthetic = flags.Get("synthetic") == "none" ? "" : flags.Get("synthetic");
  for (auto [text, out] : {std::pair{synthetic, &sizes}, std::pair{flags.Get("types"), &types}}) {
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) out->push_back(item);
  }
  for (const std::string& size : sizes) {
    if (size != "0.5b" && size != "1.5b") {
      std::fprintf(stderr, "error: --synthetic: unknown size '%s' (0.5b, 1.5b)\n", size.c_str());
      return 2;
    }
    for (const std::string& type_name : types) {
      Recipe recipe;
      DType& type = recipe.type;
      if (type_name == "q4_k_m") recipe.q4_k_m = true;
      else if (type_name == "q8_0") type = DType::kQ8_0;
      else if (type_name == "q4_k") type = DType::kQ4_K;
      else if (type_name == "q4_0") type = DType::kQ4_0;
      else if (type_name == "q5_0") type = DType::kQ5_0;
      else if (type_name == "q5_1") type = DType::kQ5_1;
      else if (type_name == "q6_k") type = DType::kQ6_K;
      else if (type_name == "f16") type = DType::kF16;
      else {
        std::fprintf(stderr, "error: --types: unknown type '%s'\n", type_name.c_str());
        return 2;
      }
      const auto t0 = Clock::now();
      auto model = SyntheticQwen2(size, recipe, threads);
      std::printf("built qwen2-%s %s in %.1f s\n", size.c_str(), type_name.c_str(), Seconds(t0));
      Run("qwen2-" + size + "-" + type_name, *model, prompt_tokens, decode_tokens, threads, flags.GetInt("prompt-runs"));
    }
  }
  return 0;
}

}  // namespace

CADENCE_BENCH(engine, "prompt/decode tokens/s, time to first token, memory, fraction of memory bandwidth",
              RunEngineBench);
