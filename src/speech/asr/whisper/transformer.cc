#include "speech/asr/whisper/transformer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>

#include "engine/activation.h"
#include "engine/attention.h"
#include "engine/gemm.h"
#include "engine/kernels.h"
#include "engine/nn/whisper_block.h"

namespace cadence::speech::whisper {
namespace {

using engine::WeightMatrix;
using engine::ParallelRange;
using engine::WorkerTeam;

const Tensor& T(const Model& m, const std::string& name) { return *m.Find(name); }
const std::vector<float>& W(const Model& m, const std::string& name) { return m.Find(name)->data; }

engine::Isa Isa() {
  static const engine::Isa isa = engine::BestIsa();
  return isa;
}

// The layers' pieces are the engine's (engine/nn/whisper_block.h), shared with Step-Audio 2's
// encoder: the GEMM from kGemmMinRows rows on, the dot kernels for a decoder step's few rows.
void MatMul(const WeightMatrix& w, const float* x, int n, const std::vector<float>* b, float* y, WorkerTeam* team) {
  engine::nn::Linear(w, b ? b->data() : nullptr, x, n, y, team, Isa());
}

void Linear(const Model& m, const std::string& name, const float* x, int n, float* y, WorkerTeam* team,
            bool bias = true) {
  MatMul(T(m, name + ".weight").Matrix(), x, n, bias ? &W(m, name + ".bias") : nullptr, y, team);
}

void LayerNorm(const Model& m, const std::string& name, const float* x, int n, int d, float* y, WorkerTeam* team) {
  engine::nn::LayerNorm(x, n, d, W(m, name + ".weight").data(), W(m, name + ".bias").data(), 1e-5, y, team);
}

void GeluInPlace(std::vector<float>* v, WorkerTeam* team) {
  engine::nn::GeluParallel(v->data(), static_cast<int64_t>(v->size()), team, Isa());
}

// Encoder block `layer`'s weights as views into the model.
engine::nn::WhisperBlockWeights EncoderBlock(const Model& m, int layer) {
  const std::string p = "encoder.blocks." + std::to_string(layer);
  auto vec = [&](const std::string& name) { return W(m, p + name).data(); };
  auto mat = [&](const std::string& name) { return T(m, p + name).Matrix(); };
  engine::nn::WhisperBlockWeights w;
  w.attn_ln_weight = vec(".attn_ln.weight");
  w.attn_ln_bias = vec(".attn_ln.bias");
  w.query = mat(".attn.query.weight");
  w.query_bias = vec(".attn.query.bias");
  w.key = mat(".attn.key.weight");
  w.value = mat(".attn.value.weight");
  w.value_bias = vec(".attn.value.bias");
  w.out = mat(".attn.out.weight");
  w.out_bias = vec(".attn.out.bias");
  w.mlp_ln_weight = vec(".mlp_ln.weight");
  w.mlp_ln_bias = vec(".mlp_ln.bias");
  w.mlp0 = mat(".mlp.0.weight");
  w.mlp0_bias = vec(".mlp.0.bias");
  w.mlp2 = mat(".mlp.2.weight");
  w.mlp2_bias = vec(".mlp.2.bias");
  return w;
}

void Mlp(const Model& m, const std::string& p, const float* x, int n, int d, float* y, WorkerTeam* team) {
  std::vector<float> hidden(static_cast<size_t>(n) * 4 * d);
  Linear(m, p + ".mlp.0", x, n, hidden.data(), team);
  GeluInPlace(&hidden, team);
  Linear(m, p + ".mlp.2", hidden.data(), n, y, team);
}

// Conv1d, kernel 3, padding 1, then GELU: input x(c, t) = x[c * c_stride + t * t_stride] for c <
// c_in, t < t_in (the mel features are channel-major, the first conv's output time-major) -> y
// [t_out][c_out] (time-major, as the blocks take it). im2col rows [t][c_in * 3] match the weight's
// [c_out][c_in][3] row layout.
void ConvGelu(const Tensor& w, const std::vector<float>& b, const float* x, int64_t c_stride, int64_t t_stride, int c_in,
              int t_in, int stride, std::vector<float>* y, int* t_out, WorkerTeam* team) {
  *t_out = (t_in + 2 - 3) / stride + 1;
  const int cols = c_in * 3;
  std::vector<float> im(static_cast<size_t>(*t_out) * cols);
  ParallelRange(team, *t_out, 64, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* row = im.data() + t * cols;
      for (int c = 0; c < c_in; ++c) {
        for (int kk = 0; kk < 3; ++kk) {
          const int64_t src = t * stride + kk - 1;
          row[c * 3 + kk] = (src >= 0 && src < t_in) ? x[c * c_stride + src * t_stride] : 0.0f;
        }
      }
    }
  });
  const WeightMatrix wm = w.Matrix();
  y->resize(static_cast<size_t>(*t_out) * wm.rows);
  MatMul(wm, im.data(), *t_out, &b, y->data(), team);
  GeluInPlace(y, team);
}

}  // namespace

