// source-cxone: schema and export. The logic lives in source-cxone.cpp (strand), net.cpp
// (network thread) and frames.cpp (decoding and validation).
#include <cxflow/plugin.hpp>

#include "source-cxone.hpp"

namespace {

using cxflow::cxone::AuthMode;
using cxflow::cxone::ClientAuth;
using cxflow::cxone::Config;
using cxflow::cxone::EndDetection;
using cxflow::cxone::Protocol;
using cxflow::cxone::RtdStream;
using cxflow::cxone::StreamKind;
using cxflow::cxone::WhenFull;

cxflow::Schema<RtdStream> stream_schema() {
  cxflow::Schema<RtdStream> s;
  s.key("path", &RtdStream::path,
        "Path under api_base_url + api_path_prefix + api_version: agents/states, contacts/active, skills/activity, "
        "or any other with kind/array/key")
      .required()
      .example("agents/states");
  s.key("interval", &RtdStream::interval, "Time between two polls of this stream").def("5s").range(100, 86'400'000);
  s.key("kind", &RtdStream::kind,
        "What the rows become: agents -> agent events, contacts -> interaction events, skills -> queue events, raw -> "
        "one event per changed row with the row's own keys. auto: from the path (unknown paths must set it)")
      .def("auto")
      .one_of({{"auto", StreamKind::automatic},
               {"agents", StreamKind::agents},
               {"contacts", StreamKind::contacts},
               {"skills", StreamKind::skills},
               {"raw", StreamKind::raw}});
  s.key("array", &RtdStream::array,
        "Name of the response's row array (matched case-insensitively). Empty: from the kind (agentStates, "
        "activeContacts, skillActivity)")
      .def("");
  s.key("key", &RtdStream::key,
        "Row field that identifies a row (dedupe and state). Empty: from the kind (agentId, "
        "contactId, skillId)")
      .def("");
  s.check([](const RtdStream& st) {
    RtdStream copy = st;
    return cxflow::cxone::resolve_stream(copy);
  });
  return s;
}

struct Plugin {
  static constexpr const char* name = "source-cxone";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Live NICE CXone analytics events: the seed tutorial's protocol (OAuth2 client-credentials token, subscription "
      "POST, WebSocket stream) or CXone's Real-Time Data API (access keys, OIDC and API discovery, delta polling of "
      "agent states, active contacts and skill activity, normalized to agent/interaction/queue events), with token "
      "refresh, retries with backoff, backpressure and malformed-input accounting";
  static constexpr const char* example =
      "region: us-1\n"
      "client_id: ${CXONE_CLIENT_ID:-example-client}\n"
      "client_secret: ${CXONE_CLIENT_SECRET:-example-secret}\n";
  using Config = ::Config;
  using Instance = cxflow::cxone::CxoneSource;

