#include "http_receiver.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace cxflow::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

TlsFiles make_test_certificate(const std::filesystem::path& dir, const std::string& subject_alt_names) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_names.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) throw std::runtime_error("X509V3_EXT_conf_nid failed");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(x, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
  TlsFiles files{(dir / "cert.pem").string(), (dir / "key.pem").string()};
  FILE* f = std::fopen(files.cert_file.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(files.key_file.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return files;
}

struct HttpReceiver::Impl {
  ReplyPolicy policy;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::unique_ptr<asio::ssl::context> tls;
  std::thread accept_thread;

  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<ReceivedRequest> requests;
  std::vector<std::thread> connections;
  std::vector<int> fds;
  bool released = false;
  bool stopping = false;

  template <class Stream>
  void serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      ReceivedRequest r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& field : req) {
        std::string n(field.name_string());
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
        r.headers[n] = std::string(field.value());
      }
      r.body = req.body();
      std::size_t index;
      {
        std::lock_guard lock(mutex);
        index = requests.size();
        requests.push_back(r);
      }
      const Reply reply = policy ? policy(index, r) : Reply{};
      if (reply.hold) {
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return released || stopping; });
        if (stopping) return;
      }
      http::response<http::string_body> res{static_cast<http::status>(reply.status), req.version()};
      res.set(http::field::content_type, "text/plain");
      if (!reply.retry_after.empty()) res.set(http::field::retry_after, reply.retry_after);
      res.body() = "status " + std::to_string(reply.status);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(stream, res, ec);
      if (ec) return;
      {
        std::lock_guard lock(mutex);
        requests[index].answered = reply.status;
      }
      if (!req.keep_alive()) return;
    }
  }

  void connection(tcp::socket socket) {
    if (tls) {
      asio::ssl::stream<tcp::socket&> stream(socket, *tls);
      beast::error_code ec;
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (!ec) serve(stream);
    } else {
      serve(socket);
    }
    // Forget the fd before closing it, so stop() never shuts down a reused descriptor.
    std::lock_guard lock(mutex);
    fds.erase(std::remove(fds.begin(), fds.end(), socket.native_handle()), fds.end());
    beast::error_code ec;
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  void accept_loop() {
    for (;;) {
      tcp::socket socket(io);
      beast::error_code ec;
      acceptor.accept(socket, ec);
      std::lock_guard lock(mutex);
      if (stopping) return;
      if (ec) continue;
      fds.push_back(socket.native_handle());
      connections.emplace_back([this, s = std::move(socket)]() mutable { connection(std::move(s)); });
    }
  }
};

HttpReceiver::HttpReceiver(ReplyPolicy policy, std::optional<TlsFiles> tls, unsigned short port)
    : impl_(std::make_unique<Impl>()) {
  impl_->policy = std::move(policy);
  if (tls) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain_file(tls->cert_file);
    impl_->tls->use_private_key_file(tls->key_file, asio::ssl::context::pem);
  }
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
}

HttpReceiver::~HttpReceiver() { stop(); }

std::string HttpReceiver::url(const std::string& path) const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<ReceivedRequest> HttpReceiver::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t HttpReceiver::count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

std::vector<std::string> HttpReceiver::delivered() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> out;
  for (const auto& r : impl_->requests)
    if (r.answered >= 200 && r.answered < 300) out.push_back(r.body);
  return out;
}

void HttpReceiver::release() {
  std::lock_guard lock(impl_->mutex);
  impl_->released = true;
  impl_->cv.notify_all();
}

void HttpReceiver::stop() {
  if (!impl_->accept_thread.joinable()) return;
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->cv.notify_all();
    // shutdown() wakes a thread blocked in accept() or read() on Linux.
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
  }
  impl_->accept_thread.join();
  {
    std::lock_guard lock(impl_->mutex);
    threads = std::move(impl_->connections);
  }
  for (auto& t : threads) t.join();
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace cxflow::test
