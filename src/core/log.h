// Logging: one line per event worth knowing, to stderr, safe from any thread.
//
//   CADENCE_LOG(kInfo, "session", "connect id=%s peer=%s", id.c_str(), peer.c_str());
//
// Lines look like `2026-11-28T22:40:01.123Z INFO  session connect id=sess_1 peer=127.0.0.1`.
// Control characters in the message are written as \xNN, so no input can forge a line.
// The level threshold is process-wide (SetLogLevel, or CADENCE_LOG_LEVEL=debug|info|warn|error).
#pragma once

#include <string_view>

namespace cadence {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug|info|warn|error"; returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// printf-style; prefer the macro, which skips formatting below the threshold.
void LogLine(LogLevel level, const char* component, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace cadence

#define CADENCE_LOG(level, component, ...)                                       \
  do {                                                                           \
    if (::cadence::LogLevel::level >= ::cadence::GetLogLevel())                  \
      ::cadence::LogLine(::cadence::LogLevel::level, component, __VA_ARGS__);    \
  } while (0)