Result<EncoderOutput> Encode(const Model& m, const LogMel& mel, WorkerTeam* team) {
  const HParams& h = m.hparams;
  if (mel.n_mels != h.n_mels) {
    return Status::InvalidArgument("whisper encoder: features have " + std::to_string(mel.n_mels) + " mel bins, " +
                                   m.path + " expects " + std::to_string(h.n_mels));
  }
  if (mel.n_frames < 1 || mel.n_frames > 2 * h.n_audio_ctx) {
    return Status::InvalidArgument("whisper encoder: " + std::to_string(mel.n_frames) + " frames; " + m.path +
                                   " takes 1.." + std::to_string(2 * h.n_audio_ctx) + " (pad to 30 s)");
  }
  const int d = h.n_audio_state;
  std::vector<float> c1, c2;
  int t1 = 0, t2 = 0;
  ConvGelu(T(m, "encoder.conv1.weight"), W(m, "encoder.conv1.bias"), mel.data.data(), mel.n_frames, 1, h.n_mels,
           mel.n_frames, 1, &c1, &t1, team);
  ConvGelu(T(m, "encoder.conv2.weight"), W(m, "encoder.conv2.bias"), c1.data(), 1, d, d, t1, 2, &c2, &t2, team);
  EncoderOutput out;
  out.n_positions = t2;
  out.width = d;
  std::vector<float>& x = out.data;
  x.swap(c2);
  const std::vector<float>& pos = W(m, "encoder.positional_embedding");
  for (size_t i = 0; i < x.size(); ++i) x[i] += pos[i];
  engine::nn::WhisperBlockScratch scratch;
  for (int layer = 0; layer < h.n_audio_layer; ++layer) {
    engine::nn::WhisperBlockForward(EncoderBlock(m, layer), h.n_audio_head, x.data(), t2, /*n_keys=*/t2, &scratch,
                                    team, Isa());
  }
  std::vector<float> norm(x.size());
  LayerNorm(m, "encoder.ln_post", x.data(), t2, d, norm.data(), team);
  x.swap(norm);
  return out;
}

Decoder::Decoder(const Model& model, const EncoderOutput& audio, WorkerTeam* team)
    : model_(model), audio_(audio), team_(team) {
  const HParams& h = model.hparams;
  const int d = h.n_text_state;
  const int nk = audio.n_positions;
  const float scale = std::pow(static_cast<float>(d / h.n_text_head), -0.25f);
  self_k_.assign(h.n_text_layer, std::vector<float>(static_cast<size_t>(h.n_text_ctx) * d));
  self_v_ = self_k_;
  cross_k_.assign(h.n_text_layer, std::vector<float>(static_cast<size_t>(nk) * d));
  cross_v_ = cross_k_;
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const std::string p = "decoder.blocks." + std::to_string(layer) + ".cross_attn";
    Linear(model, p + ".key", audio.data.data(), nk, cross_k_[layer].data(), team, false);
    Linear(model, p + ".value", audio.data.data(), nk, cross_v_[layer].data(), team);
    for (float& kv : cross_k_[layer]) kv *= scale;
  }
}

