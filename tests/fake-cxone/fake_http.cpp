// Shared HTTP/TLS plumbing of the fake CXone (see fake_http.hpp).
#include "fake_http.hpp"

#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>

#include <chrono>

namespace cxflow::fake::detail {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+')
      out += ' ';
    else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else
      out += s[i];
  }
  return out;
}

std::map<std::string, std::string> parse_form(std::string_view body) {
  std::map<std::string, std::string> m;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view kv = body.substr(0, amp);
    const auto eq = kv.find('=');
    m[url_decode(kv.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return m;
}

Response json_reply(int status, std::string body, const Request& req) {
  Response res{static_cast<http::status>(status), req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return {};
  std::string out(3 * in.size() / 4 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) --len;  // EVP_DecodeBlock keeps padding bytes
  out.resize(len);
  return out;
}

unsigned short open_acceptor(tcp::acceptor& acceptor, const std::string& bind, unsigned short port) {
  const tcp::endpoint ep(asio::ip::make_address(bind), port);
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen();
  return acceptor.local_endpoint().port();
}

void load_server_certificate(ssl::context& tls, const std::string& cert_file, const std::string& key_file) {
  tls.use_certificate_chain_file(cert_file);
  tls.use_private_key_file(key_file, ssl::context::pem);
}

std::thread run_io_thread(asio::io_context& io, int cpu) {
  return std::thread([&io, cpu] {
    if (cpu >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cpu, &set);
      pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    io.run();
  });
}

}  // namespace cxflow::fake::detail
