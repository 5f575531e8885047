// The Session as the server runs it: a strand thread for all session calls, a real ThreadPool for
// compute, results posted back across threads. Checks ordering and that nothing is lost or
// delivered after close.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/thread_pool.h"
#include "fakes.h"
#include "strand_io.h"

namespace cadence::realtime::testing {
namespace {

std::string Pcm16Event(int ms, double amplitude, int64_t* phase) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < ms * 24; ++i) {
    const double x = amplitude * std::sin(2 * M_PI * 300.0 * ((*phase)++) / 24000.0);
    const auto v = static_cast<int16_t>(std::lround(x * 32767));
    bytes.push_back(static_cast<uint8_t>(v & 0xff));
    bytes.push_back(static_cast<uint8_t>((v >> 8) & 0xff));
  }
  return Json({{"type", "input_audio_buffer.append"}, {"audio", Base64Encode(bytes)}}).dump();
}

TEST(ThreadedSessionTest, VoiceTurnsAndBargeInAcrossThreads) {
  FakeVad vad;
  FakeRecognizer asr;
  FakeSynthesizer tts;
  FakeBrain brain;
  ThreadPool pool(2);
  ThreadPool reply_pool(1);  // replies on their own pool, as `cadence serve` runs them
  Engines engines{&vad, &asr, &tts, &brain, nullptr, nullptr, &pool, &reply_pool};
  auto io = std::make_shared<StrandIo>();
  SessionOptions options;
  options.session_id = "sess_threads";
  auto session = Session::Create(engines, options, io);
  io->Post([session] { session->Start(); });
  int64_t phase = 0;
  auto client = [&](std::string frame) { io->Post([session, frame] { session->OnClientFrame(frame); }); };
  for (int turn = 0; turn < 3; ++turn) {
    for (int i = 0; i < 10; ++i) client(Pcm16Event(20, 0.0, &phase));
    for (int i = 0; i < 40; ++i) client(Pcm16Event(20, 0.3, &phase));
    for (int i = 0; i < 35; ++i) client(Pcm16Event(20, 0.0, &phase));
    ASSERT_TRUE(io->WaitFor("response.done", static_cast<size_t>(turn + 1))) << "turn " << turn;
  }
  // Barge-in while a text-started reply is being produced on the workers.
  client(Json({{"type", "response.create"}}).dump());
  for (int i = 0; i < 20; ++i) client(Pcm16Event(20, 0.3, &phase));
  ASSERT_TRUE(io->WaitFor("response.done", 4));
  for (int i = 0; i < 35; ++i) client(Pcm16Event(20, 0.0, &phase));
  ASSERT_TRUE(io->WaitFor("response.done", 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto frames = io->Frames();
  // Every audio delta belongs to the response in progress at the time it was sent.
  std::string active;
  int completed = 0, cancelled = 0;
  for (const auto& f : frames) {
    const std::string type = f["type"];
    if (type == "response.created") active = f["response"]["id"];
    if (type == "response.output_audio.delta") {
      EXPECT_EQ(f["response_id"], active);
    }
    if (type == "response.done") {
      EXPECT_EQ(f["response"]["id"], active);
      completed += f["response"]["status"] == "completed";
      cancelled += f["response"]["status"] == "cancelled";
      active.clear();
    }
    EXPECT_NE(type, "error") << f.dump();
  }
  EXPECT_EQ(completed + cancelled, 5);
  EXPECT_GE(completed, 4);
  // Close while work may still be in flight: nothing is sent afterwards.
  client(Json({{"type", "response.create"}}).dump());
  io->Post([session] { session->OnClose(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const size_t after_close = io->Frames().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(io->Frames().size(), after_close);
  io->Stop();
}

}  // namespace
}  // namespace cadence::realtime::testing
