#include "speech/asr/whisper/transformer.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace cadence::speech::whisper {
namespace {

const std::vector<float>& W(const Model& m, const std::string& name) { return m.Find(name)->data; }

float Gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * static_cast<float>(M_SQRT1_2))); }

// y[t][o] = b[o] + sum_i w[o][i] x[t][i]; x [n][in], w [out][in]; bias may be empty.
void Linear(const float* x, int n, int in, const std::vector<float>& w, const std::vector<float>* b, int out, float* y) {
  for (int t = 0; t < n; ++t) {
    const float* xr = x + static_cast<size_t>(t) * in;
    for (int o = 0; o < out; ++o) {
      const float* wr = w.data() + static_cast<size_t>(o) * in;
      float acc = 0.0f;
      for (int i = 0; i < in; ++i) acc += wr[i] * xr[i];
      y[static_cast<size_t>(t) * out + o] = acc + (b ? (*b)[o] : 0.0f);
    }
  }
}

void LinearNamed(const Model& m, const std::string& name, const float* x, int n, int in, int out, float* y, bool bias = true) {
  Linear(x, n, in, W(m, name + ".weight"), bias ? &W(m, name + ".bias") : nullptr, out, y);
}

void LayerNorm(const Model& m, const std::string& name, const float* x, int n, int d, float* y) {
  const std::vector<float>& g = W(m, name + ".weight");
  const std::vector<float>& b = W(m, name + ".bias");
  for (int t = 0; t < n; ++t) {
    const float* xr = x + static_cast<size_t>(t) * d;
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < d; ++i) mean += xr[i];
    mean /= d;
    for (int i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= d;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + 1e-5));
    for (int i = 0; i < d; ++i) y[static_cast<size_t>(t) * d + i] = (xr[i] - static_cast<float>(mean)) * inv * g[i] + b[i];
  }
}

// Softmax attention of queries q [nq][d] over keys/values [nk][d], per head; q and k are
// already scaled. `causal_offset` >= 0 lets query i see keys [0, causal_offset + i].
void Attend(const float* q, int nq, const float* k, const float* v, int nk, int d, int heads, int causal_offset, float* out) {
  const int hd = d / heads;
  std::vector<float> score(nk);
  for (int i = 0; i < nq; ++i) {
    const int visible = causal_offset >= 0 ? std::min(nk, causal_offset + i + 1) : nk;
    for (int h = 0; h < heads; ++h) {
      const float* qi = q + static_cast<size_t>(i) * d + h * hd;
      float max_score = -INFINITY;
      for (int j = 0; j < visible; ++j) {
        const float* kj = k + static_cast<size_t>(j) * d + h * hd;
        float s = 0.0f;
        for (int c = 0; c < hd; ++c) s += qi[c] * kj[c];
        score[j] = s;
        max_score = std::max(max_score, s);
      }
      float sum = 0.0f;
      for (int j = 0; j < visible; ++j) sum += (score[j] = std::exp(score[j] - max_score));
      float* o = out + static_cast<size_t>(i) * d + h * hd;
      std::fill(o, o + hd, 0.0f);
      for (int j = 0; j < visible; ++j) {
        const float p = score[j] / sum;
        const float* vj = v + static_cast<size_t>(j) * d + h * hd;
        for (int c = 0; c < hd; ++c) o[c] += p * vj[c];
      }
    }
  }
}

void Mlp(const Model& m, const std::string& p, const float* x, int n, int d, float* y) {
  std::vector<float> hidden(static_cast<size_t>(n) * 4 * d);
  LinearNamed(m, p + ".mlp.0", x, n, d, 4 * d, hidden.data());
  for (float& h : hidden) h = Gelu(h);
  LinearNamed(m, p + ".mlp.2", hidden.data(), n, 4 * d, d, y);
}

