// source-cxone: HTTP(S) requests and the TLS client context (Boost.Beast, OpenSSL).
#include "http.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>

namespace cxflow::cxone {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

std::string host_header(const Url& u) {
  const bool dflt = (u.tls() && u.port == "443") || (!u.tls() && u.port == "80");
  const std::string h = u.host.find(':') != std::string::npos ? "[" + u.host + "]" : u.host;
  return dflt ? h : h + ":" + u.port;
}

struct HttpClient::Impl {
  Impl(asio::io_context& io_, const Config& cfg)
      : io(io_), timeout_ms(cfg.http_timeout.ms), verify(cfg.tls_verify), tls(ssl::context::tls_client) {
    tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (cfg.tls_verify) {
      tls.set_verify_mode(ssl::verify_peer);
      error_code ec;
      if (!cfg.ca_file.empty()) {
        tls.load_verify_file(cfg.ca_file, ec);
        if (ec)
          throw std::runtime_error("cannot load CA certificates from '" + cfg.ca_file +
                                   "' (key 'ca_file'): " + ec.message());
      } else {
        tls.set_default_verify_paths(ec);
        if (ec) throw std::runtime_error("cannot load the system CA store: " + ec.message() + " (set 'ca_file')");
      }
    } else {
      tls.set_verify_mode(ssl::verify_none);
    }
  }

  template <class Stream>
  asio::awaitable<HttpResult> exchange(Stream& s, const Url& u, http::request<http::string_body>& req) {
    HttpResult r;
    auto& tcp_layer = beast::get_lowest_layer(s);
    close_current = [&tcp_layer] { tcp_layer.close(); };
    struct Clear {
      std::function<void()>& f;
      ~Clear() { f = nullptr; }
    } clear{close_current};
    auto fail = [&r](std::string what, const error_code& ec) {
      r.error = std::move(what) + ": " + ec.message();
      r.timed_out = ec == beast::error::timeout;
    };
    tcp::resolver resolver(io);
    auto [rec, results] = co_await resolver.async_resolve(u.host, u.port, use_tuple);
    if (rec) {
      fail("cannot resolve " + u.host, rec);
      co_return r;
    }
    tcp_layer.expires_after(std::chrono::milliseconds(timeout_ms));
    auto [cec, ep] = co_await tcp_layer.async_connect(results, use_tuple);
    if (cec) {
      fail("cannot connect", cec);
      co_return r;
    }
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      if (!SSL_set_tlsext_host_name(s.native_handle(), u.host.c_str())) {
        r.error = "cannot set TLS server name";
        co_return r;
      }
      if (verify) s.set_verify_callback(ssl::host_name_verification(u.host));
      auto [hec] = co_await s.async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        fail("TLS handshake failed", hec);
        r.tls_error = !r.timed_out;
        co_return r;
      }
    }
    auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
    if (wec) {
      fail("sending the request failed", wec);
      co_return r;
    }
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [rdec, rn] = co_await http::async_read(s, buf, parser, use_tuple);
    if (rdec) {
      fail(rdec == beast::error::timeout ? "no response within http_timeout" : "reading the response failed", rdec);
      co_return r;
    }
    auto& res = parser.get();
    r.status = static_cast<int>(res.result_int());
    r.body = std::move(res.body());
    if (auto it = res.find(http::field::retry_after); it != res.end()) r.retry_after = std::string(it->value());
    error_code ignored;
    tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
    co_return r;
  }

  asio::io_context& io;
  std::int64_t timeout_ms;
  bool verify;
  ssl::context tls;
  std::function<void()> close_current;
};

HttpClient::HttpClient(asio::io_context& io, const Config& cfg) : impl_(std::make_unique<Impl>(io, cfg)) {}
HttpClient::~HttpClient() = default;

ssl::context& HttpClient::tls() { return impl_->tls; }

void HttpClient::abort() {
  if (impl_->close_current) impl_->close_current();
}

asio::awaitable<HttpResult> HttpClient::send(const HttpRequest& in) {
  const Url& u = in.url;
  http::request<http::string_body> req{in.method == "POST" ? http::verb::post : http::verb::get, u.target, 11};
  req.set(http::field::host, host_header(u));
  req.set(http::field::user_agent, "cxflow-source-cxone");
  req.set(http::field::accept, "application/json");
  if (!in.authorization.empty()) req.set(http::field::authorization, in.authorization);
  if (in.method == "POST") {
    req.set(http::field::content_type, in.content_type);
    req.body() = in.body;
    req.prepare_payload();
  }
  if (u.tls()) {
    beast::ssl_stream<beast::tcp_stream> s(impl_->io, impl_->tls);
    co_return co_await impl_->exchange(s, u, req);
  }
  beast::tcp_stream s(impl_->io);
  co_return co_await impl_->exchange(s, u, req);
}

}  // namespace cxflow::cxone