Status Decoder::Reorder(std::span<const int> sources) {
  const HParams& h = model_.hparams;
  const size_t slab = static_cast<size_t>(h.n_text_ctx) * h.n_text_state;
  const size_t used = static_cast<size_t>(n_past_) * h.n_text_state;
  for (int s : sources) {
    if (s < 0 || s >= n_seq_) {
      return Status::InvalidArgument("whisper decoder: reorder source " + std::to_string(s) + " is not one of the " +
                                     std::to_string(n_seq_) + " sequences");
    }
  }
  if (sources.empty()) return Status::InvalidArgument("whisper decoder: reorder to zero sequences");
  for (auto* caches : {&self_k_, &self_v_}) {
    for (std::vector<float>& cache : *caches) {
      std::vector<float> next(slab * sources.size());
      for (size_t i = 0; i < sources.size(); ++i) {
        std::copy_n(cache.data() + sources[i] * slab, used, next.data() + i * slab);
      }
      cache.swap(next);
    }
  }
  n_seq_ = static_cast<int>(sources.size());
  return Status::Ok();
}

void Decoder::Truncate(int n_past) { n_past_ = std::clamp(n_past, 0, n_past_); }

void Decoder::Reset() {
  const size_t slab = static_cast<size_t>(model_.hparams.n_text_ctx) * model_.hparams.n_text_state;
  for (auto* caches : {&self_k_, &self_v_}) {
    for (std::vector<float>& cache : *caches) cache.resize(slab);
  }
  n_seq_ = 1;
  n_past_ = 0;
}

Status Decoder::StepBatch(std::span<const int> tokens, std::vector<float>* logits) {
  if (static_cast<int>(tokens.size()) != n_seq_) {
    return Status::InvalidArgument("whisper decoder: " + std::to_string(tokens.size()) + " tokens for " +
                                   std::to_string(n_seq_) + " sequences");
  }
  return Forward(tokens, /*positions=*/1, logits, {});
}

Status Decoder::Feed(std::span<const int> tokens, std::span<const int> logit_rows, std::vector<float>* logits) {
  if (n_seq_ != 1) return Status::FailedPrecondition("whisper decoder: Feed() on " + std::to_string(n_seq_) + " sequences");
  if (tokens.empty()) return Status::InvalidArgument("whisper decoder: Feed() of no tokens");
  for (int row : logit_rows) {
    if (row < 0 || row >= static_cast<int>(tokens.size())) {
      return Status::InvalidArgument("whisper decoder: logits asked of row " + std::to_string(row) + " of " +
                                     std::to_string(tokens.size()) + " tokens");
    }
  }
  return Forward(tokens, static_cast<int>(tokens.size()), logits, logit_rows);
}