// Conv1d, kernel 3, padding 1: x [c_in][t_in] -> y [c_out][t_out], then GELU.
void ConvGelu(const std::vector<float>& w, const std::vector<float>& b, const float* x, int c_in, int t_in, int c_out,
              int stride, std::vector<float>* y, int* t_out) {
  *t_out = (t_in + 2 - 3) / stride + 1;
  y->assign(static_cast<size_t>(c_out) * *t_out, 0.0f);
  for (int o = 0; o < c_out; ++o) {
    for (int t = 0; t < *t_out; ++t) {
      float acc = b[o];
      for (int c = 0; c < c_in; ++c) {
        const float* wr = w.data() + (static_cast<size_t>(o) * c_in + c) * 3;
        const float* xr = x + static_cast<size_t>(c) * t_in;
        for (int kk = 0; kk < 3; ++kk) {
          const int src = t * stride + kk - 1;
          if (src >= 0 && src < t_in) acc += wr[kk] * xr[src];
        }
      }
      (*y)[static_cast<size_t>(o) * *t_out + t] = Gelu(acc);
    }
  }
}

}  // namespace

Result<EncoderOutput> Encode(const Model& m, const LogMel& mel) {
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
  ConvGelu(W(m, "encoder.conv1.weight"), W(m, "encoder.conv1.bias"), mel.data.data(), h.n_mels, mel.n_frames, d, 1, &c1, &t1);
  ConvGelu(W(m, "encoder.conv2.weight"), W(m, "encoder.conv2.bias"), c1.data(), d, t1, d, 2, &c2, &t2);
  EncoderOutput out;
  out.n_positions = t2;
  out.width = d;
  std::vector<float>& x = out.data;
  x.resize(static_cast<size_t>(t2) * d);
  const std::vector<float>& pos = W(m, "encoder.positional_embedding");
  for (int t = 0; t < t2; ++t) {
    for (int c = 0; c < d; ++c) x[static_cast<size_t>(t) * d + c] = c2[static_cast<size_t>(c) * t2 + t] + pos[static_cast<size_t>(t) * d + c];
  }
  const float scale = std::pow(static_cast<float>(d / h.n_audio_head), -0.25f);
  std::vector<float> norm(x.size()), q(x.size()), k(x.size()), v(x.size()), att(x.size()), proj(x.size());
  for (int layer = 0; layer < h.n_audio_layer; ++layer) {
    const std::string p = "encoder.blocks." + std::to_string(layer);
    LayerNorm(m, p + ".attn_ln", x.data(), t2, d, norm.data());
    LinearNamed(m, p + ".attn.query", norm.data(), t2, d, d, q.data());
    LinearNamed(m, p + ".attn.key", norm.data(), t2, d, d, k.data(), /*bias=*/false);
    LinearNamed(m, p + ".attn.value", norm.data(), t2, d, d, v.data());
    for (size_t i = 0; i < q.size(); ++i) {
      q[i] *= scale;
      k[i] *= scale;
    }
    Attend(q.data(), t2, k.data(), v.data(), t2, d, h.n_audio_head, -1, att.data());
    LinearNamed(m, p + ".attn.out", att.data(), t2, d, d, proj.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
    LayerNorm(m, p + ".mlp_ln", x.data(), t2, d, norm.data());
    Mlp(m, p, norm.data(), t2, d, proj.data());
    for (size_t i = 0; i < x.size(); ++i) x[i] += proj[i];
  }
  LayerNorm(m, "encoder.ln_post", x.data(), t2, d, norm.data());
  x.swap(norm);
  return out;
}

Decoder::Decoder(const Model& model, const EncoderOutput& audio) : model_(model), audio_(audio) {
  const HParams& h = model.hparams;
  const int d = h.n_text_state;
  const float scale = std::pow(static_cast<float>(d / h.n_text_head), -0.25f);
  self_k_.assign(h.n_text_layer, std::vector<float>(static_cast<size_t>(h.n_text_ctx) * d));
  self_v_ = self_k_;
  cross_k_.assign(h.n_text_layer, std::vector<float>(static_cast<size_t>(audio.n_positions) * d));
  cross_v_ = cross_k_;
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const std::string p = "decoder.blocks." + std::to_string(layer) + ".cross_attn";
    LinearNamed(model, p + ".key", audio.data.data(), audio.n_positions, d, d, cross_k_[layer].data(), false);
    LinearNamed(model, p + ".value", audio.data.data(), audio.n_positions, d, d, cross_v_[layer].data());
    for (float& kv : cross_k_[layer]) kv *= scale;
  }
}

