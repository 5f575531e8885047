#include "engine/models/cosyvoice_lm.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <sstream>

namespace cadence::engine {

const std::vector<std::string>& CosyVoice2SpecialTokens() {
  static const std::vector<std::string> kTokens = {
      "<|im_start|>", "<|im_end|>", "<|endofprompt|>", "[breath]", "<strong>", "</strong>", "[noise]",
      "[laughter]", "[cough]", "[clucking]", "[accent]", "[quick_breath]", "<laughter>", "</laughter>",
      "[hissing]", "[sigh]", "[vocalized-noise]", "[lipsmack]", "[mn]"};
  return kTokens;
}

Status CosyVoiceSampling::Validate() const {
  if (greedy) return Status::Ok();
  if (top_k < 1) return Status::InvalidArgument("cosyvoice sampling: top_k = " + std::to_string(top_k) + " must be >= 1");
  if (!(top_p > 0 && top_p <= 1)) return Status::InvalidArgument("cosyvoice sampling: top_p must be in (0, 1]");
  if (window < 0) return Status::InvalidArgument("cosyvoice sampling: window must be >= 0");
  if (!(tau_r > 0)) return Status::InvalidArgument("cosyvoice sampling: tau_r must be > 0");
  if (!(min_token_text_ratio >= 0) || !(max_token_text_ratio >= min_token_text_ratio))
    return Status::InvalidArgument("cosyvoice sampling: need 0 <= min_token_text_ratio <= max_token_text_ratio");
  return Status::Ok();
}

std::string CosyVoiceSampling::ToString() const {
  std::ostringstream s;
  if (greedy) s << "greedy";
  else s << "ras top_k=" << top_k << " top_p=" << top_p << " window=" << window << " tau_r=" << tau_r;
  s << " min_ratio=" << min_token_text_ratio << " max_ratio=" << max_token_text_ratio;
  return s.str();
}

namespace {

// Softmax probabilities of `logits` (-inf entries get 0), in double.
std::vector<double> Softmax(std::span<const float> logits) {
  const float max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(static_cast<double>(logits[i]) - max);
  for (double& v : p) v /= sum;
  return p;
}

// Draws index i with probability weights[i] / sum(weights).
size_t Draw(const std::vector<double>& weights, std::mt19937_64& rng) {
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (size_t i = 0; i < weights.size(); ++i) {
    if (u < weights[i]) return i;
    u -= weights[i];
  }
  for (size_t i = weights.size(); i-- > 0;)  // rounding: the last candidate with weight
    if (weights[i] > 0) return i;
  return 0;
}

int Argmax(std::span<const float> logits) {
  return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

Result<WeightMatrix> Matrix(const TorchCheckpoint& ckpt, const std::string& name, int64_t rows, int64_t cols) {
  const TorchTensor* t = ckpt.Find(name);
  if (!t) return Status::NotFound(ckpt.path() + ": tensor " + name + ": missing; not a CosyVoice 2 llm.pt");
  if (t->shape.size() != 2 || (rows >= 0 && t->shape[0] != rows) || t->shape[1] != cols) {
    std::string shape = "[";
    for (size_t i = 0; i < t->shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t->shape[i]);
    return Status::InvalidArgument(ckpt.path() + ": tensor " + name + ".shape: " + shape + "], expected [" +
                                   (rows >= 0 ? std::to_string(rows) : std::string("N")) + ", " +
                                   std::to_string(cols) + "]");
  }
  return WeightMatrix{t->type, t->shape[0], cols, t->data, RowBytes(t->type, cols)};
}

}  // namespace

int RasSample(std::span<float> logits, const std::vector<int>& decoded, const CosyVoiceSampling& sampling,
              std::mt19937_64& rng) {
  const std::vector<double> p = Softmax(logits);
  std::vector<int> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::vector<double> kept;
  double cum = 0;
  for (size_t i = 0; i < order.size() && cum < sampling.top_p && static_cast<int>(kept.size()) < sampling.top_k; ++i) {
    cum += p[order[i]];
    kept.push_back(p[order[i]]);
  }
  const int top = order[Draw(kept, rng)];
  const size_t from = decoded.size() > static_cast<size_t>(sampling.window) ? decoded.size() - sampling.window : 0;
  const auto repeats = std::count(decoded.begin() + static_cast<std::ptrdiff_t>(from), decoded.end(), top);
  if (static_cast<double>(repeats) >= sampling.window * sampling.tau_r) {
    logits[static_cast<size_t>(top)] = -std::numeric_limits<float>::infinity();
    return static_cast<int>(Draw(Softmax(logits), rng));
  }
  return top;
}

Result<std::unique_ptr<CosyVoiceLm>> CosyVoiceLm::Load(const std::string& dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  const std::string llm_path = (fs::path(dir) / "llm.pt").string();
  const std::string blank = (fs::path(dir) / "CosyVoice-BlankEN").string();
  std::error_code ec;
  if (!fs::is_regular_file(llm_path, ec))
    return Status::NotFound(llm_path + ": missing; a CosyVoice2 folder holds llm.pt and CosyVoice-BlankEN/");
  auto ckpt = TorchCheckpoint::Open(llm_path);
  if (!ckpt.ok()) return ckpt.status();
  std::shared_ptr<const TorchCheckpoint> checkpoint = std::move(ckpt).value();

  auto lm = std::unique_ptr<CosyVoiceLm>(new CosyVoiceLm());
  CADENCE_ASSIGN_OR_RETURN(lm->model_,
                           Model::FromTorch(checkpoint, "llm.model.", (fs::path(blank) / "config.json").string(), options));
  Model& model = *lm->model_;
  const int64_t E = model.config().n_embd;
  lm->text_vocab_ = model.config().n_vocab;

  CADENCE_ASSIGN_OR_RETURN(WeightMatrix speech, Matrix(*checkpoint, "speech_embedding.weight", -1, E));
  if (speech.rows < 4) return Status::InvalidArgument(llm_path + ": tensor speech_embedding.weight has too few rows");
  const int64_t n_speech = speech.rows;  // S + 3: the speech tokens, eos, and two more stop tokens
  lm->speech_token_size_ = static_cast<int>(n_speech - 3);
  CADENCE_ASSIGN_OR_RETURN(WeightMatrix task, Matrix(*checkpoint, "llm_embedding.weight", 2, E));
  CADENCE_ASSIGN_OR_RETURN(WeightMatrix decoder, Matrix(*checkpoint, "llm_decoder.weight", n_speech, E));
  CADENCE_ASSIGN_OR_RETURN(std::vector<float> bias, checkpoint->Floats("llm_decoder.bias", {n_speech}));

  CADENCE_ASSIGN_OR_RETURN(lm->speech_base_, model.AppendInputRows(speech));
  CADENCE_ASSIGN_OR_RETURN(lm->sos_id_, model.AppendInputRows(task));
  lm->task_id_ = lm->sos_id_ + 1;
  CADENCE_RETURN_IF_ERROR(model.SetOutput(decoder, std::move(bias)));

  CADENCE_ASSIGN_OR_RETURN(lm->tokenizer_, Tokenizer::FromHuggingFace(blank, CosyVoice2SpecialTokens()));
  return lm;
}

Result<std::vector<int>> CosyVoiceLm::Generate(const std::vector<TokenId>& text_ids,
                                               const std::vector<TokenId>& prompt_text_ids,
                                               const std::vector<int>& prompt_speech_tokens,
                                               const CosyVoiceSampling& sampling, uint64_t seed,
                                               const TokenCallback& on_token, const CancelToken* cancel,
                                               std::vector<float>* first_logits) const {
  CADENCE_RETURN_IF_ERROR(sampling.Validate());
  const int S = speech_token_size_;
  std::vector<TokenId> prompt;
  prompt.reserve(2 + prompt_text_ids.size() + text_ids.size() + prompt_speech_tokens.size());
  prompt.push_back(sos_id_);
  for (const std::vector<TokenId>* ids : {&prompt_text_ids, &text_ids})
    for (TokenId t : *ids) {
      if (t < 0 || t >= text_vocab_)
        return Status::InvalidArgument("cosyvoice lm: text token " + std::to_string(t) +
                                       " is outside the text vocabulary (" + std::to_string(text_vocab_) + ")");
      prompt.push_back(t);
    }
  prompt.push_back(task_id_);
  for (int s : prompt_speech_tokens) {
    if (s < 0 || s >= S)
      return Status::InvalidArgument("cosyvoice lm: prompt speech token " + std::to_string(s) + " is outside [0, " +
                                     std::to_string(S) + ")");
    prompt.push_back(speech_base_ + s);
  }
  const int text_len = static_cast<int>(text_ids.size());
  const int min_len = static_cast<int>(text_len * sampling.min_token_text_ratio);
  const int max_len = static_cast<int>(text_len * sampling.max_token_text_ratio);

  Sequence seq(*model_, static_cast<int>(prompt.size()) + max_len + 1);
  std::vector<float> logits;
  CADENCE_RETURN_IF_ERROR(seq.Append(prompt, &logits, cancel));
  if (first_logits) *first_logits = logits;
  std::mt19937_64 rng(seed);
  std::vector<int> out;
  for (int i = 0; i < max_len; ++i) {
    if (i > 0) CADENCE_RETURN_IF_ERROR(seq.Append({speech_base_ + out.back()}, &logits, cancel));
    if (i < min_len) logits[static_cast<size_t>(S)] = -std::numeric_limits<float>::infinity();
    const int token = sampling.greedy ? Argmax(logits) : RasSample(logits, out, sampling, rng);
    if (token >= S) break;  // eos and the two other stop tokens
    out.push_back(token);
    if (on_token && !on_token(token)) break;
  }
  return out;
}

}  // namespace cadence::engine