// Row r of the pass is sequence r / positions at position n_past_ + r % positions: n_seq rows of
// one position (beams), or one sequence's `positions` rows (a prompt, causal among themselves).
Status Decoder::Forward(std::span<const int> tokens, int positions, std::vector<float>* logits,
                        std::span<const int> logit_rows) {
  const Model& m = model_;
  const HParams& h = m.hparams;
  for (int token : tokens) {
    if (token < 0 || token >= h.n_vocab) {
      return Status::InvalidArgument("whisper decoder: token id " + std::to_string(token) +
                                     " is outside the vocabulary of " + std::to_string(h.n_vocab));
    }
  }
  if (n_past_ + positions > h.n_text_ctx) {
    return Status::OutOfRange("whisper decoder: the text context of " + std::to_string(h.n_text_ctx) + " tokens is full");
  }
  const int d = h.n_text_state;
  const int n = static_cast<int>(tokens.size());  // rows
  auto seq_of = [&](int r) { return r / positions; };
  auto pos_of = [&](int r) { return n_past_ + r % positions; };
  const size_t slab = static_cast<size_t>(h.n_text_ctx) * d;
  const float scale = std::pow(static_cast<float>(d / h.n_text_head), -0.25f);
  // Queries and keys carry the scale already (d_head^-1/4 each, as Whisper does).
  const engine::AttentionShape heads{h.n_text_head, h.n_text_head, d / h.n_text_head};
  const size_t nd = static_cast<size_t>(n) * d;
  std::vector<float> x(nd), norm(nd), q(nd), k(nd), v(nd), att(nd), proj(nd);
  const std::vector<float>& emb = W(m, "decoder.token_embedding.weight");
  const std::vector<float>& pos = W(m, "decoder.positional_embedding");
  for (int s = 0; s < n; ++s) {
    for (int c = 0; c < d; ++c) {
      x[static_cast<size_t>(s) * d + c] =
          emb[static_cast<size_t>(tokens[s]) * d + c] + pos[static_cast<size_t>(pos_of(s)) * d + c];
    }
  }
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const std::string p = "decoder.blocks." + std::to_string(layer);
    LayerNorm(m, p + ".attn_ln", x.data(), n, d, norm.data(), nullptr);
    Linear(m, p + ".attn.query", norm.data(), n, q.data(), team_);
    Linear(m, p + ".attn.key", norm.data(), n, k.data(), team_, false);
    Linear(m, p + ".attn.value", norm.data(), n, v.data(), team_);
    // Every row's key and value go into the cache first; then row r attends to its sequence's
    // positions up to its own.
    for (int r = 0; r < n; ++r) {
      float* k_row = self_k_[layer].data() + seq_of(r) * slab + static_cast<size_t>(pos_of(r)) * d;
      float* v_row = self_v_[layer].data() + seq_of(r) * slab + static_cast<size_t>(pos_of(r)) * d;
      for (int c = 0; c < d; ++c) {
        q[static_cast<size_t>(r) * d + c] *= scale;
        k_row[c] = k[static_cast<size_t>(r) * d + c] * scale;
        v_row[c] = v[static_cast<size_t>(r) * d + c];
      }
    }
    for (int r = 0; r < n; ++r) {
      const int s = seq_of(r);
      engine::CausalAttention(q.data() + static_cast<size_t>(r) * d, 1, pos_of(r), self_k_[layer].data() + s * slab,
                              self_v_[layer].data() + s * slab, heads, 1.0f, att.data() + static_cast<size_t>(r) * d,
                              team_, Isa());
    }
    Linear(m, p + ".attn.out", att.data(), n, proj.data(), team_);
    for (size_t i = 0; i < nd; ++i) x[i] += proj[i];

    LayerNorm(m, p + ".cross_attn_ln", x.data(), n, d, norm.data(), nullptr);
    Linear(m, p + ".cross_attn.query", norm.data(), n, q.data(), team_);
    for (float& qc : q) qc *= scale;
    // Row by row through the direct path: one call for a beam's five rows would take the GEMM
    // path, whose packing of the 1500 positions costs more (base-shaped beam step 28-30 vs 35-41 ms).
    for (int s = 0; s < n; ++s) {
      engine::FullAttention(q.data() + static_cast<size_t>(s) * d, 1, cross_k_[layer].data(), cross_v_[layer].data(),
                            audio_.n_positions, heads, 1.0f, att.data() + static_cast<size_t>(s) * d, team_, Isa());
    }
    Linear(m, p + ".cross_attn.out", att.data(), n, proj.data(), team_);
    for (size_t i = 0; i < nd; ++i) x[i] += proj[i];

    LayerNorm(m, p + ".mlp_ln", x.data(), n, d, norm.data(), nullptr);
    Mlp(m, p, norm.data(), n, d, proj.data(), team_);
    for (size_t i = 0; i < nd; ++i) x[i] += proj[i];
  }
  n_past_ += positions;
  ++passes_;
  if (logits == nullptr) return Status::Ok();
  // The rows whose predictions are read: every sequence's, or the asked positions of one.
  int rows = n;
  if (positions > 1) {
    rows = static_cast<int>(logit_rows.size());
    for (int i = 0; i < rows; ++i) {
      std::copy_n(x.data() + static_cast<size_t>(logit_rows[i]) * d, d, proj.data() + static_cast<size_t>(i) * d);
    }
    x.swap(proj);
  }
  LayerNorm(m, "decoder.ln", x.data(), rows, d, norm.data(), nullptr);
  logits->resize(static_cast<size_t>(rows) * h.n_vocab);
  // Tied to the token embedding. Rows of the vocabulary are the parallel axis (rows is 1..beam).
  engine::MatMulScratch scratch;
  engine::MatMul(T(m, "decoder.token_embedding.weight").Matrix(), norm.data(), rows, logits->data(), team_, Isa(),
                 &scratch);
  return Status::Ok();
}

