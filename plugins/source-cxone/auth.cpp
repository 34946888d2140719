// source-cxone: token cache, logins, refresh and discovery (see auth.hpp).
#include "auth.hpp"

// GCC 12-14 reports awaitable_frame_base's sized operator delete as mismatched for some coroutine
// frames (a false positive: Asio allocates and frees the frame with its own pair).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <chrono>

#include <nlohmann/json.hpp>

#include "rtd.hpp"

namespace cxflow::cxone {

namespace {

std::string trim_slash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string string_member(const nlohmann::json& j, const char* key) {
  const auto* v = rtd::member(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

}  // namespace

Auth::Auth(const Config& cfg, HttpClient& http, Counter& token_requests, Counter& token_refreshes)
    : cfg_(cfg), http_(http), requests_(token_requests), refreshes_(token_refreshes) {
  if (effective_auth(cfg_) == AuthMode::client_credentials)
    token_url_ = effective_token_url(cfg_);
  else
    token_url_ = cfg_.token_url;
  api_base_ = trim_slash(cfg_.api_base_url);
}

void Auth::invalidate() {
  if (effective_auth(cfg_) == AuthMode::static_token) static_rejected_ = true;
  token_.clear();
  expires_ms_ = 0;
}

void Auth::fail_http(const std::string& what, const HttpResult& r, AuthFailure& f) const {
  f.status = r.status;
  f.timed_out = r.timed_out;
  f.tls = r.tls_error;
  if (r.status == 0) {
    f.what = what + ": " + r.error;
    return;
  }
  f.what = what + ": HTTP " + std::to_string(r.status);
  if (const std::string m = server_message(r.body); !m.empty()) f.what += " (" + m + ")";
  if (r.status == 429 || r.status == 503) f.retry_after_ms = parse_retry_after_ms(r.retry_after, wall_now_ms());
  f.fatal = r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429;
}

boost::asio::awaitable<std::optional<std::string>> Auth::get_json(const std::string& url, const char* what,
                                                                  AuthFailure& f) {
  std::string err;
  const auto u = parse_url(url, &err);
  if (!u) {
    f.fatal = true;
    f.what = std::string(what) + ": '" + url + "' is not a valid URL: " + err;
    co_return std::nullopt;
  }
  HttpRequest req;
  req.url = *u;
  const HttpResult r = co_await http_.send(req);
  if (r.status != 200) {
    fail_http("GET " + u->str(), r, f);
    if (r.status == 404) f.what += std::string(": ") + what + " not found";
    co_return std::nullopt;
  }
  co_return r.body;
}

boost::asio::awaitable<bool> Auth::discover_token_url(AuthFailure& f) {
  if (!token_url_.empty()) co_return true;
  const std::string url = trim_slash(cfg_.issuer) + "/.well-known/openid-configuration";
  const auto body = co_await get_json(url, "OpenID configuration", f);
  if (!body) co_return false;
  const auto j = nlohmann::json::parse(*body, nullptr, false);
  const std::string ep = j.is_object() ? string_member(j, "token_endpoint") : std::string();
  if (ep.empty()) {
    f.fatal = true;
    f.what = "GET " + url + ": no token_endpoint in the OpenID configuration (set token_url)";
    co_return false;
  }
  token_url_ = ep;
  co_return true;
}

boost::asio::awaitable<bool> Auth::login(AuthFailure& f, bool refresh) {
  const AuthMode mode = effective_auth(cfg_);
  HttpRequest req;
  req.method = "POST";
  std::string url;
  std::string scope;
  if (mode == AuthMode::access_key) {
    url = cfg_.access_key_url.empty() ? trim_slash(cfg_.issuer) + "/authentication/v1/token/access-key"
                                      : cfg_.access_key_url;
    req.content_type = "application/json";
    req.body = "{\"accessKeyId\":" + json_quote(cfg_.access_key_id) +
               ",\"accessKeySecret\":" + json_quote(cfg_.access_key_secret.reveal()) + "}";
  } else {
    if (!co_await discover_token_url(f)) co_return false;
    url = token_url_;
    req.content_type = "application/x-www-form-urlencoded";
    if (mode == AuthMode::client_credentials) {
      for (const auto& s : cfg_.scopes) scope += (scope.empty() ? "" : " ") + s;
      req.body = "grant_type=client_credentials&client_id=" + form_encode(cfg_.client_id) +
                 "&client_secret=" + form_encode(cfg_.client_secret.reveal()) + "&scope=" + form_encode(scope);
    } else {
      req.body = refresh ? "grant_type=refresh_token&refresh_token=" + form_encode(refresh_token_)
                         : "grant_type=password&username=" + form_encode(cfg_.access_key_id) +
                               "&password=" + form_encode(cfg_.access_key_secret.reveal());
      if (cfg_.client_auth == ClientAuth::basic)
        req.authorization = "Basic " + rtd::base64_encode(cfg_.client_id + ":" + cfg_.client_secret.reveal());
      else
        req.body +=
            "&client_id=" + form_encode(cfg_.client_id) + "&client_secret=" + form_encode(cfg_.client_secret.reveal());
    }
  }
  std::string err;
  const auto u = parse_url(url, &err);
  if (!u) {
    f.fatal = true;
    f.what = "token endpoint '" + url + "' is not a valid URL: " + err;
    co_return false;
  }
  req.url = *u;
  requests_.add();
  if (refresh) refreshes_.add();
  const HttpResult r = co_await http_.send(req);
  const std::string what = "POST " + u->str() + (refresh ? " (refresh_token grant)" : "");
  if (r.status != 200) {
    fail_http(what, r, f);
    if (r.status == 400 || r.status == 401) {
      f.what = what + ": HTTP " + std::to_string(r.status) + ": the token endpoint rejected " +
               (refresh ? std::string("the refresh token")
                : mode == AuthMode::client_credentials
                    ? std::string("the client credentials (check client_id and client_secret)")
                : mode == AuthMode::access_key
                    ? std::string("the access key (check access_key_id and access_key_secret)")
                    : std::string("the access key or the client credentials (check access_key_id, "
                                  "access_key_secret, client_id, client_secret, client_auth)")) +
               (r.body.empty() ? "" : "; server said: " + server_message(r.body));
    }
    co_return false;
  }
  auto t = parse_token_response(r.body, err);
  if (!t) {
    f.what = what + ": " + err;
    co_return false;
  }
  token_ = t->access_token;
  expires_ms_ = steady_now_ms() + t->expires_in_s * 1000;
  refresh_token_ = t->refresh_token;
  if (t->scope) granted_scope_ = t->scope;
  if (tenant_id_.empty()) {
    for (const std::string* jwt : {&t->id_token, &t->access_token}) {
      if (const auto claims = rtd::jwt_claims(*jwt)) {
        if (const std::string tid = rtd::id_text(rtd::member(*claims, "tenantId")); !tid.empty()) {
          tenant_id_ = tid;
          break;
        }
      }
    }
  }
  co_return true;
}

boost::asio::awaitable<std::optional<std::string>> Auth::token(AuthFailure& f) {
  if (effective_auth(cfg_) == AuthMode::static_token) {
    if (static_rejected_) {
      f.fatal = true;
      f.what = "the API rejected the static token (key 'token'); there is no way to obtain another";
      co_return std::nullopt;
    }
    co_return cfg_.token.reveal();
  }
  if (!token_.empty() && steady_now_ms() < expires_ms_ - cfg_.token_refresh_margin.ms) co_return token_;
  token_.clear();
  // The refresh_token grant goes to the OIDC token endpoint; the access-key endpoint has none
  // documented, so access_key logs in again.
  if (!refresh_token_.empty() && effective_auth(cfg_) == AuthMode::password) {
    AuthFailure rf;
    if (co_await login(rf, true)) co_return token_;
    if (!rf.fatal) {  // 429 / 5xx / network: retry the refresh later
      f = rf;
      co_return std::nullopt;
    }
    refresh_token_.clear();  // refused: a full login
  }
  if (!co_await login(f, false)) co_return std::nullopt;
  co_return token_;
}

boost::asio::awaitable<std::optional<std::string>> Auth::api_base(AuthFailure& f) {
  if (!api_base_.empty()) co_return api_base_;
  if (tenant_id_.empty()) {
    if (!co_await token(f)) co_return std::nullopt;
    if (tenant_id_.empty()) {
      f.fatal = true;
      f.what =
          "the token response carries no id_token with a tenantId claim, so the API host cannot be discovered; "
          "set api_base_url";
      co_return std::nullopt;
    }
  }
  const std::string url =
      trim_slash(cfg_.issuer) + "/.well-known/cxone-configuration?tenantId=" + form_encode(tenant_id_);
  const auto body = co_await get_json(url, "CXone configuration for the tenant", f);
  if (!body) co_return std::nullopt;
  const auto j = nlohmann::json::parse(*body, nullptr, false);
  const std::string ep = j.is_object() ? string_member(j, "api_endpoint") : std::string();
  if (ep.empty()) {
    f.fatal = true;
    f.what = "GET " + url + ": no api_endpoint in the CXone configuration (set api_base_url)";
    co_return std::nullopt;
  }
  api_base_ = trim_slash(ep);
  co_return api_base_;
}

}  // namespace cxflow::cxone
