// source-cxone: cross-key config rules shared by the schema (plugin.cpp) and the runtime: the
// protocol's and auth mode's required keys, and the Real-Time Data API streams.
#include <algorithm>
#include <set>

#include "internal.hpp"

namespace cxflow::cxone {

AuthMode effective_auth(const Config& c) {
  if (c.auth != AuthMode::unset) return c.auth;
  return c.protocol == Protocol::rtd ? AuthMode::password : AuthMode::client_credentials;
}

namespace {

struct KnownStream {
  const char* path;
  StreamKind kind;
  const char* array;
  const char* key;
  std::int64_t interval_ms;
};
constexpr KnownStream kKnownStreams[] = {
    {"agents/states", StreamKind::agents, "agentStates", "agentId", 5'000},
    {"contacts/active", StreamKind::contacts, "activeContacts", "contactId", 5'000},
    {"skills/activity", StreamKind::skills, "skillActivity", "skillId", 10'000},
};

const char* auth_name(AuthMode a) {
  switch (a) {
    case AuthMode::client_credentials:
      return "client_credentials";
    case AuthMode::password:
      return "password";
    case AuthMode::access_key:
      return "access_key";
    case AuthMode::static_token:
      return "static_token";
    case AuthMode::unset:
      break;
  }
  return "unset";
}

std::string check_http_url(const char* key, const std::string& url) {
  if (url.empty()) return "";
  if (auto e = check_url(url, false); !e.empty()) return std::string("'") + key + "': " + e;
  return "";
}

std::string check_websocket(const Config& c) {
  if (effective_auth(c) != AuthMode::client_credentials)
    return std::string("'auth: ") + auth_name(c.auth) +
           "' is for protocol: rtd; the seed's WebSocket protocol authenticates with client_credentials";
  if (c.client_id.empty()) return "'client_id' must not be empty (set CXONE_CLIENT_ID)";
  if (c.client_secret.empty()) return "'client_secret' must not be empty (set CXONE_CLIENT_SECRET)";
  if (c.region.empty() && (c.token_url.empty() || c.subscription_url.empty() || c.events_url.empty()))
    return "'region' is empty: set it or every URL (token_url, subscription_url, events_url)";
  if (auto e = check_url(effective_token_url(c), false); !e.empty()) return "'token_url': " + e;
  if (auto e = check_url(effective_subscription_url(c), false); !e.empty()) return "'subscription_url': " + e;
  if (auto e = check_url(effective_events_url(c), true); !e.empty()) return "'events_url': " + e;
  if (!c.filters.is_null() && !c.filters.is_map()) return "'filters' must be a map";
  if (c.scopes.empty()) return "'scopes' must list at least one scope";
  return "";
}

std::string check_rtd(const Config& c) {
  const AuthMode a = effective_auth(c);
  for (auto [key, url] : {std::pair<const char*, const std::string*>{"issuer", &c.issuer},
                          {"token_url", &c.token_url},
                          {"access_key_url", &c.access_key_url},
                          {"api_base_url", &c.api_base_url}})
    if (auto e = check_http_url(key, *url); !e.empty()) return e;
  switch (a) {
    case AuthMode::password:
      if (c.access_key_id.empty() || c.access_key_secret.empty())
        return "'auth: password' needs 'access_key_id' and 'access_key_secret' (set CXONE_ACCESS_KEY_ID and "
               "CXONE_ACCESS_KEY_SECRET)";
      if (c.client_id.empty() || c.client_secret.empty())
        return "'auth: password' needs 'client_id' and 'client_secret' of the registered application (set "
               "CXONE_CLIENT_ID and CXONE_CLIENT_SECRET)";
      if (c.issuer.empty() && (c.token_url.empty() || c.api_base_url.empty()))
        return "protocol: rtd needs 'issuer' (OIDC and API discovery) or both 'token_url' and 'api_base_url'";
      break;
    case AuthMode::access_key:
      if (c.access_key_id.empty() || c.access_key_secret.empty())
        return "'auth: access_key' needs 'access_key_id' and 'access_key_secret' (set CXONE_ACCESS_KEY_ID and "
               "CXONE_ACCESS_KEY_SECRET)";
      if (c.issuer.empty() && (c.access_key_url.empty() || c.api_base_url.empty()))
        return "'auth: access_key' needs 'issuer' (discovery) or both 'access_key_url' and 'api_base_url'";
      break;
    case AuthMode::static_token:
      if (c.token.empty()) return "'auth: static_token' needs 'token'";
      if (c.api_base_url.empty())
        return "'auth: static_token' needs 'api_base_url' (there is no id_token to discover it from)";
      break;
    case AuthMode::client_credentials:
      if (c.client_id.empty() || c.client_secret.empty())
        return "'auth: client_credentials' needs 'client_id' and 'client_secret'";
      if (c.token_url.empty() || c.api_base_url.empty())
        return "'auth: client_credentials' with protocol: rtd needs 'token_url' and 'api_base_url'";
      break;
    case AuthMode::unset:
      break;
  }
  if (c.api_version.empty()) return "'api_version' must not be empty";
  if (c.end_detection == EndDetection::end_state && c.end_states.empty())
    return "'end_detection: end_state' needs at least one name in 'end_states'";
  std::set<std::string> paths;
  for (std::size_t i = 0; i < c.streams.size(); ++i)
    if (!paths.insert(c.streams[i].path).second)
      return "'streams[" + std::to_string(i) + "]': path '" + c.streams[i].path + "' is listed twice";
  return "";
}

}  // namespace

std::string resolve_stream(RtdStream& s) {
  while (!s.path.empty() && s.path.front() == '/') s.path.erase(s.path.begin());
  while (!s.path.empty() && s.path.back() == '/') s.path.pop_back();
  if (s.path.empty()) return "'path' must not be empty (e.g. agents/states)";
  const KnownStream* known = nullptr;
  for (const auto& k : kKnownStreams)
    if (s.path == k.path) known = &k;
  if (s.kind == StreamKind::automatic) {
    if (known == nullptr)
      return "unknown stream path '" + s.path +
             "': set 'kind' (agents, contacts, skills, or raw with 'array' and 'key'); known paths are "
             "agents/states, contacts/active and skills/activity";
    s.kind = known->kind;
  }
  if (s.kind == StreamKind::raw) {
    if (s.array.empty() || s.key.empty())
      return "stream '" + s.path + "' of kind raw needs 'array' (the response's row array) and 'key' (the row id)";
    return "";
  }
  for (const auto& k : kKnownStreams)
    if (k.kind == s.kind) {
      if (s.array.empty()) s.array = k.array;
      if (s.key.empty()) s.key = k.key;
    }
  return "";
}

std::vector<RtdStream> effective_streams(const Config& c) {
  std::vector<RtdStream> out;
  if (c.streams.empty()) {
    for (const auto& k : kKnownStreams) {
      RtdStream s;
      s.path = k.path;
      s.interval = Duration{k.interval_ms};
      out.push_back(s);
    }
  } else {
    out = c.streams;
  }
  for (auto& s : out) resolve_stream(s);
  return out;
}

std::string check_config(const Config& c) {
  if (c.backoff_max.ms < c.backoff_initial.ms) return "'backoff_max' must be at least 'backoff_initial'";
  if (c.timestamp_field.empty()) return "'timestamp_field' must not be empty";
  return c.protocol == Protocol::rtd ? check_rtd(c) : check_websocket(c);
}

}  // namespace cxflow::cxone
