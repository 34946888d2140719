// Internal to the fake CXone (included only by its .cpp files, never by tests or plugins): the
// HTTP/TLS plumbing the seed-protocol fake (fake_cxone.cpp) and the Real-Time Data API fake
// (fake_rtd.cpp) share. Heavy Beast/Asio headers stay out of the public fake headers.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>

namespace cxflow::fake::detail {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::int64_t steady_ms();
// %XX and '+' decoding (form bodies and query strings).
std::string url_decode(std::string_view s);
// "a=1&b=2" -> {a:1, b:2}, decoded.
std::map<std::string, std::string> parse_form(std::string_view body);
// A JSON response with the request's HTTP version.
Response json_reply(int status, std::string body, const Request& req);
// Standard base64 encode/decode (decode returns "" for invalid input).
std::string base64_encode(std::string_view in);
std::string base64_decode(std::string_view in);

// Opens, binds (SO_REUSEADDR) and listens; returns the bound port.
unsigned short open_acceptor(tcp::acceptor& acceptor, const std::string& bind, unsigned short port);
// Loads a PEM certificate chain and private key into a server context.
void load_server_certificate(ssl::context& tls, const std::string& cert_file, const std::string& key_file);
// Runs io on a new thread, pinned to `cpu` when >= 0.
std::thread run_io_thread(asio::io_context& io, int cpu);

// The TCP socket under a plain or TLS stream.
template <class S>
tcp::socket& lowest(S& s) {
  if constexpr (std::is_same_v<S, tcp::socket>)
    return s;
  else
    return s.next_layer();
}

}  // namespace cxflow::fake::detail
