// Event-time helpers shared by sources and sinks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cxflow {

// Parses ISO 8601 / RFC 3339 date-times with a zone ("2026-11-30T04:05:06Z",
// "2026-11-30T04:05:06.123+01:00", space instead of 'T' accepted). A time without a zone is
// rejected: guessing the zone would silently shift every window. Returns ms since the epoch.
// Impossible times are rejected, never normalized to another one: month 00 or 13, day 00 or past
// the month's end (2026-02-31, 2026-02-29; 2028-02-29 is fine), hour 24 or more, minute 60 or
// more, a zone offset past 23:59. A leap second (second 60) is accepted only where one can be,
// at 23:59:60 UTC (after the offset: 15:59:60-08:00 too), and reads as 23:59:59.999 UTC, so the
// times around it stay in order and in the same day; second 60 at any other minute is rejected.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view text);

namespace detail {
// The part of an ISO 8601 time after its 19-byte "YYYY-MM-DDTHH:MM:SS" prefix: the optional
// fraction ('.' or ',' and at least one digit; digits past milliseconds are dropped) and the
// zone ("Z", "+hh", "+hhmm", "+hh:mm", "-..."), nothing after. parse_iso8601_ms() uses it, and so
// does the JSON decoder's cache of the previous prefix (one grammar in one place).
struct Iso8601Tail {
  std::int64_t fraction_ms = 0;
  std::int64_t offset_min = 0;  // local time minus UTC
};
std::optional<Iso8601Tail> parse_iso8601_tail(std::string_view text) noexcept;
}  // namespace detail
// "2026-11-30T04:05:06.123Z" (milliseconds always printed).
std::string format_iso8601_ms(std::int64_t epoch_ms);
// An HTTP Retry-After value: delay-seconds ("120") or an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT",
// measured from `now_wall_ms`). Milliseconds to wait, or nullopt when the value is unusable.
std::optional<std::int64_t> parse_retry_after_ms(std::string_view value, std::int64_t now_wall_ms);
// Days from 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept;

}  // namespace cxflow
