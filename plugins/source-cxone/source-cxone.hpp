// source-cxone: live CXone analytics events over the seed tutorial's protocol (OAuth2 client
// credentials token, subscription POST, WebSocket stream), as a service that never gives up and
// never loses what it has accepted.
//
// Threading: networking (Boost.Beast, TLS) runs on the source's own io_context and thread,
// started in start() and joined in stop(). Frames are decoded there into batches; a batch is
// handed to the component strand through a one-slot hand-off (at most one batch in flight plus
// the one being filled), and the strand emits it. When the pipeline is full the strand pauses
// the reader, which stops reading the socket (policy `block`) or keeps reading and drops what
// does not fit (policy `drop_newest`).
//
// This header stays free of Boost types (the heavy templates live in net.cpp).
#pragma once

#include <cxflow/component.hpp>
#include <cxflow/config.hpp>
#include <cxflow/event.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cxflow::cxone {

enum class WhenFull { block, drop_newest };

struct Config {
  // Endpoints ("" = built from region as in the seed).
  std::string region = "us-1";
  std::string token_url;
  std::string subscription_url;
  std::string events_url;
  // OAuth2 client credentials.
  std::string client_id;
  Secret client_secret;
  std::vector<std::string> scopes{"analytics:read", "realtime:read", "events:subscribe"};
  Duration token_refresh_margin{60'000};
  // Subscription (POST body).
  std::string subscription_name = "realtime-dashboard-sub";
  std::string event_type = "interaction";
  ConfigNode filters;  // null = the seed's {status: active}
  std::vector<std::string> requested_fields{"interactionId", "agentId", "metrics.handleTime", "metrics.waitTime",
                                            "metrics.state"};
  // Subscribe message.
  std::vector<std::string> stream_events{"interaction", "agent", "queue"};
  std::string stream_format = "json";
  // TLS.
  std::string ca_file;
  bool tls_verify = true;
  // Timeouts and keepalive.
  Duration http_timeout{10'000};
  Duration handshake_timeout{5'000};
  Duration ping_interval{20'000};
  Duration ping_timeout{10'000};
  ByteSize max_message_size{1024 * 1024};
  // Reconnect.
  Duration backoff_initial{1'000};
  Duration backoff_max{30'000};
  Duration backoff_reset_after{60'000};
  std::int64_t max_reconnect_attempts = 0;  // 0 = unlimited
  // Events.
  std::int64_t batch_size = 1024;
  WhenFull when_full = WhenFull::block;
  std::string timestamp_field = "timestamp";
  std::vector<std::string> required_fields{"eventType"};
  Duration max_out_of_order{2'000};
  Duration idle_timeout{60'000};
  std::string dead_letter;
  Duration warn_interval{10'000};
};

// Effective endpoint URLs (the configured ones, or built from `region`).
std::string effective_token_url(const Config& c);
std::string effective_subscription_url(const Config& c);
std::string effective_events_url(const Config& c);
// "" when `url` is usable for `what` (schemes http/https resp. ws/wss), else the problem.
std::string check_url(const std::string& url, bool websocket);

struct Counters;
class Handoff;
class Network;

class CxoneSource final : public Source {
 public:
  CxoneSource(const Config& config, Setup& setup);
  ~CxoneSource() override;
  CxoneSource(const CxoneSource&) = delete;
  CxoneSource& operator=(const CxoneSource&) = delete;

  void start(SourceContext& ctx) override;
  void stop() override;

 private:
  void deliver();        // strand: take the hand-off slot and emit it
  void on_ready();       // strand: the pipeline has room again
  void emit(Batch& b);   // strand: watermark bookkeeping + ctx.emit
  void idle_check();     // strand: idle watermark timer

  Config cfg_;
  std::shared_ptr<Counters> counters_;
  std::shared_ptr<Handoff> handoff_;
  std::unique_ptr<Network> net_;
  SourceContext* ctx_ = nullptr;
  bool stopped_ = false;
  bool waiting_ready_ = false;
  std::int64_t max_time_ms_ = kNoWatermark;
  std::int64_t last_watermark_ = kNoWatermark;
  std::int64_t last_event_steady_ms_ = 0;
  TimerId idle_timer_ = 0;
  bool idle_armed_ = false;
  bool idle_started_ = false;
};

}  // namespace cxflow::cxone
