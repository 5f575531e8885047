// Test doubles for the Session: engines with predictable, input-dependent behaviour and a
// SessionIo that records events and queues Post()ed closures for the test to run.
#pragma once

#include <cmath>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "brain/brain.h"
#include "core/base64.h"
#include "realtime/session.h"
#include "speech/asr/recognizer.h"
#include "speech/tts/synthesizer.h"
#include "speech/vad/vad.h"

namespace cadence::realtime::testing {

using Json = nlohmann::json;

// Probability 1 for a 512-sample window whose RMS exceeds 0.02, else 0.
class FakeVadStream : public speech::VadStream {
 public:
  void Process(std::span<const float> samples, std::vector<float>* probs) override {
    for (float s : samples) {
      sum_sq_ += static_cast<double>(s) * s;
      if (++n_ == speech::kVadWindowSamples) {
        probs->push_back(std::sqrt(sum_sq_ / n_) > 0.02 ? 1.0f : 0.0f);
        sum_sq_ = 0;
        n_ = 0;
      }
    }
  }
  void Reset() override { sum_sq_ = 0, n_ = 0; }

 private:
  double sum_sq_ = 0;
  int n_ = 0;
};
class FakeVad : public speech::VadModel {
 public:
  std::string_view name() const override { return "fake"; }
  std::unique_ptr<speech::VadStream> CreateStream() const override { return std::make_unique<FakeVadStream>(); }
};

// "Transcribes" by measuring what it was fed: "heard N ms loud M ms".
class FakeRecognizerStream : public speech::RecognizerStream {
 public:
  explicit FakeRecognizerStream(int* partial_calls = nullptr) : partial_calls_(partial_calls) {}
  void AcceptWaveform(std::span<const float> s) override {
    for (float x : s) {
      ++samples_;
      if (std::fabs(x) > 0.05f) ++loud_;
    }
  }
  // The same words as Finish() would give now: only "heard" stays put while audio keeps coming.
  std::string Partial() override {
    if (partial_calls_ != nullptr) ++*partial_calls_;
    return Text();
  }
  Result<speech::Transcript> Finish() override {
    speech::Transcript t;
    t.text = Text();
    t.language = "en";
    return t;
  }
  std::string Text() const {
    return "heard " + std::to_string(samples_ / 16) + " ms loud " + std::to_string(loud_ / 16) + " ms";
  }
  int* partial_calls_;
  int64_t samples_ = 0, loud_ = 0;
};
// With early finals (recognizer.h): Pause() keeps the text of the audio so far, and
// FinishAtPause() returns it marked " at pause".
class FakeEarlyFinalStream : public FakeRecognizerStream {
 public:
  using FakeRecognizerStream::FakeRecognizerStream;
  void Pause() override {
    ++pauses;
    at_pause_ = Text();
  }
  Result<speech::Transcript> FinishAtPause() override {
    if (at_pause_.empty()) return Finish();
    speech::Transcript t;
    t.text = at_pause_ + " at pause";
    t.language = "en";
    return t;
  }
  int pauses = 0;

