// Inside libcxflow-api only (not a public header: no ABI): the ISO 8601 tail grammar shared by
// parse_iso8601_ms (time.cpp) and the JSON decoder's cached-prefix path (json_events.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace cxflow {

namespace detail {
// The part of an ISO 8601 time after its 19-byte "YYYY-MM-DDTHH:MM:SS" prefix: the optional
// fraction ('.' or ',' and at least one digit; digits past milliseconds are dropped) and the
// zone ("Z", "+hh", "+hhmm", "+hh:mm", "-..."), nothing after. parse_iso8601_ms() uses it, and so
// does the JSON decoder's cache of the previous prefix (one grammar in one place).
struct Iso8601Tail {
  std::int64_t fraction_ms = 0;
  std::int64_t offset_min = 0;  // local time minus UTC
};
// `text` is the whole time (at least 19 bytes).
std::optional<Iso8601Tail> parse_iso8601_tail(std::string_view text) noexcept;
}  // namespace detail

}  // namespace cxflow
