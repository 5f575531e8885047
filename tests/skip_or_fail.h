// CADENCE_SKIP_OR_FAIL_IN_CI(): for a test whose prerequisite (a tool such as praat or python3,
// the npm packages, ../shared data) is missing. Skips the test as GTEST_SKIP() does, except when
// the environment has CI=true: there a missing prerequisite means the CI machine is set up wrong,
// so the test fails instead of passing silently. Use it where GTEST_SKIP() would go, with a
// message streamed after it:
//   if (!HaveTool("praat")) CADENCE_SKIP_OR_FAIL_IN_CI() << "praat is not installed";
// Works in test bodies and in SetUp() (a fatal failure there stops the test body too).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace cadence::testing {

inline bool RunningInCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::strcmp(ci, "true") == 0;
}

}  // namespace cadence::testing

// One return statement, built as GTEST_SKIP() and GTEST_FAIL() are (gtest's AssertHelper), so it
// needs no braces under an if.
#define CADENCE_SKIP_OR_FAIL_IN_CI()                                                                   \
  return ::testing::internal::AssertHelper(::cadence::testing::RunningInCi()                            \
                                               ? ::testing::TestPartResult::kFatalFailure               \
                                               : ::testing::TestPartResult::kSkip,                      \
                                           __FILE__, __LINE__,                                          \
                                           ::cadence::testing::RunningInCi()                            \
                                               ? "CI=true, so a missing prerequisite fails the test "   \
                                                 "instead of skipping it"                               \
                                               : "") = ::testing::Message()