Result<std::vector<float>> Decoder::Step(int token) {
  if (n_seq_ != 1) return Status::FailedPrecondition("whisper decoder: Step() on " + std::to_string(n_seq_) + " sequences");
  std::vector<float> logits;
  const int tokens[1] = {token};
  if (Status s = StepBatch(tokens, &logits); !s.ok()) return s;
  return logits;
}

Result<std::vector<int>> TranscribePrompt(const Model& model, const std::string& language) {
  const SpecialTokens& s = model.specials;
  auto lang = s.languages.find(language);
  if (lang == s.languages.end()) {
    return Status::InvalidArgument("whisper: " + model.path + " has no language token for \"" + language + "\"");
  }
  if (s.transcribe < 0 || s.no_timestamps < 0) {
    return Status::InvalidArgument("whisper: " + model.path + " has no <|transcribe|> or <|notimestamps|> token id");
  }
  return std::vector<int>{s.start_of_transcript, lang->second, s.transcribe, s.no_timestamps};
}

Result<LanguageGuess> DetectLanguage(const Model& model, const EncoderOutput& audio, WorkerTeam* team) {
  Decoder decoder(model, audio, team);
  return DetectLanguage(&decoder);
}

Result<LanguageGuess> DetectLanguage(Decoder* decoder) {
  const Model& model = decoder->model();
  const SpecialTokens& s = model.specials;
  if (s.languages.empty() || s.start_of_transcript < 0) {
    return Status::InvalidArgument("whisper: " + model.path + " has no language tokens to detect a language with");
  }
  decoder->Reset();
  auto logits = decoder->Step(s.start_of_transcript);
  if (!logits.ok()) return logits.status();
  double max_logit = -INFINITY;
  for (const auto& [code, id] : s.languages) {
    if (id < 0 || id >= model.hparams.n_vocab) {
      return Status::InvalidArgument("whisper: " + model.path + ": language token <|" + code + "|> has id " +
                                     std::to_string(id) + ", outside the vocabulary");
    }
    max_logit = std::max(max_logit, static_cast<double>((*logits)[id]));
  }
  LanguageGuess guess;
  double sum = 0.0;
  for (const auto& [code, id] : s.languages) {
    const double e = std::exp((*logits)[id] - max_logit);
    guess.probabilities.emplace_back(code, e);
    sum += e;
  }
  for (auto& [code, p] : guess.probabilities) p /= sum;
  // Ties go to the lower token id, as torch.argmax does.
  std::stable_sort(guess.probabilities.begin(), guess.probabilities.end(), [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return s.languages.at(a.first) < s.languages.at(b.first);
  });
  guess.language = guess.probabilities.front().first;
  guess.probability = guess.probabilities.front().second;
  return guess;
}

