#include "engine/models/step_audio2.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/formats/safetensors_shards.h"
#include "engine/generate/text_stream.h"

namespace cadence::engine {
namespace {

namespace fs = std::filesystem;

Result<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open; a Step-Audio 2 folder holds config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path + ": not a JSON object");
  return j;
}

uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

StepAudio2Turn StepAudio2Turn::Text(std::string role, std::string text, bool eot) {
  StepAudio2Turn t;
  t.role = std::move(role);
  t.parts.push_back({std::move(text), nullptr, {}});
  t.eot = eot;
  return t;
}

StepAudio2::~StepAudio2() = default;

Result<std::unique_ptr<StepAudio2>> StepAudio2::Load(const std::string& dir, const StepAudio2Options& options) {
  const std::string config_path = (fs::path(dir) / "config.json").string();
  CADENCE_ASSIGN_OR_RETURN(nlohmann::json config, ReadJson(config_path));
  if (!config.contains("text_config") || !config["text_config"].is_object())
    return Status::InvalidArgument(config_path + ": field text_config: missing; not a Step-Audio 2 config");
  if (!config.contains("audio_encoder_config") || !config["audio_encoder_config"].is_object())
    return Status::InvalidArgument(config_path + ": field audio_encoder_config: missing; not a Step-Audio 2 config");
  auto model = std::unique_ptr<StepAudio2>(new StepAudio2());
  CADENCE_ASSIGN_OR_RETURN(StepAudio2EncoderConfig audio_config,
                           StepAudio2EncoderConfig::FromJson(config["audio_encoder_config"],
                                                             config_path + ": audio_encoder_config"));
  ModelConfig text_config;
  CADENCE_RETURN_IF_ERROR(ModelConfigFromJson(config["text_config"], config_path + ": text_config", "qwen2", &text_config));
  if (audio_config.llm_dim != text_config.n_embd)
    return Status::InvalidArgument(config_path + ": audio_encoder_config.llm_dim = " + std::to_string(audio_config.llm_dim) +
                                   " differs from text_config.hidden_size = " + std::to_string(text_config.n_embd));
  CADENCE_ASSIGN_OR_RETURN(std::unique_ptr<SafetensorsShards> shards, SafetensorsShards::Open(dir));
  model->weights_ = std::move(shards);
  CADENCE_ASSIGN_OR_RETURN(model->encoder_, StepAudio2Encoder::Load(*model->weights_, audio_config));
  CADENCE_ASSIGN_OR_RETURN(model->llm_, Model::FromShards(model->weights_, text_config, options.llm));
  CADENCE_ASSIGN_OR_RETURN(model->tokenizer_, Tokenizer::FromHuggingFace(dir));
  const Tokenizer& tok = *model->tokenizer_;
  StepAudio2Tokens& t = model->tokens_;
  struct Named {
    const char* text;
    TokenId* id;
  };
  const Named named[] = {{"<|BOT|>", &t.bot},         {"<|EOT|>", &t.eot},         {"<audio_start>", &t.audio_start},
                         {"<audio_end>", &t.audio_end}, {"<audio_patch>", &t.audio_patch}, {"<tts_start>", &t.tts_start},
                         {"<tts_end>", &t.tts_end},   {"<tts_pad>", &t.tts_pad},   {"<audio_0>", &t.audio_0}};
  for (const Named& n : named) {
    *n.id = tok.Find(n.text);
    if (*n.id < 0)
      return Status::InvalidArgument((fs::path(dir) / "tokenizer_config.json").string() + ": token " + n.text +
                                     ": missing; not a Step-Audio 2 tokenizer");
  }
  t.eos = tok.Find("<|endoftext|>");
  if (tok.Find("<audio_" + std::to_string(kStepAudio2SpeechCodes - 1) + ">") != t.audio_0 + kStepAudio2SpeechCodes - 1)
    return Status::InvalidArgument((fs::path(dir) / "tokenizer_config.json").string() +
                                   ": tokens <audio_0> .. <audio_6560> are not consecutive ids");
  if (t.audio_0 + kStepAudio2SpeechCodes > model->llm_->config().n_vocab)
    return Status::InvalidArgument(config_path + ": text_config.vocab_size = " +
                                   std::to_string(model->llm_->config().n_vocab) + " does not cover <audio_6560>");
  const int threads = options.encoder_threads > 0 ? options.encoder_threads
                      : options.llm.threads > 0   ? options.llm.threads
                                                  : DefaultThreads();
  model->encoder_team_ = std::make_unique<WorkerTeam>(threads);
  model->encoder_cache_size_ = std::max(0, options.encoder_cache);
  return model;
}

