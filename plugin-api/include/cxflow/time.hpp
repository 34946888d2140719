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
std::optional<std::int64_t> parse_iso8601_ms(std::string_view text);
// "2026-11-30T04:05:06.123Z" (milliseconds always printed).
std::string format_iso8601_ms(std::int64_t epoch_ms);
// An HTTP Retry-After value: delay-seconds ("120") or an HTTP date ("Sun, 06 Nov 1994 08:49:37 GMT",
// measured from `now_wall_ms`). Milliseconds to wait, or nullopt when the value is unusable.
std::optional<std::int64_t> parse_retry_after_ms(std::string_view value, std::int64_t now_wall_ms);
// Days from 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept;

}  // namespace cxflow