  static void schema(cxflow::Schema<Config>& s) {
    s.key("protocol", &Config::protocol,
          "websocket: the seed tutorial's token + subscription + WebSocket stream. rtd: NICE CXone's Real-Time Data "
          "API (access keys, OIDC and API discovery, polling agents/states, contacts/active, skills/activity)")
        .def("websocket")
        .one_of({{"websocket", Protocol::websocket}, {"rtd", Protocol::rtd}});
    s.key("auth", &Config::auth,
          "How the token is obtained. client_credentials: the seed's (websocket). password: OIDC password grant with "
          "access_key_id/access_key_secret as username/password and client_id/client_secret as client auth (rtd "
          "default). access_key: POST {accessKeyId, accessKeySecret} to access_key_url. static_token: `token` as is "
          "(tests). Default: client_credentials for websocket, password for rtd")
        .one_of({{"client_credentials", AuthMode::client_credentials},
                 {"password", AuthMode::password},
                 {"access_key", AuthMode::access_key},
                 {"static_token", AuthMode::static_token}});
    s.key("region", &Config::region,
          "CXone region used to build the default URLs (https://api-REGION.cxone.com/..., "
          "wss://api-REGION.cxone.com/api/v2/events), as in the seed")
        .def("us-1")
        .example("eu-1");
    s.key("token_url", &Config::token_url,
          "OAuth2 token endpoint (form-encoded client-credentials POST). Empty: "
          "https://api-REGION.cxone.com/oauth/token")
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
    s.key("client_id", &Config::client_id,
          "OAuth2 client id (websocket; rtd with auth password); take it from the environment: ${CXONE_CLIENT_ID}")
        .def("")
        .example("${CXONE_CLIENT_ID}");
    s.key("client_secret", &Config::client_secret,
          "OAuth2 client secret (websocket; rtd with auth password); take it from the environment: "
          "${CXONE_CLIENT_SECRET}. Never logged")
        .example("${CXONE_CLIENT_SECRET}");
    s.key("scopes", &Config::scopes,
          "OAuth2 scopes requested with the token (sent space-separated) (default: [analytics:read, realtime:read, "
          "events:subscribe])");
    s.key("token_refresh_margin", &Config::token_refresh_margin,
          "A cached token is replaced this long before it expires (expires_in of the token response)")
        .def("60s")
        .min(0);
    s.key("issuer", &Config::issuer,
          "rtd: OpenID issuer: token_endpoint from ISSUER/.well-known/openid-configuration (unless token_url), then "
          "api_endpoint from ISSUER/.well-known/cxone-configuration?tenantId=T (unless api_base_url), T being the "
          "id_token's tenantId claim. Government tenants: https://cxone-gov.niceincontact.com")
        .def("https://cxone.niceincontact.com");
    s.key("client_auth", &Config::client_auth,
          "rtd, auth password: send client_id/client_secret as HTTP Basic (basic, client_secret_basic) or in the form "
          "body (post, client_secret_post)")
        .def("basic")
        .one_of({{"basic", ClientAuth::basic}, {"post", ClientAuth::post}});
    s.key("access_key_id", &Config::access_key_id,
          "rtd: CXone access key id (auth password or access_key); from the environment: ${CXONE_ACCESS_KEY_ID}")
        .def("")
        .example("${CXONE_ACCESS_KEY_ID}");
    s.key("access_key_secret", &Config::access_key_secret,
          "rtd: CXone access key secret; from the environment: ${CXONE_ACCESS_KEY_SECRET}. Never logged")
        .example("${CXONE_ACCESS_KEY_SECRET}");
    s.key("access_key_url", &Config::access_key_url,
          "rtd, auth access_key: the JSON access-key token endpoint. Empty: ISSUER/authentication/v1/token/access-key "
          "(real tenants: https://na1.nice-incontact.com/authentication/v1/token/access-key and the like)")
        .def("");
    s.key("token", &Config::token, "rtd, auth static_token: the Bearer token used as is (tests). Never logged")
        .example("${CXONE_TOKEN}");
    s.key("api_base_url", &Config::api_base_url,
          "rtd: API host (e.g. https://api-na1.niceincontact.com). Empty: discovered from the id_token's tenantId")
        .def("")
        .example("https://api-na1.niceincontact.com");
    s.key("api_path_prefix", &Config::api_path_prefix, "rtd: path between the API host and the version")
        .def("/inContactAPI/services");
    s.key("api_version", &Config::api_version, "rtd: API version segment of every path").def("v30.0");
    s.records("streams", &Config::streams, stream_schema(),
              "rtd: the polled streams, each on its own interval (default: agents/states every 5s, contacts/active "
              "every 5s, skills/activity every 10s)")
        .example("[{path: agents/states, interval: 5s}, {path: contacts/active, interval: 2s}]");
    s.key("full_resync", &Config::full_resync,
          "rtd: between delta polls (updatedSince = the previous lastPollTime) a stream is read in full this often")
        .def("300s")
        .range(1'000, 86'400'000);
    s.key("page_size", &Config::page_size, "rtd: rows per page (`top`); pages follow _links.next until totalRecords")
        .def("100")
        .range(1, 10'000);
    s.key("end_states", &Config::end_states,
          "rtd: contact stateName values (case-insensitive) meaning the contact ended (default: [EndContact]); a "
          "contactStateCategory of Ended counts too");
    s.key("end_detection", &Config::end_detection,
          "rtd: how a contact's end is detected. end_state: from a row in an end state. absence: the contact is "
          "missing from a full read of contacts/active (every contacts poll reads in full; the end time is that "
          "read's lastPollTime, accurate to one contacts interval). auto: absence until an end state is seen, then "
          "end states, with absence on every full resync as a safety net")
        .def("auto")
        .one_of({{"auto", EndDetection::automatic},
                 {"end_state", EndDetection::end_state},
                 {"absence", EndDetection::absence}});
    s.key("subscription_name", &Config::subscription_name, "subscriptionName of the subscription POST")
        .def("realtime-dashboard-sub");
    s.key("event_type", &Config::event_type, "eventType of the subscription POST").def("interaction");
    s.key("filters", &Config::filters,
          "filters object of the subscription POST, any YAML map (sent as JSON). Absent: the seed's {status: active}")
        .example("{status: active, queue: [sales, support]}");
    s.key("requested_fields", &Config::requested_fields,
          "requestedFields of the subscription POST (default: [interactionId, agentId, metrics.handleTime, "
          "metrics.waitTime, metrics.state])");
    s.key("stream_events", &Config::stream_events,
          "`events` list of the WebSocket subscribe message (default: [interaction, agent, queue])");
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
    s.key("http_timeout", &Config::http_timeout,
          "Timeout of one HTTP request (token, discovery, subscription, one Real-Time Data API page), connect to "
          "response; a request that times out is retried with the backoff")
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
          "(reconnects{cause=ping_timeout}). Suspended while reading is paused by backpressure")
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
    s.key("end_on_close", &Config::end_on_close,
          "websocket: true: a close with code 1000 (normal closure) from the server is the end of the stream: "
          "the source emits what it holds and ends, and cxflow drains and exits 0 once every source has ended "
          "(a recorded stream played back through a gateway, a test server). false: a live feed that closes is "
          "reconnected like after any other close")
        .def("false");
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
          "Fields every event must carry (non-null); an event without one is counted as "
          "malformed{reason=missing_field} (default: [eventType])");
    s.key("max_out_of_order", &Config::max_out_of_order,
          "Watermark lag: after each batch the watermark is the highest event time seen minus this")
        .def("2s")
        .min(0);
    s.key("idle_timeout", &Config::idle_timeout,
          "Once events have arrived: no events (and no backpressure) for this long advances the watermark to the wall "
          "clock minus "
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
    s.check([](const Config& c) { return cxflow::cxone::check_config(c); });
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
