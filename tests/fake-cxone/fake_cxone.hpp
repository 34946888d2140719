// A fake NICE CXone for tests and for users: the seed tutorial's token endpoint, subscription
// endpoint and event WebSocket, over TLS (certificate generated at test time) or plain TCP, with a
// deterministic event generator and faults on demand. It reports ground truth so tests can prove
// that every event on the wire was counted exactly once.
//
// Contract of the event stream:
// - One global sequence across connections: event `seq` is always the same event (event(seq)).
// - An event counts as sent once the write that carried it completed (Truth::events_sent).
// - A connection is dropped or closed by a fault only after completed writes, and nothing is
//   written after a fault's close frame.
// - Events whose write did not complete are sent again on the next connection.
//
// One io thread serves everything; frames are pre-encoded and written in large chunks
// (chunk_bytes, i.e. 16 KiB TLS records) so the fake does not measure itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cxflow::fake {

struct FakeOptions {
  bool tls = true;
  std::string cert_file;  // PEM certificate chain (tls)
  std::string key_file;   // PEM private key (tls)
  std::string bind = "127.0.0.1";
  unsigned short port = 0;  // 0 = any free port
  int cpu = -1;             // pin the io thread to this core (benchmarks); -1 = no pinning

  // Credentials and tokens.
  std::string client_id = "test-client";
  std::string client_secret = "test-secret";
  std::string granted_scope = "analytics:read realtime:read events:subscribe";
  std::int64_t token_lifetime_s = 1800;

  // Generator.
  std::uint64_t total_events = 0;                  // 0 = unlimited
  std::int64_t start_time_ms = 1'767'600'000'000;  // 2026-01-05T08:00:00Z
  std::int64_t interval_ms = 100;                  // event time step
  std::size_t chunk_bytes = 16 * 1024;             // bytes per write
  std::size_t events_per_frame = 1;                // > 1: frames hold a JSON array of events
  std::int64_t events_per_second = 0;              // 0 = full speed
  bool close_when_done = true;                     // after total_events: close 1000 "end of stream"

  // Faults (positions are global sequence numbers: "after K events were sent").
  std::vector<std::uint64_t> drop_after;          // drop the TCP connection, no close frame
  std::vector<std::uint64_t> close_1011_after;    // close frame 1011
  std::vector<std::uint64_t> expire_token_after;  // revoke every token, close 4001; old tokens get 401
  std::vector<std::uint64_t> oversize_after;      // one frame of oversize_bytes, then wait for the close
  std::size_t oversize_bytes = 2 * 1024 * 1024;
  int token_429 = 0;                  // the first N token requests answer 429
  std::optional<int> retry_after_s;   // with Retry-After: N (else no header)
  int subscription_status = 0;        // 403 or 422: the subscription POST fails so
  std::uint64_t malformed_every = 0;  // after every Nth event one malformed frame (kinds rotate)
  // After event K (the Kth sent), one text frame with exactly this payload (any bytes), e.g. a
  // bad JSON literal; counted in Truth::raw_frames_sent, not in malformed_sent.
  std::vector<std::pair<std::uint64_t, std::string>> raw_frames_after;
  std::int64_t cut_slow_after_ms = 0;               // a write not done within this drops the connection
  std::vector<std::uint64_t> protocol_error_after;  // one frame with a reserved bit set, then wait for the close
  bool answer_pings = true;                         // false: the client's pings go unanswered (a dead peer)
  std::uint64_t ping_every = 0;                     // after every Nth event a ping from the server ("p<N>")
  std::uint64_t fragment_every = 0;                 // every Nth event frame is sent as 3 fragments
};

// Kinds of malformed frames, in rotation order, named like the source's counters.
inline constexpr const char* kMalformedKinds[] = {"invalid_json", "wrong_type", "missing_field", "bad_timestamp",
                                                  "not_an_object"};
inline constexpr int kMalformedKindCount = 5;

struct Truth {
  std::uint64_t events_sent = 0;  // completed writes, global sequence
  std::uint64_t frames_sent = 0;  // event frames (not malformed)
  std::uint64_t malformed_sent[kMalformedKindCount] = {};
  std::uint64_t raw_frames_sent = 0;  // FakeOptions::raw_frames_after frames written
  std::uint64_t connections = 0;      // WebSocket sessions accepted (subscribe received)
  std::uint64_t tokens_issued = 0;
  std::uint64_t token_requests = 0;
  std::uint64_t token_429_sent = 0;
  std::uint64_t handshakes_401 = 0;  // upgrades refused for an unknown/revoked token
  std::uint64_t subscriptions_created = 0;
  std::uint64_t unknown_subscription_closes = 0;  // 1008
  std::uint64_t drops = 0, closes_1011 = 0, closes_4001 = 0, oversize_sent = 0, slow_cuts = 0;
  std::uint64_t end_closes_acked = 0;   // the client answered the end-of-stream close: it read everything
  std::uint64_t client_closes = 0;      // close frames the client sent first (not answers to ours)
  int last_client_close_code = 0;       // the code of the last one (1005 when it had none)
  std::uint64_t pings = 0;              // pings from the client
  std::uint64_t server_pings = 0;       // pings the fake sent (ping_every), written completely
  std::uint64_t pongs = 0;              // pongs from the client that echo one of them
  std::uint64_t fragmented_frames = 0;  // event frames sent in fragments (fragment_every)
  std::uint64_t protocol_errors_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::int64_t current_write_ms = 0;  // how long the write in progress has been blocked (slow reader)
  std::string last_subscription_body;
  std::string last_subscribe_message;
  std::string last_token_body_scope;  // the scope parameter of the last token request
};

// One generated event (what event_json(seq) encodes).
struct EventInfo {
  std::uint64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string queue;
  std::string agent;  // "" for abandoned contacts
  bool abandoned = false;
  std::int64_t wait_s = 0;
  std::int64_t handle_s = 0;  // 0 for abandoned
};

class FakeCxone {
 public:
  explicit FakeCxone(FakeOptions options);
  ~FakeCxone();
  FakeCxone(const FakeCxone&) = delete;
  FakeCxone& operator=(const FakeCxone&) = delete;

  unsigned short port() const;
  // "https://localhost:PORT" / "http://..." and "wss://localhost:PORT" / "ws://...".
  std::string http_base() const;
  std::string ws_base() const;
  std::string token_url() const { return http_base() + "/oauth/token"; }
  std::string subscription_url() const { return http_base() + "/api/v2/analytics/eventsub"; }
  std::string events_url() const { return ws_base() + "/api/v2/events"; }

  Truth truth() const;
  // The next subscribe message naming a known id is answered with close 1008.
  void forget_subscriptions();
  void stop();

  static EventInfo event(std::uint64_t seq, const FakeOptions& o);
  static std::string event_json(std::uint64_t seq, const FakeOptions& o);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Writes a self-signed certificate for localhost/127.0.0.1 (cert.pem, key.pem) into `dir`
// with the openssl CLI; returns {cert, key}. Throws on failure.
std::pair<std::string, std::string> make_test_certificate(const std::string& dir);
// One such certificate per test process, made on first use in a temporary folder that is
// removed at exit: {cert, key}.
const std::pair<std::string, std::string>& shared_test_certificate();

// Truth as one JSON object (for the tool).
std::string truth_json(const Truth& t);

}  // namespace cxflow::fake
