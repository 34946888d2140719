// Fuzz target: ISO 8601 parsing (cxflow/time.hpp) and the JSON decoder's cached-prefix time path.
//
// Input: bytes split at the first '\n' into a "previous" and a "current" time text.
// Invariants (a violation traps):
// - parse_iso8601_ms never normalizes: an accepted "YYYY-MM-DDTHH:MM:SS" with zone Z and second
//   below 60 formats back to the same 19 characters; any accepted value formats and parses back
//   to itself (years 0000..9999).
// - a leap second (second 60) is accepted only as the last millisecond of a UTC day.
// - the decoder, having just decoded the previous text (which primes its cache of the
//   "YYYY-MM-DDTHH:MM:SS" prefix), gives the current text the full parser's value, or rejects it
//   exactly when the full parser (and the epoch-digits form) does.
// - parse_retry_after_ms never throws and never returns a negative delay.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "cxflow/json_events.hpp"
#include "cxflow/time.hpp"

namespace {

#define FUZZ_CHECK(cond)           \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

constexpr std::int64_t kMaxTimeMs = 253'402'300'799'999;

// The text as a JSON string literal (every byte that JSON would need escaped is escaped).
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool epoch_digits(std::string_view s, std::int64_t& v) {
  if (s.empty() || s.size() > 15) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  return v <= kMaxTimeMs;
}

struct State {
  cxflow::FieldTable table;
  cxflow::JsonEventDecoder decoder{table};
};
State& state() {
  static State s;
  return s;
}

void check_parser(std::string_view s) {
  const auto v = cxflow::parse_iso8601_ms(s);
  if (!v) return;
  FUZZ_CHECK(s.size() >= 20);
  const std::string back = cxflow::format_iso8601_ms(*v);
  if (*v >= 0 && *v <= kMaxTimeMs) FUZZ_CHECK(cxflow::parse_iso8601_ms(back) == v);
  const bool leap = s[17] == '6' && s[18] == '0';
  if (leap) {
    FUZZ_CHECK(((*v % 86'400'000) + 86'400'000) % 86'400'000 == 86'399'999);
  } else if (s.size() >= 20 && (s[19] == 'Z' || s[19] == 'z' || s[19] == '.' || s[19] == ',') &&
             (s.back() == 'Z' || s.back() == 'z') && *v >= 0 && *v <= kMaxTimeMs) {
    // UTC: the date and time fields read back unchanged (no 02-31 -> 03-03).
    for (std::size_t i = 0; i < 19; ++i)
      if (i != 10) FUZZ_CHECK(back[i] == s[i]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nl = in.find('\n');
  const std::string_view prev = in.substr(0, nl), cur = nl == std::string_view::npos ? in : in.substr(nl + 1);
  try {
    check_parser(prev);
    check_parser(cur);
    if (const auto d = cxflow::parse_retry_after_ms(cur, 1'767'600'000'000)) FUZZ_CHECK(*d >= 0);

    State& st = state();
    cxflow::Event e;
    (void)st.decoder.decode("{\"timestamp\":" + json_string(prev) + "}", e);
    const auto r = st.decoder.decode("{\"timestamp\":" + json_string(cur) + "}", e);
    if (r == cxflow::JsonDecodeResult::invalid_json) return 0;  // not UTF-8: never reaches the time parser
    std::int64_t want = 0;
    bool ok = false;
    if (const auto v = cxflow::parse_iso8601_ms(cur); v && *v >= 0 && *v <= kMaxTimeMs) {
      want = *v;
      ok = true;
    } else {
      ok = epoch_digits(cur, want);
    }
    if (ok) {
      FUZZ_CHECK(r == cxflow::JsonDecodeResult::ok);
      FUZZ_CHECK(e.time_ms == want);
    } else {
      FUZZ_CHECK(r == cxflow::JsonDecodeResult::bad_timestamp);
    }
  } catch (...) {
    __builtin_trap();
  }
  return 0;
}
