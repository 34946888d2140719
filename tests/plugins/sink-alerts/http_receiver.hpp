// A local HTTP/HTTPS receiver for webhook tests: binds 127.0.0.1 (port 0 = any free port),
// records every request in arrival order and answers as a policy says (status, Retry-After, or
// hold the answer until the test releases it). One thread per connection, so a held request
// does not stop others from being accepted.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace cxflow::test {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int answered = 0;  // status answered, 0 = none (held and never released, or the client went away)
};

struct Reply {
  Reply(int status_ = 200, bool hold_ = false, std::string retry_after_ = "")  // NOLINT: implicit from a status
      : status(status_), hold(hold_), retry_after(std::move(retry_after_)) {}
  int status = 200;
  bool hold = false;        // wait for release() (or stop()) before answering
  std::string retry_after;  // Retry-After header value, "" = none
};

// index: 0-based arrival number of the request.
using ReplyPolicy = std::function<Reply(std::size_t index, const ReceivedRequest& request)>;

struct TlsFiles {
  std::string cert_file;
  std::string key_file;
};

// A self-signed certificate (EC P-256) for localhost and 127.0.0.1, made at test time.
TlsFiles make_test_certificate(const std::filesystem::path& dir,
                               const std::string& subject_alt_names = "DNS:localhost,IP:127.0.0.1");

class HttpReceiver {
 public:
  explicit HttpReceiver(ReplyPolicy policy = {}, std::optional<TlsFiles> tls = std::nullopt, unsigned short port = 0);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  unsigned short port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  std::vector<ReceivedRequest> requests() const;
  std::size_t count() const;
  // Bodies of the requests answered with 2xx, in order.
  std::vector<std::string> delivered() const;
  // Lets every held request (and every future one) answer.
  void release();
  // Stops accepting, closes every connection, joins the threads. Idempotent.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  unsigned short port_ = 0;
};

}  // namespace cxflow::test