 private:
  std::string at_pause_;
};
class FakeRecognizer : public speech::Recognizer {
 public:
  std::string_view name() const override { return "fake-asr"; }
  std::unique_ptr<speech::RecognizerStream> CreateStream() const override {
    if (early_finals) return std::make_unique<FakeEarlyFinalStream>(&partial_calls);
    return std::make_unique<FakeRecognizerStream>(&partial_calls);
  }
  bool early_finals = false;
  mutable int partial_calls = 0;  // over all streams
};

// 100 ms of a 220 Hz tone per spoken word (tags are not words), one callback per word.
class FakeSynthesizer : public speech::Synthesizer {
 public:
  static constexpr int kSamplesPerWord = 2400;
  Status Synthesize(const speech::SynthesisRequest& request, const CancelToken& cancel,
                    const speech::AudioSink& on_audio) const override {
    last_voice = request.voice;
    std::vector<float> word(kSamplesPerWord);
    for (int i = 0; i < kSamplesPerWord; ++i) word[i] = 0.3f * std::sin(2 * M_PI * 220.0 * i / 24000.0);
    bool in_tag = false, in_word = false;
    for (char c : request.text + " ") {
      if (c == '[' || c == '<') in_tag = true;
      if (in_tag) {
        if (c == ']' || c == '>') in_tag = false;
        continue;
      }
      const bool letter = std::isalnum(static_cast<unsigned char>(c)) != 0;
      if (in_word && !letter) {
        if (cancel.cancelled()) return Status::Cancelled("cancelled");
        if (!on_audio(word)) return Status::Cancelled("sink stopped");
      }
      in_word = letter;
    }
    return Status::Ok();
  }
  std::vector<speech::VoiceInfo> Voices() const override { return {}; }
  Result<std::string> ResolveVoice(std::string_view name) const override {
    for (const char* v : {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}) {
      if (name == v) return std::string("slt");
    }
    if (name == "qingchunshaonv") return std::string("cmn-f");
    if (name == "slt" || name == "rms" || name == "cmn-f") return std::string(name);
    return Status::InvalidArgument("no voice named \"" + std::string(name) + "\"");
  }
  mutable std::string last_voice;
};

// Replies "You said: <last user text>. [laughs] That is nice." in small pieces.
class FakeBrain : public brain::Brain {
 public:
  std::string_view kind() const override { return "fake"; }
  Status Reply(const brain::ReplyRequest& request, const CancelToken& cancel,
               const brain::TextSink& on_text) const override {
    last_request = request;
    std::string user;
    for (const auto& m : request.history) {
      if (m.role == brain::Message::Role::kUser) user = m.text;
    }
    const std::string reply = "You said: " + user + ". [laughs] That is nice.";
    for (size_t i = 0; i < reply.size(); i += 5) {
      if (cancel.cancelled()) return Status::Cancelled("cancelled");
      if (!on_text(std::string_view(reply).substr(i, 5))) return Status::Cancelled("stopped");
    }
    if (fail) return Status::Unavailable("backend down");
    return Status::Ok();
  }
  mutable brain::ReplyRequest last_request;
  bool fail = false;
};

// Time is fake: PostAfter() closures wait in `timers` until the test calls Advance(), which moves
// Now() forward and runs what fell due (Drain() never runs timers).
class FakeIo : public SessionIo {
 public:
  void Send(std::string json) override { frames.push_back(std::move(json)); }
  void Post(std::function<void()> fn) override { posted.push_back(std::move(fn)); }
  void PostAfter(int delay_ms, std::function<void()> fn) override {
    timers.emplace(now + std::chrono::milliseconds(delay_ms), std::move(fn));
  }
  void Close(std::string reason) override { closed_reason = std::move(reason); }
  std::chrono::steady_clock::time_point Now() override { return now; }
  // Moves the clock `ms` forward, running timers (and what they post) as they fall due.
  void Advance(int64_t ms) {
    const auto until = now + std::chrono::milliseconds(ms);
    while (!timers.empty() && timers.begin()->first <= until) {
      auto node = timers.extract(timers.begin());
      now = std::max(now, node.key());
      node.mapped()();
      Drain();
    }
    now = until;
  }
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> timers;
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  std::string closed_reason;  // "" while open
  // Runs posted closures (and those they post) until none is left or `limit` ran.
  int Drain(int limit = 1 << 30) {
    int n = 0;
    while (!posted.empty() && n < limit) {
      auto fn = std::move(posted.front());
      posted.pop_front();
      fn();
      ++n;
    }
    return n;
  }
  std::vector<std::string> frames;
  std::deque<std::function<void()>> posted;
};

// One session over the fakes, with helpers to drive it.
class Harness {
 public:
  explicit Harness(bool beta = false, size_t max_buffer = 15u << 20,
                   const std::function<void(Engines*)>& tweak = {},
                   const std::function<void(SessionLimits*)>& limits = {}) {
    engines.vad = &vad;
    engines.asr = &asr;
    engines.tts = &tts;
    engines.brain = &brain;
    engines.workers = nullptr;  // serial lanes run inline; results still come back via Post()
    if (tweak) tweak(&engines);
    io = std::make_shared<FakeIo>();
    SessionOptions options;
    options.session_id = "sess_test";
    options.beta = beta;
    options.limits.max_input_buffer_bytes = max_buffer;
    // Replies are not paced unless a test asks (fake time stands still between Advance() calls).
    options.limits.audio_lead_s = 1e9;
    if (limits) limits(&options.limits);
    session = Session::Create(engines, options, io);
    session->Start();
  }
  void Client(const Json& event) { session->OnClientFrame(event.dump()); }
  void Raw(std::string_view frame) { session->OnClientFrame(frame); }
  // Appends `ms` of 24 kHz pcm16: a 300 Hz tone at `amplitude` (0: silence), in 20 ms events.
  void AppendPcm16(int ms, double amplitude) {
    for (int done = 0; done < ms; done += 20) {
      std::vector<uint8_t> bytes;
      for (int i = 0; i < 480; ++i) {
        const double x = amplitude * std::sin(2 * M_PI * 300.0 * (phase_++) / 24000.0);
        const auto v = static_cast<int16_t>(std::lround(x * 32767));
        bytes.push_back(static_cast<uint8_t>(v & 0xff));
        bytes.push_back(static_cast<uint8_t>((v >> 8) & 0xff));
      }
      Client({{"type", "input_audio_buffer.append"}, {"audio", Base64Encode(bytes)}});
    }
  }
  std::vector<Json> Events() const {
    std::vector<Json> out;
    for (const auto& f : io->frames) out.push_back(Json::parse(f));
    return out;
  }
  std::vector<std::string> Types() const {
    std::vector<std::string> out;
    for (const auto& e : Events()) out.push_back(e["type"]);
    return out;
  }
  std::vector<Json> Of(const std::string& type) const {
    std::vector<Json> out;
    for (const auto& e : Events()) {
      if (e["type"] == type) out.push_back(e);
    }
    return out;
  }
  Json Last(const std::string& type) const {
    auto v = Of(type);
    return v.empty() ? Json() : v.back();
  }
  void Clear() { io->frames.clear(); }

  FakeVad vad;
  FakeRecognizer asr;
  FakeSynthesizer tts;
  FakeBrain brain;
  Engines engines;
  std::shared_ptr<FakeIo> io;
  std::shared_ptr<Session> session;

 private:
  int64_t phase_ = 0;
};

}  // namespace cadence::realtime::testing
