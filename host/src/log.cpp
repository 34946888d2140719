#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <mutex>

#include "cxflow/time.hpp"

namespace cxflow::host {

namespace {
std::mutex g_mutex;
LogLevel g_level = LogLevel::Info;
std::function<void(const std::string&)> g_capture;
std::string g_status;
}  // namespace

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "DEBUG";
    case LogLevel::Info:
      return "INFO";
    case LogLevel::Warn:
      return "WARN";
    case LogLevel::Error:
      return "ERROR";
  }
  return "?";
}

void set_log_level(LogLevel level) {
  std::lock_guard lock(g_mutex);
  g_level = level;
}
LogLevel log_level() {
  std::lock_guard lock(g_mutex);
  return g_level;
}

void log_line(LogLevel level, std::string_view prefix, std::string_view message) {
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::string line = format_iso8601_ms(now) + " " + level_name(level) + " ";
  if (!prefix.empty()) {
    line += prefix;
    line += ' ';
  }
  line += message;
  std::lock_guard lock(g_mutex);
  if (level < g_level) return;
  if (g_capture) {
    g_capture(line);
    return;
  }
  if (!g_status.empty()) std::fputs("\r\033[K", stderr);
  line += '\n';
  std::fputs(line.c_str(), stderr);
  if (!g_status.empty()) std::fputs(g_status.c_str(), stderr);
  std::fflush(stderr);
}

void set_log_capture(std::function<void(const std::string&)> sink) {
  std::lock_guard lock(g_mutex);
  g_capture = std::move(sink);
}

void set_status_line(const std::string& line) {
  std::lock_guard lock(g_mutex);
  g_status = line;
  std::fputs("\r\033[K", stderr);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void clear_status_line() {
  std::lock_guard lock(g_mutex);
  if (!g_status.empty()) std::fputs("\r\033[K", stderr);
  g_status.clear();
  std::fflush(stderr);
}

}  // namespace cxflow::host
