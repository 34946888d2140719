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
enum class Protocol { websocket, rtd };
// `unset`: the protocol's default (client_credentials for websocket, password for rtd).
enum class AuthMode { unset, client_credentials, password, access_key, static_token };
enum class ClientAuth { basic, post };
// What a Real-Time Data API stream's rows become (`automatic`: from the path).
enum class StreamKind { automatic, agents, contacts, skills, raw };
enum class EndDetection { automatic, end_state, absence };

// One polled Real-Time Data API stream (protocol: rtd).
struct RtdStream {
  std::string path;  // under api_base_url + api_path_prefix + api_version, e.g. agents/states
  Duration interval{5'000};
  StreamKind kind = StreamKind::automatic;
  std::string array;  // "" = from the kind (agentStates, activeContacts, skillActivity)
  std::string key;    // "" = from the kind (agentId, contactId, skillId)
};

struct Config {
  Protocol protocol = Protocol::websocket;
  AuthMode auth = AuthMode::unset;
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
  // Access keys, OIDC and API discovery (protocol: rtd, and auth modes other than client_credentials).
  std::string issuer = "https://cxone.niceincontact.com";
  ClientAuth client_auth = ClientAuth::basic;
  std::string access_key_id;
  Secret access_key_secret;
  std::string access_key_url;  // "" = issuer + /authentication/v1/token/access-key
  Secret token;                // static_token
  std::string api_base_url;    // "" = discovered from the id_token's tenantId
  std::string api_path_prefix = "/inContactAPI/services";
  std::string api_version = "v30.0";
  // Real-Time Data API polling.
  std::vector<RtdStream> streams;  // empty = the three defaults (default_streams())
  Duration full_resync{300'000};
  std::int64_t page_size = 100;
  std::vector<std::string> end_states{"EndContact"};
  EndDetection end_detection = EndDetection::automatic;
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
  bool end_on_close = false;                // a close 1000 from the server ends the stream (no reconnect)
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

// The auth mode in effect (resolves `unset` by protocol).
AuthMode effective_auth(const Config& c);
// The streams in effect (the configured ones, or agents/states, contacts/active, skills/activity),
// with kind, array and key filled in from the path where not configured.
std::vector<RtdStream> effective_streams(const Config& c);
// Resolves `kind: automatic` and empty array/key from a known path. "" when the stream is usable,
// else the problem (an unknown path without kind/array/key).
std::string resolve_stream(RtdStream& s);
// Cross-key checks of the config ("" = fine): the protocol's and auth mode's required keys, URLs.
std::string check_config(const Config& c);

// Effective endpoint URLs (the configured ones, or built from `region`).
std::string effective_token_url(const Config& c);
std::string effective_subscription_url(const Config& c);
std::string effective_events_url(const Config& c);
// "" when `url` is usable for `what` (schemes http/https resp. ws/wss), else the problem.
std::string check_url(const std::string& url, bool websocket);

struct Counters;
struct RtdCounters;
class Handoff;
class Network;
class FrameDecoder;
struct RawFrames;

class CxoneSource final : public Source {
 public:
  CxoneSource(const Config& config, Setup& setup);
  ~CxoneSource() override;
  CxoneSource(const CxoneSource&) = delete;
  CxoneSource& operator=(const CxoneSource&) = delete;

  void start(SourceContext& ctx) override;
  void stop() override;

 private:
  void deliver();  // strand: take the hand-off slot and emit it
  // Moves a full hand-off slot into `b` (rtd: events) and `raw` (websocket: messages).
  bool take_slot(Batch& b, RawFrames& raw);
  void decode(RawFrames& raw, Batch& b);  // websocket: the messages into b's events
  void on_ready();                        // strand: the pipeline has room again
  void emit(Batch& b);                    // strand: watermark bookkeeping + ctx.emit
  void idle_check();                      // strand: idle watermark timer

  Config cfg_;
  std::shared_ptr<Counters> counters_;
  std::shared_ptr<RtdCounters> rtd_counters_;  // protocol rtd only
  std::shared_ptr<Handoff> handoff_;
  std::unique_ptr<FrameDecoder> frames_;  // websocket: decodes what the network thread hands off
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
