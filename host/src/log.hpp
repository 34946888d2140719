// Process-wide log output: one line per message, "[kind:plugin:component]" prefixed, written
// whole under a lock so lines never interleave, and cooperating with the live status line.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "cxflow/component.hpp"

namespace cxflow::host {

const char* level_name(LogLevel level);
void set_log_level(LogLevel level);
LogLevel log_level();
// Writes "<time> <LEVEL> <prefix> <message>" to stderr (or the capture sink).
void log_line(LogLevel level, std::string_view prefix, std::string_view message);
// Redirects log lines (tests). Pass nullptr to restore stderr.
void set_log_capture(std::function<void(const std::string&)> sink);
// The status line currently on screen: log_line erases it before writing and redraws it after.
void set_status_line(const std::string& line);
void clear_status_line();

}  // namespace cxflow::host
