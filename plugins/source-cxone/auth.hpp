// source-cxone: tokens and discovery on the network thread. Modes: client_credentials (the
// seed's), password (OIDC password grant with an access key), access_key (the JSON access-key
// endpoint), static_token. Tokens are cached and renewed token_refresh_margin before expiry, with
// the refresh_token grant when one was offered (a full login when it fails). Secrets are never
// logged or put in an error message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "http.hpp"

namespace cxflow::cxone {

// Why a token or discovery request failed.
struct AuthFailure {
  std::string what;
  int status = 0;  // 0: no HTTP answer
  std::optional<std::int64_t> retry_after_ms;
  bool fatal = false;  // retrying cannot help (rejected credentials, unknown tenant)
  bool timed_out = false;
  bool tls = false;
};

class Auth {
 public:
  Auth(const Config& cfg, HttpClient& http, Counter& token_requests, Counter& token_refreshes);

  // A valid access token: cached, refreshed or from a new login. nullopt with `f` set on failure.
  boost::asio::awaitable<std::optional<std::string>> token(AuthFailure& f);
  // The API rejected the token (401): the next token() logs in again (refresh first if offered).
  void invalidate();
  // API base URL: api_base_url, or api_endpoint from cxone-configuration for the id_token's
  // tenantId (logs in first if needed). Cached.
  boost::asio::awaitable<std::optional<std::string>> api_base(AuthFailure& f);
  // Scope granted by the last token response (client_credentials), if it said.
  const std::optional<std::string>& granted_scope() const { return granted_scope_; }
  const std::string& tenant_id() const { return tenant_id_; }

 private:
  boost::asio::awaitable<bool> discover_token_url(AuthFailure& f);
  boost::asio::awaitable<bool> login(AuthFailure& f, bool refresh);
  boost::asio::awaitable<std::optional<std::string>> get_json(const std::string& url, const char* what, AuthFailure& f);
  void fail_http(const std::string& what, const HttpResult& r, AuthFailure& f) const;

  const Config& cfg_;
  HttpClient& http_;
  Counter& requests_;
  Counter& refreshes_;
  std::string token_url_;  // resolved (configured or discovered)
  std::string token_;
  std::string refresh_token_;
  std::int64_t expires_ms_ = 0;  // steady clock
  std::optional<std::string> granted_scope_;
  std::string tenant_id_;
  std::string api_base_;
  bool static_rejected_ = false;
};

}  // namespace cxflow::cxone
