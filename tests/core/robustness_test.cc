// The core pieces every boundary relies on: a nesting-depth check that needs no parser, log lines
// no input can forge, and worker threads that survive a throwing task.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/json_depth.h"
#include "core/log.h"
#include "core/thread_pool.h"

namespace cadence {
namespace {

TEST(JsonNestingDepthTest, CountsArraysAndObjectsButNotBracketsInStrings) {
  EXPECT_EQ(JsonNestingDepth("42"), 0u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":[1,{"b":[]}]})"), 4u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[{{{{"})"), 1u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"\"[[[["})"), 1u);     // an escaped quote does not end the string
  EXPECT_EQ(JsonNestingDepth(R"({"a":"\\"}[[)"), 2u);       // an escaped backslash does
  EXPECT_EQ(JsonNestingDepth(std::string(100000, '[')), 100000u);
  EXPECT_EQ(JsonNestingDepth("]]]]{"), 1u);
}

TEST(LogTest, ControlCharactersCannotForgeALine) {
  ::testing::internal::CaptureStderr();
  CADENCE_LOG(kWarn, "test", "type=%s", "x\nERROR  server forged line\r\x1b[31m");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("x\\x0aERROR  server forged line\\x0d\\x1b[31m"), std::string::npos) << out;
}

TEST(ThreadPoolTest, AThrowingTaskIsLoggedAndTheWorkerGoesOn) {
  ThreadPool pool(1);
  std::atomic<int> ran{0};
  ::testing::internal::CaptureStderr();
  pool.Submit([] { throw std::runtime_error("task failed"); });
  pool.Submit([] { throw 7; });
  pool.Submit([&] { ++ran; });
  for (int i = 0; i < 200 && ran.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_NE(log.find("task failed"), std::string::npos) << log;
}

}  // namespace
}  // namespace cadence