Result<std::vector<int>> GreedyDecode(const Model& model, const EncoderOutput& audio, const std::vector<int>& prompt,
                                      int max_new_tokens, WorkerTeam* team) {
  Decoder decoder(model, audio, team);
  return GreedyDecode(&decoder, prompt, max_new_tokens);
}

void SuppressLogits(const Model& model, bool first, float* logits) {
  const int n_vocab = model.hparams.n_vocab;
  const int eot = model.specials.end_of_text;
  auto suppress = [&](int id) {
    if (id >= 0 && id < n_vocab) logits[id] = -INFINITY;
  };
  if (eot >= 0) std::fill(logits + eot + 1, logits + n_vocab, -INFINITY);
  for (int id : model.specials.suppress) suppress(id);
  if (!first) return;
  if (!model.specials.begin_suppress.empty()) {
    for (int id : model.specials.begin_suppress) suppress(id);
  } else {
    suppress(model.specials.blank);
    suppress(eot);
  }
}

bool IsNoSpeech(const DecodeStats& stats, double no_speech_threshold, double logprob_threshold) {
  return stats.no_speech_prob > no_speech_threshold && stats.avg_logprob <= logprob_threshold;
}

double LogSumExp(const float* l, int n) {
  const float max_l = *std::max_element(l, l + n);
  double sum = 0.0;
  for (int t = 0; t < n; ++t) sum += std::exp(static_cast<double>(l[t]) - max_l);
  return std::log(sum) + max_l;
}

Status FeedPrompt(Decoder& decoder, const std::vector<int>& prompt, std::vector<float>* logits,
                  std::vector<float>* sot_logits) {
  if (prompt.empty()) return Status::InvalidArgument("whisper decoder: the prompt is empty");
  // One pass over the whole prompt; the logits of its first and last positions.
  const int last = static_cast<int>(prompt.size()) - 1;
  const int rows[2] = {0, last};
  std::vector<float> both;
  if (Status s = decoder.Feed(prompt, rows, &both); !s.ok()) return s;
  const size_t n_vocab = both.size() / 2;
  if (sot_logits != nullptr) sot_logits->assign(both.begin(), both.begin() + n_vocab);
  logits->assign(both.begin() + n_vocab, both.end());
  return Status::Ok();
}

double NoSpeechProb(const Model& model, const std::vector<float>& sot_logits) {
  const int id = model.specials.no_speech;
  if (id < 0 || id >= static_cast<int>(sot_logits.size())) return 0.0;
  return std::exp(static_cast<double>(sot_logits[id]) - LogSumExp(sot_logits.data(), static_cast<int>(sot_logits.size())));
}

