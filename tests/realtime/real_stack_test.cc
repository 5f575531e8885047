// One voice turn through the Session on the real default engines (VAD, PocketSphinx, Flite,
// scripted brain with the embedded personas), threaded as the server runs it. The user's speech
// is synthesized at test time. Prints the server-side speech_stopped -> first audio delta time it
// observed (not asserted: figures belong to `cadence bench realtime`).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "audio/pcm.h"
#include "audio/resampler.h"
#include "brain/scripted_brain.h"
#include "core/thread_pool.h"
#include "fakes.h"
#include "persona/store.h"
#include "strand_io.h"
#include "skip_or_fail.h"

namespace cadence::realtime::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST(RealStackTest, SpokenQuestionGetsASpokenReply) {
  auto vad = speech::CreateVad({});
  auto asr = speech::CreateRecognizer({});
  auto tts = speech::CreateSynthesizer({});
  if (!asr.ok() || !tts.ok() || vad == nullptr) {
    CADENCE_SKIP_OR_FAIL_IN_CI() << "default engines unavailable: " << asr.status().ToString() << " / " << tts.status().ToString();
  }
  const persona::PersonaStore store = persona::PersonaStore::Embedded();
  auto brain = brain::CreateScriptedBrain(store);
  ThreadPool pool(2);
  Engines engines{vad.get(), asr->get(), tts->get(), brain.get(), &store, nullptr, &pool};
  auto io = std::make_shared<StrandIo>();
  SessionOptions options;
  options.session_id = "sess_real";
  auto session = Session::Create(engines, options, io);
  io->RunOnStrand([&] { session->Start(); });

  // The user's question, spoken by the synthesizer itself.
  std::vector<float> speech;
  speech::SynthesisRequest req;
  req.text = "Hello, what music do you like to play?";
  req.voice = "slt";
  ASSERT_TRUE((*tts)->Synthesize(req, CancelToken(), [&](std::span<const float> s) {
                     speech.insert(speech.end(), s.begin(), s.end());
                     return true;
                   }).ok());
  ASSERT_GT(speech.size(), 24000u / 2);
  std::vector<float> wave(24000 / 2, 0.0f);
  wave.insert(wave.end(), speech.begin(), speech.end());
  wave.insert(wave.end(), 24000 * 3 / 2, 0.0f);
  // Stream at 1x in 20 ms appends.
  for (size_t i = 0; i < wave.size(); i += 480) {
    std::vector<uint8_t> bytes;
    const size_t n = std::min<size_t>(480, wave.size() - i);
    audio::EncodeSamples(audio::SampleFormat::kPcm16, std::span<const float>(wave.data() + i, n), &bytes);
    const std::string frame = Json({{"type", "input_audio_buffer.append"}, {"audio", Base64Encode(bytes)}}).dump();
    io->RunOnStrand([&] { session->OnClientFrame(frame); });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(io->WaitFor("response.done", 1, 30000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  io->RunOnStrand([&] { session->OnClose(); });
  io->Stop();

  std::optional<Clock::time_point> stopped, first_audio;
  std::string transcript, reply_transcript, status;
  std::vector<float> reply;
  for (const auto& [t, e] : io->TimedFrames()) {
    const std::string type = e["type"];
    EXPECT_NE(type, "error") << e.dump();
    if (type == "input_audio_buffer.speech_stopped" && !stopped) stopped = t;
    if (type == "conversation.item.input_audio_transcription.completed") transcript = e["transcript"];
    if (type == "response.output_audio.delta") {
      if (!first_audio) first_audio = t;
      std::vector<uint8_t> bytes;
      ASSERT_TRUE(Base64Decode(e["delta"].get<std::string>(), &bytes).ok());
      audio::DecodeSamples(audio::SampleFormat::kPcm16, bytes, &reply);
    }
    if (type == "response.output_audio_transcript.done") reply_transcript = e["transcript"];
    if (type == "response.done") status = e["response"]["status"];
  }
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(status, "completed");
  // PocketSphinx hears at least some of the question's words.
  int hits = 0;
  for (const char* w : {"hello", "music", "like", "play", "what"}) hits += transcript.find(w) != std::string::npos;
  EXPECT_GE(hits, 2) << "transcript: " << transcript;
  // The reply is real speech: long enough and loud enough, with a transcript.
  EXPECT_FALSE(reply_transcript.empty());
  EXPECT_GT(reply.size(), 24000u / 2) << "reply audio under 0.5 s";
  double sum_sq = 0;
  for (float x : reply) sum_sq += static_cast<double>(x) * x;
  EXPECT_GT(std::sqrt(sum_sq / std::max<size_t>(1, reply.size())), 0.01);
  ASSERT_TRUE(first_audio.has_value());
  std::printf("[ measured ] user said: \"%s\"; reply: \"%s\" (%.2f s of audio); speech_stopped -> first audio "
              "delta: %.1f ms\n",
              transcript.c_str(), reply_transcript.c_str(), reply.size() / 24000.0,
              std::chrono::duration<double, std::milli>(*first_audio - *stopped).count());
}

}  // namespace
}  // namespace cadence::realtime::testing
