// CreateBrain: picks the brain a deployment runs — scripted (no model), engine (a local GGUF via
// Cadence's own transformer) or remote (an OpenAI-compatible server) — from one config, as the
// serve command's `--model` / `--llm-url` / `--llm-model` flags give it.
//
// kind "" (auto): engine when model_path is set, remote when llm_url is set, else the scripted
// fallback. A model that fails to load is an error at startup (never a silent fallback), so the
// operator sees what is wrong. Called once at startup; the Brain it returns is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "brain/brain.h"
#include "core/status.h"

namespace cadence::brain {

struct BrainConfig {
  std::string kind{};        // "" | "scripted" | "engine" | "remote" | "step-audio-2"
  std::string model_path{};  // engine: .gguf; step-audio-2: the checkpoint folder
  std::string llm_url{};     // remote: base URL ending in /v1
  std::string llm_model{};   // remote: model name the server knows
  std::string api_key{};     // remote: bearer token (may be empty)
  int threads = 0;           // engine: compute threads (0: all cores)
  int kv_tokens = 4096;      // engine: KV capacity of each slot
  int slots = 8;             // engine: conversations held in KV slots, replies generated at once
  int timeout_ms = 20000;    // remote: time to first text
  int retries = 2;           // remote: extra attempts before any text
};

// `scripted` is the fallback brain (may be null when kind is engine or remote).
Result<std::unique_ptr<Brain>> CreateBrain(const BrainConfig& config, std::unique_ptr<Brain> scripted);

}  // namespace cadence::brain