Result<std::vector<int>> GreedyDecode(Decoder* decoder_ptr, const std::vector<int>& prompt, int max_new_tokens,
                                      DecodeStats* stats, std::span<const int> draft) {
  if (prompt.empty()) return Status::InvalidArgument("whisper greedy decoding: the prompt is empty");
  Decoder& decoder = *decoder_ptr;
  const Model& model = decoder.model();
  const int n_vocab = model.hparams.n_vocab;
  const int n_prompt = static_cast<int>(prompt.size());
  decoder.Reset();
  // The prompt and the draft in one pass, with the logits after the prompt and after each draft
  // token: row n + 1 of `rows` predicts generated token n while the draft holds (row 0 is
  // <|startoftranscript|>'s, for the no-speech probability).
  const int drafted = std::clamp(std::min(static_cast<int>(draft.size()), max_new_tokens - 1), 0,
                                 std::max(0, model.hparams.n_text_ctx - n_prompt));
  std::vector<int> fed = prompt;
  fed.insert(fed.end(), draft.begin(), draft.begin() + drafted);
  std::vector<int> rows = {0};
  for (int i = 0; i <= drafted; ++i) rows.push_back(n_prompt - 1 + i);
  std::vector<float> drafted_logits;
  if (Status s = decoder.Feed(fed, rows, &drafted_logits); !s.ok()) return s;
  std::vector<float> logits;
  int verified = drafted + 1;  // positions whose logits came from the one pass
  std::vector<int> tokens = prompt;
  double sum_logprob = 0.0;
  int text_tokens = 0;
  for (int n = 0; n < max_new_tokens && n_prompt + n < model.hparams.n_text_ctx; ++n) {
    float* l = n < verified ? drafted_logits.data() + static_cast<size_t>(n + 1) * n_vocab : logits.data();
    SuppressLogits(model, n == 0, l);
    const int next = static_cast<int>(std::max_element(l, l + n_vocab) - l);
    if (stats) sum_logprob += static_cast<double>(l[next]) - LogSumExp(l, n_vocab);
    tokens.push_back(next);
    if (next == model.specials.end_of_text) break;
    ++text_tokens;
    if (n + 1 < verified) {
      if (next == draft[n]) continue;  // the pass already fed it: the next row follows it
      // The draft went another way: forget what the pass fed after the agreed tokens.
      decoder.Truncate(n_prompt + n);
      verified = n + 1;
    }
    if (n + 1 == max_new_tokens || n_prompt + n + 1 == model.hparams.n_text_ctx) break;  // nothing reads its logits
    const int id[1] = {next};
    if (Status s = decoder.StepBatch(id, &logits); !s.ok()) return s;
  }
  if (stats) {
    const std::vector<float> sot_logits(drafted_logits.begin(), drafted_logits.begin() + n_vocab);
    *stats = {NoSpeechProb(model, sot_logits), sum_logprob / (text_tokens + 1)};
  }
  return tokens;
}

Result<std::vector<int>> BeamSearchDecode(const Model& model, const EncoderOutput& audio, const std::vector<int>& prompt,
                                          const BeamOptions& options, WorkerTeam* team) {
  Decoder decoder(model, audio, team);
  return BeamSearchDecode(&decoder, prompt, options);
}

