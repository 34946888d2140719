// source-cxone: schema and export. The logic lives in source-cxone.cpp (strand), net.cpp
// (network thread) and frames.cpp (decoding and validation).
#include <cxflow/plugin.hpp>

#include "source-cxone.hpp"

namespace {

using cxflow::cxone::Config;
using cxflow::cxone::WhenFull;

struct Plugin {
  static constexpr const char* name = "source-cxone";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Live NICE CXone analytics events: OAuth2 client-credentials token, subscription POST and WebSocket "
      "stream (the seed tutorial's protocol), with token refresh, reconnect with backoff, keepalive, "
      "backpressure and malformed-frame accounting";
  static constexpr const char* example =
      "region: us-1\n"
      "client_id: ${CXONE_CLIENT_ID:-example-client}\n"
      "client_secret: ${CXONE_CLIENT_SECRET:-example-secret}\n";
  using Config = ::Config;
  using Instance = cxflow::cxone::CxoneSource;

  static void schema(cxflow::Schema<Config>& s) {
    s.key("region", &Config::region,
          "CXone region used to build the default URLs (https://api-REGION.cxone.com/..., "
          "wss://api-REGION.cxone.com/api/v2/events), as in the seed")
        .def("us-1")
        .example("eu-1");
    s.key("token_url", &Config::token_url,
          "OAuth2 token endpoint (form-encoded client-credentials POST). Empty: https://api-REGION.cxone.com/oauth/token")
        .def("")
        .example("https://127.0.0.1:8443/oauth/token");
    s.key("subscription_url", &Config::subscription_url,
          "Subscription endpoint (JSON POST with Bearer token). Empty: "
          "https://api-REGION.cxone.com/api/v2/analytics/eventsub")
        .def("")
        .example("https://gateway.example.com/api/v2/analytics/eventsub");
    s.key("events_url", &Config::events_url,
          "Event WebSocket (wss:// verified against the system CA store or ca_file; ws:// for local use). Empty: "
          "wss://api-REGION.cxone.com/api/v2/events")
        .def("")
        .example("ws://127.0.0.1:8080/api/v2/events");
    s.key("client_id", &Config::client_id, "OAuth2 client id; take it from the environment: ${CXONE_CLIENT_ID}")
        .required()
        .example("${CXONE_CLIENT_ID}");
    s.key("client_secret", &Config::client_secret,
          "OAuth2 client secret; take it from the environment: ${CXONE_CLIENT_SECRET}. Never logged")
        .required()
        .example("${CXONE_CLIENT_SECRET}");
    s.key("scopes", &Config::scopes, "OAuth2 scopes requested with the token (sent space-separated) (default: [analytics:read, realtime:read, events:subscribe])");
    s.key("token_refresh_margin", &Config::token_refresh_margin,
          "A cached token is replaced this long before it expires (expires_in of the token response)")
        .def("60s")
        .min(0);
    s.key("subscription_name", &Config::subscription_name, "subscriptionName of the subscription POST")
        .def("realtime-dashboard-sub");
    s.key("event_type", &Config::event_type, "eventType of the subscription POST").def("interaction");
    s.key("filters", &Config::filters,
          "filters object of the subscription POST, any YAML map (sent as JSON). Absent: the seed's {status: active}")
        .example("{status: active, queue: [sales, support]}");
    s.key("requested_fields", &Config::requested_fields, "requestedFields of the subscription POST (default: [interactionId, agentId, metrics.handleTime, metrics.waitTime, metrics.state])");
    s.key("stream_events", &Config::stream_events, "`events` list of the WebSocket subscribe message (default: [interaction, agent, queue])");
    s.key("stream_format", &Config::stream_format, "`format` of the WebSocket subscribe message").def("json");
    s.key("ca_file", &Config::ca_file,
          "PEM file of CA certificates to verify https/wss servers against instead of the system store "
          "(a private CA, a test certificate). Empty: the system store")
        .def("")
        .example("/etc/cxflow/gateway-ca.pem");
    s.key("tls_verify", &Config::tls_verify,
          "Verify server certificates and host names. false disables verification (logged as a warning at start); "
          "prefer ca_file")
        .def("true");
    s.key("http_timeout", &Config::http_timeout, "Timeout of one token or subscription request (connect to response)")
        .def("10s")
        .range(1, 600'000);
    s.key("handshake_timeout", &Config::handshake_timeout, "Timeout of the TCP/TLS/WebSocket handshake")
        .def("5s")
        .range(1, 600'000);
    s.key("ping_interval", &Config::ping_interval,
          "After this long without any frame from the server a ping is sent. 0s disables the keepalive")
        .def("20s")
        .min(0);
    s.key("ping_timeout", &Config::ping_timeout,
          "No frame or pong within this after a ping: the peer is dead, the connection is closed and re-opened "
          "(reconnects_ping_timeout). Suspended while reading is paused by backpressure")
        .def("10s")
        .min(0);
    s.key("max_message_size", &Config::max_message_size,
          "Largest accepted WebSocket message. A larger one closes the connection with 1009, counts "
          "messages_too_large and reconnects")
        .def("1MiB")
        .range(256, 1024.0 * 1024 * 1024);
    s.key("backoff_initial", &Config::backoff_initial,
          "Reconnect backoff: attempt n waits a random time in [0, min(backoff_max, backoff_initial * 2^(n-1))] "
          "(full jitter), unless the server sent Retry-After")
        .def("1s")
        .range(1, 3'600'000);
    s.key("backoff_max", &Config::backoff_max, "Cap of the reconnect backoff").def("30s").range(1, 86'400'000);
    s.key("backoff_reset_after", &Config::backoff_reset_after,
          "A connection that stayed up at least this long resets the backoff (and the attempt count)")
        .def("60s")
        .min(0);
    s.key("max_reconnect_attempts", &Config::max_reconnect_attempts,
          "Consecutive failed attempts after which the source fails and cxflow exits non-zero with the last "
          "error. 0: never give up")
        .def("0")
        .range(0, 1'000'000'000);
    s.key("batch_size", &Config::batch_size,
          "Most events per batch handed to the pipeline (batches grow up to this while the pipeline is busy)")
        .def("1024")
        .range(1, 1'000'000);
    s.key("when_full", &Config::when_full,
          "The pipeline is full: `block` stops reading the socket (TCP pushes back on the server); "
          "`drop_newest` keeps reading and drops events that do not fit, counted in dropped_full (for servers "
          "that cut slow consumers off)")
        .def("block")
        .one_of({{"block", WhenFull::block}, {"drop_newest", WhenFull::drop_newest}});
    s.key("timestamp_field", &Config::timestamp_field,
          "Dotted path of the event time: ISO 8601 with a zone, or epoch milliseconds. Missing or bad: the event "
          "is malformed")
        .def("timestamp");
    s.key("required_fields", &Config::required_fields,
          "Fields every event must carry (non-null); an event without one is counted as malformed_missing_field (default: [eventType])");
    s.key("max_out_of_order", &Config::max_out_of_order,
          "Watermark lag: after each batch the watermark is the highest event time seen minus this")
        .def("2s")
        .min(0);
    s.key("idle_timeout", &Config::idle_timeout,
          "Once events have arrived: no events (and no backpressure) for this long advances the watermark to the wall clock minus "
          "max_out_of_order so windows close in quiet periods. 0s disables")
        .def("60s")
        .min(0);
    s.key("dead_letter", &Config::dead_letter,
          "JSONL file receiving every skipped frame or array element: {received_at, reason, detail, frame}. "
          "Empty: none")
        .def("")
        .example("cxone-rejects.jsonl");
    s.key("warn_interval", &Config::warn_interval,
          "At most one warning about malformed frames per interval; the next says how many were suppressed")
        .def("10s")
        .min(0);
    s.check([](const Config& c) -> std::string {
      if (c.client_id.empty()) return "'client_id' must not be empty (set CXONE_CLIENT_ID)";
      if (c.client_secret.empty()) return "'client_secret' must not be empty (set CXONE_CLIENT_SECRET)";
      if (c.region.empty() && (c.token_url.empty() || c.subscription_url.empty() || c.events_url.empty()))
        return "'region' is empty: set it or every URL (token_url, subscription_url, events_url)";
      if (auto e = cxflow::cxone::check_url(cxflow::cxone::effective_token_url(c), false); !e.empty())
        return "'token_url': " + e;
      if (auto e = cxflow::cxone::check_url(cxflow::cxone::effective_subscription_url(c), false); !e.empty())
        return "'subscription_url': " + e;
      if (auto e = cxflow::cxone::check_url(cxflow::cxone::effective_events_url(c), true); !e.empty())
        return "'events_url': " + e;
      if (c.backoff_max.ms < c.backoff_initial.ms) return "'backoff_max' must be at least 'backoff_initial'";
      if (!c.filters.is_null() && !c.filters.is_map()) return "'filters' must be a map";
      if (c.timestamp_field.empty()) return "'timestamp_field' must not be empty";
      if (c.scopes.empty()) return "'scopes' must list at least one scope";
      return "";
    });
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