Result<StepAudio2Prompt> StepAudio2::BuildPrompt(const std::vector<StepAudio2Turn>& turns) const {
  StepAudio2Prompt prompt;
  auto add_text = [&](const std::string& text) {
    if (text.empty()) return;
    std::vector<TokenId> ids = tokenizer_->Encode(text, false, true);
    prompt.ids.insert(prompt.ids.end(), ids.begin(), ids.end());
  };
  for (size_t ti = 0; ti < turns.size(); ++ti) {
    const StepAudio2Turn& turn = turns[ti];
    const std::string role = turn.role == "user" ? "human" : turn.role;
    const std::string head = "<|BOT|>" + role + "\n";
    if (!turn.as_parts) {
      std::string text = head;
      for (const auto& p : turn.parts) {
        if (p.audio) return Status::InvalidArgument("turn " + std::to_string(ti) + ": audio needs the parts form");
        text += p.text;
      }
      if (turn.eot) text += "<|EOT|>";
      add_text(text);
      continue;
    }
    add_text(head);
    for (const auto& p : turn.parts) {
      if (p.audio) {
        const int rows = AudioRows(p.audio->n_frames);
        if (rows <= 0)
          return Status::InvalidArgument("turn " + std::to_string(ti) + ": an audio piece of " +
                                         std::to_string(p.audio->n_frames) + " mel frames is too short");
        prompt.ids.push_back(tokens_.audio_start);
        prompt.audio.push_back({static_cast<int>(prompt.ids.size()), rows, p.audio});
        prompt.ids.insert(prompt.ids.end(), static_cast<size_t>(rows), tokens_.audio_patch);
        prompt.ids.push_back(tokens_.audio_end);
      } else if (!p.text.empty()) {
        add_text(p.text);
      } else {
        prompt.ids.insert(prompt.ids.end(), p.ids.begin(), p.ids.end());
      }
    }
    if (turn.eot) prompt.ids.push_back(tokens_.eot);
  }
  return prompt;
}

std::vector<TokenId> StepAudio2::PositionIds(const StepAudio2Prompt& prompt) const {
  std::vector<TokenId> ids = prompt.ids;
  for (const auto& a : prompt.audio)
    for (int r = 0; r < a.rows; ++r)
      ids[static_cast<size_t>(a.position + r)] =
          static_cast<TokenId>(-1 - static_cast<int64_t>(Mix(a.piece->key * 1000003ull + static_cast<uint64_t>(r)) & 0x3fffffff));
  return ids;
}

Result<std::shared_ptr<const std::vector<float>>> StepAudio2::EncodeAudio(const StepAudio2AudioPiece& piece) const {
  std::lock_guard<std::mutex> lock(encoder_mu_);
  for (auto it = encoder_cache_.begin(); it != encoder_cache_.end(); ++it) {
    if (it->first != piece.key) continue;
    encoder_cache_.splice(encoder_cache_.begin(), encoder_cache_, it);
    return encoder_cache_.front().second;
  }
  CADENCE_ASSIGN_OR_RETURN(std::vector<float> rows, encoder_->Encode(piece.mel, piece.n_frames, encoder_team_.get()));
  auto shared = std::make_shared<const std::vector<float>>(std::move(rows));
  if (encoder_cache_size_ > 0) {
    encoder_cache_.emplace_front(piece.key, shared);
    while (static_cast<int>(encoder_cache_.size()) > encoder_cache_size_) encoder_cache_.pop_back();
  }
  return shared;
}