Result<std::vector<int>> BeamSearchDecode(Decoder* decoder_ptr, const std::vector<int>& prompt, const BeamOptions& options,
                                          DecodeStats* stats) {
  if (prompt.empty()) return Status::InvalidArgument("whisper beam search: the prompt is empty");
  if (options.beam_size < 1) {
    return Status::InvalidArgument("whisper beam search: beam size " + std::to_string(options.beam_size) + " (use >= 1)");
  }
  Decoder& decoder = *decoder_ptr;
  const Model& model = decoder.model();
  decoder.Reset();
  const int beam = options.beam_size;
  const int eot = model.specials.end_of_text;
  const int n_vocab = model.hparams.n_vocab;
  std::vector<float> logits, sot_logits;
  if (Status s = FeedPrompt(decoder, prompt, &logits, stats ? &sot_logits : nullptr); !s.ok()) return s;
  // openai-whisper starts with beam_size copies of the prompt; the copies' identical candidates
  // collapse into one (its scores are keyed by sequence), so one live sequence is equivalent.
  std::vector<std::vector<int>> live = {{}};  // generated ids per live sequence
  std::vector<double> live_logprob = {0.0};
  std::vector<std::pair<std::vector<int>, double>> finished;  // insertion order, as Python's dict
  std::vector<double> logprobs(n_vocab);
  for (int step = 0; step < options.max_new_tokens; ++step) {
    // STEP 1: every live sequence's beam + 1 best continuations, keyed by the sequence.
    std::map<std::vector<int>, std::pair<double, int>> scores;  // sequence -> (logprob, source)
    std::vector<std::vector<int>> order;                         // first-insertion order
    for (int j = 0; j < static_cast<int>(live.size()); ++j) {
      SuppressLogits(model, step == 0, logits.data() + static_cast<size_t>(j) * n_vocab);
      const float* l = logits.data() + static_cast<size_t>(j) * n_vocab;
      const double log_sum = LogSumExp(l, n_vocab);
      std::vector<int> ids(n_vocab);
      for (int t = 0; t < n_vocab; ++t) ids[t] = t;
      const int top = std::min(beam + 1, n_vocab);
      std::partial_sort(ids.begin(), ids.begin() + top, ids.end(), [&](int a, int b) {
        return l[a] != l[b] ? l[a] > l[b] : a < b;
      });
      for (int r = 0; r < top; ++r) {
        std::vector<int> seq = live[j];
        seq.push_back(ids[r]);
        const double lp = live_logprob[j] + (static_cast<double>(l[ids[r]]) - log_sum);
        auto [it, inserted] = scores.insert_or_assign(seq, std::make_pair(lp, j));
        if (inserted) order.push_back(std::move(seq));
      }
    }
    // STEP 2: rank (stable: equal scores keep insertion order) and keep beam unfinished ones.
    std::stable_sort(order.begin(), order.end(),
                     [&](const auto& a, const auto& b) { return scores.at(a).first > scores.at(b).first; });
    std::vector<std::vector<int>> next_live;
    std::vector<double> next_logprob;
    std::vector<int> sources;
    std::vector<std::pair<std::vector<int>, double>> newly_finished;
    for (const std::vector<int>& seq : order) {
      const auto& [lp, src] = scores.at(seq);
      if (seq.back() == eot) {
        newly_finished.emplace_back(seq, lp);
      } else {
        next_live.push_back(seq);
        next_logprob.push_back(lp);
        sources.push_back(src);
        if (static_cast<int>(next_live.size()) == beam) break;
      }
    }
    for (auto& f : newly_finished) {
      if (static_cast<int>(finished.size()) >= beam) break;
      finished.push_back(std::move(f));
    }
    live.swap(next_live);
    live_logprob.swap(next_logprob);
    const bool completed = static_cast<int>(finished.size()) >= beam;
    if (completed || decoder.n_past() >= model.hparams.n_text_ctx) break;
    if (Status s = decoder.Reorder(sources); !s.ok()) return s;
    std::vector<int> last;
    for (const auto& seq : live) last.push_back(seq.back());
    if (Status s = decoder.StepBatch(last, &logits); !s.ok()) return s;
  }
  // Finalize: too few finished -> add the live ones, best first, closed with <|endoftext|>.
  if (static_cast<int>(finished.size()) < beam) {
    std::vector<int> idx(live.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return live_logprob[a] > live_logprob[b]; });
    for (int i : idx) {
      std::vector<int> seq = live[i];
      seq.push_back(eot);
      finished.emplace_back(std::move(seq), live_logprob[i]);
      if (static_cast<int>(finished.size()) >= beam) break;
    }
  }
  // MaximumLikelihoodRanker, length_penalty None: sum logprob / generated length (no <|endoftext|>).
  int best = 0;
  double best_score = -INFINITY;
  for (int i = 0; i < static_cast<int>(finished.size()); ++i) {
    const auto& [seq, lp] = finished[i];
    const size_t length = std::max<size_t>(1, seq.size() - 1);
    const double score = lp / static_cast<double>(length);
    if (score > best_score) {
      best_score = score;
      best = i;
    }
  }
  std::vector<int> tokens = prompt;
  if (!finished.empty()) tokens.insert(tokens.end(), finished[best].first.begin(), finished[best].first.end());
  if (stats) {
    const double text = finished.empty() ? 0.0 : static_cast<double>(finished[best].first.size() - 1);
    *stats = {NoSpeechProb(model, sot_logits), finished.empty() ? 0.0 : finished[best].second / (text + 1)};
  }
  return tokens;
}

}  // namespace cadence::speech::whisper
