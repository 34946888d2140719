// URL parsing, retry policy, small encoders and the counters of source-cxone.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "internal.hpp"

namespace cxflow::cxone {

std::string Url::str() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + port + target;
}

std::optional<Url> parse_url(std::string_view text, std::string* error) {
  auto fail = [&](std::string m) -> std::optional<Url> {
    if (error) *error = std::move(m);
    return std::nullopt;
  };
  Url u;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail("expected scheme://host[:port]/path");
  u.scheme = std::string(text.substr(0, sep));
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), [](unsigned char c) { return std::tolower(c); });
  if (u.scheme != "http" && u.scheme != "https" && u.scheme != "ws" && u.scheme != "wss")
    return fail("unsupported scheme '" + u.scheme + "' (expected http, https, ws or wss)");
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported (use client_id / client_secret)");
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 address");
    u.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return fail("unexpected text after the IPv6 address");
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return fail("missing host");
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
        std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0)
      return fail("invalid port '" + std::string(port) + "'");
    u.port = std::string(port);
  } else {
    u.port = u.tls() ? "443" : "80";
  }
  return u;
}

std::string effective_token_url(const Config& c) {
  return c.token_url.empty() ? "https://api-" + c.region + ".cxone.com/oauth/token" : c.token_url;
}
std::string effective_subscription_url(const Config& c) {
  return c.subscription_url.empty() ? "https://api-" + c.region + ".cxone.com/api/v2/analytics/eventsub"
                                    : c.subscription_url;
}
std::string effective_events_url(const Config& c) {
  return c.events_url.empty() ? "wss://api-" + c.region + ".cxone.com/api/v2/events" : c.events_url;
}

std::string check_url(const std::string& url, bool websocket) {
  std::string err;
  const auto u = parse_url(url, &err);
  if (!u) return "'" + url + "' is not a valid URL: " + err;
  if (websocket && u->scheme != "ws" && u->scheme != "wss") return "'" + url + "' must be a ws:// or wss:// URL";
  if (!websocket && u->scheme != "http" && u->scheme != "https")
    return "'" + url + "' must be an http:// or https:// URL";
  return "";
}

Backoff::Backoff(std::int64_t initial_ms, std::int64_t max_ms, std::uint64_t seed)
    : initial_ms_(std::max<std::int64_t>(1, initial_ms)), max_ms_(std::max(max_ms, initial_ms)), rng_(seed) {}

std::int64_t Backoff::cap_ms(std::int64_t attempt) const {
  const std::int64_t shift = std::clamp<std::int64_t>(attempt - 1, 0, 40);
  const double cap = static_cast<double>(initial_ms_) * std::pow(2.0, static_cast<double>(shift));
  return cap >= static_cast<double>(max_ms_) ? max_ms_ : static_cast<std::int64_t>(cap);
}

std::int64_t Backoff::delay_ms(std::int64_t attempt) {
  std::uniform_int_distribution<std::int64_t> d(0, cap_ms(attempt));
  return d(rng_);
}

std::string format_delay(std::int64_t ms) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string form_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else if (c == ' ')
      out += '+';
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {
bool json_number(const std::string& s) {
  if (s.empty() || s.size() > 40) return false;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(v) && s[0] != '+' && s[0] != '.' && s.back() != '.' &&
         s.find_first_of("xXnN") == std::string::npos &&
         !(s.size() > 1 && s[0] == '0' && std::isdigit(static_cast<unsigned char>(s[1])));
}
}  // namespace

std::string config_to_json(const ConfigNode& n) {
  switch (n.kind) {
    case ConfigNode::Kind::Null:
      return "null";
    case ConfigNode::Kind::Scalar:
      if (n.scalar == "true" || n.scalar == "false" || n.scalar == "null" || json_number(n.scalar)) return n.scalar;
      return json_quote(n.scalar);
    case ConfigNode::Kind::Sequence: {
      std::string s = "[";
      for (std::size_t i = 0; i < n.items.size(); ++i) s += (i ? "," : "") + config_to_json(n.items[i]);
      return s + "]";
    }
    case ConfigNode::Kind::Map: {
      std::string s = "{";
      for (std::size_t i = 0; i < n.items.size(); ++i)
        s += (i ? "," : "") + json_quote(n.keys[i]) + ":" + config_to_json(n.items[i]);
      return s + "}";
    }
  }
  return "null";
}

std::optional<TokenResponse> parse_token_response(std::string_view body, std::string& error) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "token response is not a JSON object";
    return std::nullopt;
  }
  TokenResponse t;
  const auto tok = j.find("access_token");
  if (tok == j.end() || !tok->is_string() || tok->get<std::string>().empty()) {
    error = "token response has no access_token";
    return std::nullopt;
  }
  t.access_token = tok->get<std::string>();
  const auto exp = j.find("expires_in");
  if (exp != j.end() && exp->is_number())
    t.expires_in_s = static_cast<std::int64_t>(exp->get<double>());
  else if (exp != j.end() && exp->is_string())
    t.expires_in_s = std::atoll(exp->get<std::string>().c_str());
  else
    t.expires_in_s = 1800;  // the seed's documented lifetime
  const auto sc = j.find("scope");
  if (sc != j.end() && sc->is_string()) t.scope = sc->get<std::string>();
  for (auto [key, out] :
       {std::pair<const char*, std::string*>{"refresh_token", &t.refresh_token}, {"id_token", &t.id_token}})
    if (const auto it = j.find(key); it != j.end() && it->is_string()) *out = it->get<std::string>();
  return t;
}

