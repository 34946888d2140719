// Internals of source-cxone shared by its translation units (no Boost types here either).
#pragma once

#include <cxflow/component.hpp>
#include <cxflow/json_events.hpp>
#include <cxflow/time.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "source-cxone.hpp"

namespace cxflow::cxone {

// ---- URLs ------------------------------------------------------------------------------------

struct Url {
  std::string scheme;  // http | https | ws | wss
  std::string host;    // without brackets for IPv6
  std::string port;    // always set (default for the scheme)
  std::string target;  // path + query, at least "/"
  bool tls() const { return scheme == "https" || scheme == "wss"; }
  // scheme://host:port/path, never with credentials.
  std::string str() const;
};
// nullopt with `error` set when the text is not an absolute http(s)/ws(s) URL.
std::optional<Url> parse_url(std::string_view text, std::string* error = nullptr);

// ---- Clocks and log text ---------------------------------------------------------------------

inline std::int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
// "1.500 s": retry delays in log lines.
std::string format_delay(std::int64_t ms);

// ---- Retry policy ----------------------------------------------------------------------------

// Exponential backoff with full jitter: attempt n (1-based) waits uniform(0, min(max, initial*2^(n-1))).
class Backoff {
 public:
  Backoff(std::int64_t initial_ms, std::int64_t max_ms, std::uint64_t seed);
  std::int64_t delay_ms(std::int64_t attempt);
  std::int64_t cap_ms(std::int64_t attempt) const;

 private:
  std::int64_t initial_ms_, max_ms_;
  std::mt19937_64 rng_;
};

using cxflow::parse_retry_after_ms;  // cxflow/time.hpp, shared with sink-alerts' webhooks

// application/x-www-form-urlencoded component.
std::string form_encode(std::string_view s);
// JSON string literal (with quotes).
std::string json_quote(std::string_view s);
// Config tree -> JSON text (scalars: true/false/null/numbers as such, the rest as strings).
std::string config_to_json(const ConfigNode& n);

// Token endpoint answer: {"access_token": "...", "expires_in": 1800, "scope": "a b"}.
// OIDC endpoints add refresh_token and id_token.
struct TokenResponse {
  std::string access_token;
  std::int64_t expires_in_s = 0;
  std::optional<std::string> scope;
  std::string refresh_token;
  std::string id_token;
};
std::optional<TokenResponse> parse_token_response(std::string_view body, std::string& error);
// Subscription answer: {"id": "..."}.
std::optional<std::string> parse_subscription_id(std::string_view body, std::string& error);
// The server's message in an error body ({"message": ...} or {"error_description": ...} or
// {"error": ...}), else the body itself, shortened.
std::string server_message(std::string_view body);

// ---- Counters (atomic; shared by the strand and the network thread) ----------------------

enum class Malformed {
  invalid_json,
  not_an_object,
  missing_timestamp,
  bad_timestamp,
  invalid_number,
  wrong_type,
  missing_field
};
inline constexpr int kMalformedReasons = 7;
const char* malformed_name(Malformed m) noexcept;

enum class Cause {
  network,
  server_close,
  token_expired,
  unknown_subscription,
  message_too_large,
  ping_timeout,
  http_error,
  tls,
  protocol
};
inline constexpr int kCauses = 9;
const char* cause_name(Cause c) noexcept;

struct Counters {
  explicit Counters(Setup& s);
  Counter& connections;
  Counter& reconnects;
  Counter* reconnects_by[kCauses];
  Counter& events;
  Counter& frames;
  Counter& bytes;
  Counter& malformed;
  Counter* malformed_by[kMalformedReasons];
  Counter& too_large;
  Counter& dropped_full;
  Counter& dead_lettered;
  Counter& prefiltered;
  Counter& token_requests;
  Counter& subscriptions;
  Counter& http_retries;
  Counter& last_event_time_ms;
  Counter& paused;
};

// ---- Hand-off between the network thread and the strand -----------------------------------

// WebSocket messages as they arrived, not decoded yet: one buffer, one span per message. The
// network thread only frames them; the strand decodes them (FrameDecoder::decode_all), so the
// two threads share the work of a busy stream.
struct RawFrames {
  std::string bytes;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // offset, length
  std::size_t size() const noexcept { return spans.size(); }
  bool empty() const noexcept { return spans.empty(); }
  void add(std::string_view message) {
    spans.emplace_back(bytes.size(), message.size());
    bytes.append(message);
  }
};

class Handoff {
 public:
  std::mutex m;
  Batch slot;                       // guarded by m (rtd: events and watermark)
  RawFrames raw;                    // guarded by m (websocket: messages to decode)
  bool slot_full = false;           // guarded by m
  bool stopped = false;             // guarded by m: set by stop(), after which deliver() is a no-op
  std::atomic<bool> paused{false};  // the pipeline is full (set/cleared on the strand)
};

// ---- Frames -> events ------------------------------------------------------------------------

// Decodes WebSocket text frames into events (one object per frame, or an array of objects),
// validates them (required fields, value types of the normalized fields), counts and skips the
// bad ones, with a rate-limited warning and an optional dead-letter JSONL file. Runs on the
// source's strand (decode_all, on each hand-off).
class FrameDecoder {
 public:
  using LogFn = std::function<void(LogLevel, std::string)>;
  // `keep`: conditions pushed down from the pipeline (see make_network). `only`: the fields the
  // downstream reads (SourceContext::projection()), nullopt = every field of `fields`.
  FrameDecoder(const Config& cfg, const FieldTable& fields, Counters& counters, LogFn log,
               std::function<std::int64_t()> steady_ms, std::function<std::int64_t()> wall_ms,
               const std::vector<KeepCondition>& keep = {}, const std::optional<std::vector<FieldId>>& only = {});
  ~FrameDecoder();
  // `frame` must have JsonEventDecoder::kPadding readable bytes after its end. Appends the valid
  // events that meet the pushed-down conditions to `out`.
  void decode(std::string_view frame, std::vector<Event>& out);
  // Every message of `raw` (padded here, so `raw` is consumed), then publish_counters().
  void decode_all(RawFrames& raw, std::vector<Event>& out);
  // The events counter and the last event time are tallied here and published in one step
  // (atomic writes per event cost more than the rest of the bookkeeping); decode_all() does.
  void publish_counters() noexcept;
  void flush();