Result<int> StepAudio2::Prefill(Sequence& seq, const StepAudio2Prompt& prompt, std::vector<float>* logits,
                                const CancelToken* cancel) const {
  if (prompt.ids.empty()) return Status::InvalidArgument("step-audio-2: empty prompt");
  const std::vector<TokenId> identity = PositionIds(prompt);
  const std::vector<TokenId>& held = seq.tokens();
  size_t common = 0;
  while (common < held.size() && common < identity.size() && held[common] == identity[common]) ++common;
  if (common == identity.size()) --common;  // re-evaluate the last position for fresh logits
  seq.Truncate(static_cast<int>(common));
  const int n_embd = llm_->config().n_embd;
  size_t pos = common;
  while (pos < identity.size()) {
    // The audio piece covering `pos`, if any, else the text run up to the next piece.
    const StepAudio2Prompt::Audio* audio = nullptr;
    size_t next_audio = identity.size();
    for (const auto& a : prompt.audio) {
      const size_t begin = static_cast<size_t>(a.position), end = begin + static_cast<size_t>(a.rows);
      if (pos >= begin && pos < end) audio = &a;
      if (begin > pos) next_audio = std::min(next_audio, begin);
    }
    if (audio != nullptr) {
      CADENCE_ASSIGN_OR_RETURN(auto rows, EncodeAudio(*audio->piece));
      if (rows->size() != static_cast<size_t>(audio->rows) * n_embd)
        return Status::Internal("step-audio-2: the encoder gave " + std::to_string(rows->size() / n_embd) +
                                " rows for " + std::to_string(audio->rows) + " audio patches");
      const size_t from = pos - static_cast<size_t>(audio->position);
      const size_t end = static_cast<size_t>(audio->position + audio->rows);
      std::vector<TokenId> ids(identity.begin() + static_cast<std::ptrdiff_t>(pos),
                               identity.begin() + static_cast<std::ptrdiff_t>(end));
      std::span<const float> part(rows->data() + from * n_embd, (end - pos) * n_embd);
      CADENCE_RETURN_IF_ERROR(seq.AppendEmbeddings(ids, part, end == identity.size() ? logits : nullptr, cancel));
      pos = end;
    } else {
      std::vector<TokenId> ids(identity.begin() + static_cast<std::ptrdiff_t>(pos),
                               identity.begin() + static_cast<std::ptrdiff_t>(next_audio));
      CADENCE_RETURN_IF_ERROR(seq.Append(ids, next_audio == identity.size() ? logits : nullptr, cancel));
      pos = next_audio;
    }
  }
  return static_cast<int>(common);
}

Result<StepAudio2Output> StepAudio2::Generate(Sequence& seq, const StepAudio2Prompt& prompt,
                                              const StepAudio2Generation& options,
                                              const std::function<bool(std::string_view)>& on_text,
                                              const std::function<bool(std::span<const int>)>& on_speech,
                                              const CancelToken* cancel) const {
  StepAudio2Output out;
  std::vector<float> logits;
  CADENCE_ASSIGN_OR_RETURN(out.reused_tokens, Prefill(seq, prompt, &logits, cancel));
  out.prompt_tokens = static_cast<int>(prompt.ids.size());
  Sampler sampler(options.sampling);
  std::vector<TokenId> history = prompt.ids;
  TextStream text(*tokenizer_, {});
  bool stop = false;
  auto emit_text = [&](const std::string& piece) {
    if (piece.empty()) return;
    out.text += piece;
    if (on_text && !on_text(piece)) stop = true;
  };
  for (int step = 0; step < options.max_tokens && !stop; ++step) {
    if (cancel && cancel->cancelled()) return Status::Cancelled("generation cancelled");
    const TokenId t = sampler.Sample(logits, history);
    if (t == tokens_.eot || (tokens_.eos >= 0 && t == tokens_.eos)) {
      out.finished = true;
      break;
    }
    out.ids.push_back(t);
    history.push_back(t);
    if (t < tokens_.audio_start) {
      bool stopped = false;
      emit_text(text.Add(t, &stopped));
    } else if (t >= tokens_.audio_0 && t < tokens_.audio_0 + kStepAudio2SpeechCodes) {
      const int code = t - tokens_.audio_0;
      out.speech.push_back(code);
      if (on_speech && !on_speech(std::span<const int>(&code, 1))) stop = true;
    }
    if (stop) break;
    CADENCE_RETURN_IF_ERROR(seq.Append({t}, &logits, cancel));
  }
  emit_text(text.Finish());
  return out;
}

}  // namespace cadence::engine