std::optional<std::string> parse_subscription_id(std::string_view body, std::string& error) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "subscription response is not a JSON object";
    return std::nullopt;
  }
  const auto id = j.find("id");
  if (id != j.end() && id->is_string() && !id->get<std::string>().empty()) return id->get<std::string>();
  if (id != j.end() && id->is_number_integer()) return std::to_string(id->get<std::int64_t>());
  error = "subscription response has no id";
  return std::nullopt;
}

std::string server_message(std::string_view body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    for (const char* k : {"message", "error_description", "error"}) {
      const auto it = j.find(k);
      if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
  }
  std::string s(body.substr(0, 300));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s;
}

const char* malformed_name(Malformed m) noexcept {
  switch (m) {
    case Malformed::invalid_json:
      return "invalid_json";
    case Malformed::not_an_object:
      return "not_an_object";
    case Malformed::missing_timestamp:
      return "missing_timestamp";
    case Malformed::bad_timestamp:
      return "bad_timestamp";
    case Malformed::invalid_number:
      return "invalid_number";
    case Malformed::wrong_type:
      return "wrong_type";
    case Malformed::missing_field:
      return "missing_field";
  }
  return "unknown";
}

const char* cause_name(Cause c) noexcept {
  switch (c) {
    case Cause::network:
      return "network";
    case Cause::server_close:
      return "server_close";
    case Cause::token_expired:
      return "token_expired";
    case Cause::unknown_subscription:
      return "unknown_subscription";
    case Cause::message_too_large:
      return "message_too_large";
    case Cause::ping_timeout:
      return "ping_timeout";
    case Cause::http_error:
      return "http_error";
    case Cause::tls:
      return "tls";
    case Cause::protocol:
      return "protocol";
  }
  return "unknown";
}

Counters::Counters(Setup& s)
    : connections(s.declare_counter(
          {"connections", CounterKind::Counter, "connections", {}, CounterRole::None, "connections established"})),
      reconnects(s.counter("reconnects_total")),
      events(s.declare_counter(
          {"events_received", CounterKind::Counter, "events", {}, CounterRole::None, "valid events decoded"})),
      frames(s.declare_counter(
          {"frames_received", CounterKind::Counter, "messages", {}, CounterRole::None, "messages received"})),
      bytes(s.declare_counter(
          {"bytes_received", CounterKind::Counter, "bytes", {}, CounterRole::None, "message bytes received"})),
      malformed(s.counter("malformed_total")),
      too_large(s.declare_counter({"messages_too_large",
                                   CounterKind::Counter,
                                   "messages",
                                   {},
                                   CounterRole::Malformed,
                                   "messages over max_message_size (the connection is closed)"})),
      dropped_full(
          s.declare_counter({"dropped_full",
                             CounterKind::Counter,
                             "messages",
                             {},
                             CounterRole::Dropped,
                             "messages dropped undecoded while the pipeline was full (when_full: drop_newest)"})),
      dead_lettered(s.counter("dead_lettered")),
      prefiltered(s.declare_counter({"prefiltered",
                                     CounterKind::Counter,
                                     "events",
                                     {},
                                     CounterRole::Dropped,
                                     "valid events dropped by pushed-down conditions"})),
      token_requests(s.counter("token_requests")),
      subscriptions(s.counter("subscriptions_created")),
      http_retries(s.declare_counter({"http_retries",
                                      CounterKind::Counter,
                                      "requests",
                                      {},
                                      CounterRole::Retries,
                                      "token and subscription requests retried"})),
      last_event_time_ms(s.declare_counter({"last_event_time_ms",
                                            CounterKind::Gauge,
                                            "ms",
                                            {},
                                            CounterRole::None,
                                            "event time of the newest event, ms since the epoch"})),
      paused(s.declare_counter({"paused",
                                CounterKind::Counter,
                                "pauses",
                                {},
                                CounterRole::None,
                                "times reading was paused by backpressure"})) {
  for (int i = 0; i < kCauses; ++i)
    reconnects_by[i] = &s.declare_counter({"reconnects",
                                           CounterKind::Counter,
                                           "connections",
                                           {{"cause", cause_name(static_cast<Cause>(i))}},
                                           CounterRole::Retries,
                                           "reconnections, by what ended the previous connection"});
  for (int i = 0; i < kMalformedReasons; ++i)
    malformed_by[i] = &s.declare_counter({"malformed",
                                          CounterKind::Counter,
                                          "messages",
                                          {{"reason", malformed_name(static_cast<Malformed>(i))}},
                                          CounterRole::Malformed,
                                          "messages skipped as malformed, by reason"});
}

}  // namespace cxflow::cxone
