#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace cadence {
namespace {

LogLevel InitialLevel() {
  const char* env = std::getenv("CADENCE_LOG_LEVEL");
  LogLevel level = LogLevel::kInfo;
  if (env) ParseLogLevel(env, &level);
  return level;
}

std::atomic<LogLevel>& Threshold() {
  static std::atomic<LogLevel> level{InitialLevel()};
  return level;
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kInfo: return "INFO ";
    case LogLevel::kWarn: return "WARN ";
    case LogLevel::kError: return "ERROR";
  }
  return "?";
}

}  // namespace

void SetLogLevel(LogLevel level) { Threshold().store(level); }
LogLevel GetLogLevel() { return Threshold().load(std::memory_order_relaxed); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "debug") *level = LogLevel::kDebug;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "warn" || text == "warning") *level = LogLevel::kWarn;
  else if (text == "error") *level = LogLevel::kError;
  else return false;
  return true;
}

void LogLine(LogLevel level, const char* component, const char* format, ...) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const int millis = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);

  char body[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(body, sizeof(body), format, args);
  va_end(args);

  // Control characters in the message (a client-chosen event type holding a newline, say) are
  // escaped so that no input can forge or split a log line.
  char safe[2048 * 4 + 1];
  size_t w = 0;
  for (const char* c = body; *c != '\0' && w + 4 < sizeof(safe); ++c) {
    const auto u = static_cast<unsigned char>(*c);
    if (u < 0x20 || u == 0x7f) {
      w += static_cast<size_t>(std::snprintf(safe + w, sizeof(safe) - w, "\\x%02x", u));
    } else {
      safe[w++] = *c;
    }
  }
  safe[w] = '\0';

  char line[2048 * 4 + 160];
  const int n = std::snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %-8s %s\n",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, millis, LevelName(level), component, safe);
  // One fwrite per line keeps lines from different threads whole.
  std::fwrite(line, 1, n < 0 ? 0 : std::min<size_t>(n, sizeof(line) - 1), stderr);
}

}  // namespace cadence
