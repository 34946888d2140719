// source-cxone: one HTTP(S) request per connection on the network thread's io_context, and the
// TLS client context (ca_file / tls_verify) every connection of the source uses. Shared by the
// WebSocket protocol (token, subscription) and the Real-Time Data API poller. Only Asio's light
// headers here: Beast and OpenSSL stay in http.cpp.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <string>

#include "internal.hpp"

namespace boost::asio::ssl {
class context;
}

namespace cxflow::cxone {

struct HttpRequest {
  std::string method = "GET";  // GET | POST
  Url url;
  std::string content_type;  // POST body type
  std::string body;
  std::string authorization;  // full header value ("Bearer ..." / "Basic ..."), "" = none
};

struct HttpResult {
  int status = 0;  // 0: no answer (network/TLS error or timeout)
  std::string body;
  std::string retry_after;
  std::string error;
  bool tls_error = false;
  bool timed_out = false;
};

// The Host header for `u` (the port only when it is not the scheme's default).
std::string host_header(const Url& u);

class HttpClient {
 public:
  // Builds the TLS context from ca_file / tls_verify; throws when the CA file cannot be loaded.
  HttpClient(boost::asio::io_context& io, const Config& cfg);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::ssl::context& tls();
  // One request on a fresh connection, bounded by http_timeout (connect to the end of the
  // response), always with `Accept: application/json`.
  boost::asio::awaitable<HttpResult> send(const HttpRequest& req);
  // io thread: aborts the request in flight (stop()).
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxflow::cxone