Result<std::vector<float>> Decoder::Step(int token) {
  const Model& m = model_;
  const HParams& h = m.hparams;
  if (token < 0 || token >= h.n_vocab) {
    return Status::InvalidArgument("whisper decoder: token id " + std::to_string(token) + " is outside the vocabulary of " +
                                   std::to_string(h.n_vocab));
  }
  if (n_past_ >= h.n_text_ctx) {
    return Status::OutOfRange("whisper decoder: the text context of " + std::to_string(h.n_text_ctx) + " tokens is full");
  }
  const int d = h.n_text_state;
  const float scale = std::pow(static_cast<float>(d / h.n_text_head), -0.25f);
  std::vector<float> x(d), norm(d), q(d), att(d), proj(d);
  const std::vector<float>& emb = W(m, "decoder.token_embedding.weight");
  const std::vector<float>& pos = W(m, "decoder.positional_embedding");
  for (int c = 0; c < d; ++c) x[c] = emb[static_cast<size_t>(token) * d + c] + pos[static_cast<size_t>(n_past_) * d + c];
  for (int layer = 0; layer < h.n_text_layer; ++layer) {
    const std::string p = "decoder.blocks." + std::to_string(layer);
    LayerNorm(m, p + ".attn_ln", x.data(), 1, d, norm.data());
    LinearNamed(m, p + ".attn.query", norm.data(), 1, d, d, q.data());
    float* k_row = self_k_[layer].data() + static_cast<size_t>(n_past_) * d;
    float* v_row = self_v_[layer].data() + static_cast<size_t>(n_past_) * d;
    LinearNamed(m, p + ".attn.key", norm.data(), 1, d, d, k_row, false);
    LinearNamed(m, p + ".attn.value", norm.data(), 1, d, d, v_row);
    for (int c = 0; c < d; ++c) {
      q[c] *= scale;
      k_row[c] *= scale;
    }
    Attend(q.data(), 1, self_k_[layer].data(), self_v_[layer].data(), n_past_ + 1, d, h.n_text_head, -1, att.data());
    LinearNamed(m, p + ".attn.out", att.data(), 1, d, d, proj.data());
    for (int c = 0; c < d; ++c) x[c] += proj[c];

    LayerNorm(m, p + ".cross_attn_ln", x.data(), 1, d, norm.data());
    LinearNamed(m, p + ".cross_attn.query", norm.data(), 1, d, d, q.data());
    for (float& qc : q) qc *= scale;
    Attend(q.data(), 1, cross_k_[layer].data(), cross_v_[layer].data(), audio_.n_positions, d, h.n_text_head, -1, att.data());
    LinearNamed(m, p + ".cross_attn.out", att.data(), 1, d, d, proj.data());
    for (int c = 0; c < d; ++c) x[c] += proj[c];

    LayerNorm(m, p + ".mlp_ln", x.data(), 1, d, norm.data());
    Mlp(m, p, norm.data(), 1, d, proj.data());
    for (int c = 0; c < d; ++c) x[c] += proj[c];
  }
  LayerNorm(m, "decoder.ln", x.data(), 1, d, norm.data());
  std::vector<float> logits(h.n_vocab);
  Linear(norm.data(), 1, d, emb, nullptr, h.n_vocab, logits.data());  // tied to the token embedding
  ++n_past_;
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

Result<std::vector<int>> GreedyDecode(const Model& model, const EncoderOutput& audio, const std::vector<int>& prompt,
                                      int max_new_tokens) {
  if (prompt.empty()) return Status::InvalidArgument("whisper greedy decoding: the prompt is empty");
  Decoder decoder(model, audio);
  std::vector<int> tokens = prompt;
  Result<std::vector<float>> logits = Status::Internal("unset");
  for (int id : prompt) {
    logits = decoder.Step(id);
    if (!logits.ok()) return logits.status();
  }
  for (int n = 0; n < max_new_tokens && decoder.n_past() < model.hparams.n_text_ctx; ++n) {
    const std::vector<float>& l = *logits;
    const int next = static_cast<int>(std::max_element(l.begin(), l.end()) - l.begin());
    tokens.push_back(next);
    if (next == model.specials.end_of_text) break;
    logits = decoder.Step(next);
    if (!logits.ok()) return logits.status();
  }
  return tokens;
}

}  // namespace cadence::speech::whisper