 private:
  bool validate(const Event& e, Malformed& why, std::string& detail) const;
  void reject(Malformed why, std::string_view text, const std::string& detail);
  // One JSON object (`text` padded): decoded, validated, checked against `keep_`.
  void decode_one(std::string_view text, std::vector<Event>& out);

  const Config& cfg_;
  Counters& c_;
  LogFn log_;
  std::function<std::int64_t()> steady_ms_, wall_ms_;
  JsonEventDecoder dec_;
  struct Typed {
    FieldId id;
    bool number;  // else string
    std::string name;
  };
  std::vector<Typed> typed_;
  std::vector<std::pair<FieldId, std::string>> required_;
  std::vector<char> padded_;  // array elements, copied with padding
  struct Keep {
    FieldId id;
    std::vector<std::string> values;
  };
  std::vector<Keep> keep_;  // pushed-down conditions, all must hold
  std::uint64_t pending_events_ = 0;
  std::int64_t pending_last_time_ = 0;
  std::FILE* dead_ = nullptr;
  std::int64_t last_warn_ms_ = 0;
  bool warned_ = false;
  std::uint64_t suppressed_ = 0;
};

// ---- Network side ------------------------------------------------------------------------

// Everything the network thread needs from the strand side, all thread-safe.
struct NetHooks {
  std::function<void(LogLevel, std::string)> log;  // posts to the strand
  std::function<void(std::string)> fail;           // posts ctx.fail
  std::function<void()> deliver;                   // posts deliver() to the strand
  std::function<void()> ended;                     // the server ended the stream (end_on_close)
};

class Network {
 public:
  virtual ~Network() = default;
  virtual void start() = 0;
  // Closes the connection and joins the thread. Afterwards take_pending() returns what was
  // received but not handed off.
  virtual void stop() = 0;
  // Thread-safe: the slot was emptied or the pipeline has room again; re-check the gates.
  virtual void wake() = 0;
  // rtd: events (`events`); websocket: messages to decode (`raw`).
  virtual void take_pending(std::vector<Event>& events, RawFrames& raw) = 0;
};

// ---- protocol rtd ------------------------------------------------------------------------------

enum class RetryCause { unauthorized, rate_limited, server_error, network, timeout };
inline constexpr int kRetryCauses = 5;
const char* retry_cause_name(RetryCause c) noexcept;

// Counters of the Real-Time Data API poller (registered only for protocol: rtd).
struct RtdCounters {
  explicit RtdCounters(Setup& s);
  Counter& polls;
  Counter& full_reads;
  Counter& pages;
  Counter& rows;
  Counter& not_modified;    // 304 / 204
  Counter& duplicates;      // rows already seen with the same (key, lastUpdateTime)
  Counter& unstable_reads;  // the set changed under the paging: read again
  Counter& polls_delayed;   // the pipeline was full when a poll was due
  Counter& bad_pages;       // a page that is not a valid response
  Counter& ends_by_state;
  Counter& ends_by_absence;
  Counter& token_refreshes;
  Counter& malformed;                  // rows skipped, all reasons
  Counter& tracked;                    // keys held by the normalizer (gauge)
  std::vector<Counter*> retries_by;    // by RetryCause
  std::vector<Counter*> malformed_by;  // by rtd::RowIssue
};

// The poller: same contract as the WebSocket network side (own thread, hand-off slot); batches
// carry the watermark it derives from the server's lastPollTime.
std::unique_ptr<Network> make_rtd_network(const Config& cfg, const FieldTable& fields, Counters& counters,
                                          RtdCounters& rtd_counters, std::shared_ptr<Handoff> handoff, NetHooks hooks);

std::unique_ptr<Network> make_network(const Config& cfg, Counters& counters, std::shared_ptr<Handoff> handoff,
                                      NetHooks hooks);

}  // namespace cxflow::cxone
