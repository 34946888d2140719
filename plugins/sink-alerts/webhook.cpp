// Beast/TLS templates stay in this file.
#include "webhook.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cxflow/time.hpp>

namespace cxflow::alerts {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

ParsedUrl parse_url(const std::string& url) {
  ParsedUrl u;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else {
    throw std::invalid_argument("expected an http:// or https:// URL");
  }
  const auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.target[0] == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string::npos)
    throw std::invalid_argument("credentials in the URL are not supported; use headers (e.g. Authorization) instead");
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("unterminated [IPv6] host");
    u.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') throw std::invalid_argument("unexpected text after the [IPv6] host");
      u.port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) u.port = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw std::invalid_argument("the URL has no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  const bool digits = std::all_of(u.port.begin(), u.port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || u.port.size() > 5 || std::stol(u.port) < 1 || std::stol(u.port) > 65535)
    throw std::invalid_argument("the port '" + u.port + "' is not a number from 1 to 65535");
  return u;
}

struct Webhook::Impl {
  struct Item {
    std::string body;
    std::string summary;
  };
  struct Response {
    int status = 0;
    std::int64_t retry_after_ms = -1;
  };

  Impl(const WebhookConfig& c, std::string n, WebhookCounters k, LogQueue& l, ParsedUrl u, std::string d)
      : cfg(c), name(std::move(n)), url(std::move(u)), display(std::move(d)), counters(k), logs(l) {}

  WebhookConfig cfg;
  std::string name;
  ParsedUrl url;
  std::string display;
  WebhookCounters counters;
  LogQueue& logs;

  // Declared before io: pending coroutine frames (holding TLS streams) die with io, before the context.
  std::unique_ptr<asio::ssl::context> tls;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;

  std::mutex mutex;
  std::condition_variable idle_cv;
  std::deque<Item> queue;
  bool busy = false;      // a drain coroutine is running
  std::string in_flight;  // summary of the notification being delivered
  bool started = false;

  void log(LogLevel level, std::string line) { logs.push(level, "webhook " + display + ": " + std::move(line)); }

  void enqueue(Item item) {
    std::lock_guard lock(mutex);
    if (static_cast<std::int64_t>(queue.size()) >= cfg.queue_size) {
      counters.dropped.add();
      log(LogLevel::Error, "queue full (" + std::to_string(cfg.queue_size) +
                               " notifications waiting); dropped the oldest, not delivered: " + queue.front().summary);
      queue.pop_front();
    }
    queue.push_back(std::move(item));
    if (!busy && started) {
      busy = true;
      asio::co_spawn(io, drain(), asio::detached);
    }
  }

  asio::awaitable<void> drain() {
    for (;;) {
      Item item;
      {
        std::lock_guard lock(mutex);
        if (queue.empty()) {
          busy = false;
          in_flight.clear();
          idle_cv.notify_all();
          co_return;
        }
        item = std::move(queue.front());
        queue.pop_front();
        in_flight = item.summary;
      }
      co_await deliver(item);
    }
  }

  asio::awaitable<void> deliver(const Item& item) {
    std::int64_t backoff_ms = cfg.retry_backoff.ms;
    asio::steady_timer timer(io);
    for (std::int64_t attempt = 0;; ++attempt) {
      Response res;
      std::string error;
      try {
        res = co_await post_once(item.body);
      } catch (const boost::system::system_error& e) {
        error =
            e.code() == beast::error::timeout ? "no answer within " + format_duration(cfg.timeout) : e.code().message();
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (error.empty() && res.status >= 200 && res.status < 300) {
        counters.sent.add();
        co_return;
      }
      const bool retryable = !error.empty() || res.status == 408 || res.status == 429 || res.status >= 500;
      const std::string what = error.empty() ? "HTTP " + std::to_string(res.status) : error;
      if (!retryable || attempt >= cfg.retries) {
        counters.failed.add();
        log(LogLevel::Error, "giving up after " + std::to_string(attempt + 1) + " attempt(s) (" + what +
                                 "), not delivered: " + item.summary);
        co_return;
      }
      std::int64_t wait_ms = backoff_ms;
      if (res.retry_after_ms >= 0) wait_ms = std::min(std::max(res.retry_after_ms, backoff_ms), cfg.max_backoff.ms);
      counters.retries.add();
      log(LogLevel::Warn, what + "; retry " + std::to_string(attempt + 1) + "/" + std::to_string(cfg.retries) + " in " +
                              format_duration(Duration{wait_ms}));
      timer.expires_after(std::chrono::milliseconds(wait_ms));
      co_await timer.async_wait(use_awaitable);
      backoff_ms = std::min(backoff_ms * 2, cfg.max_backoff.ms);
    }
  }

  http::request<http::string_body> make_request(const std::string& body) const {
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    const bool default_port = url.port == (url.tls ? "443" : "80");
    const bool v6 = url.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + url.host + "]" : url.host;
    req.set(http::field::host, default_port ? host : host + ":" + url.port);
    req.set(http::field::user_agent, "cxflow-sink-alerts/1.0");
    req.set(http::field::content_type, "application/json");
    for (const auto& [k, v] : cfg.headers) req.set(k, v);
    req.keep_alive(false);
    req.body() = body;
    req.prepare_payload();
    return req;
  }

  static Response response_of(const http::response<http::string_body>& r) {
    Response out;
    out.status = static_cast<int>(r.result_int());
    auto it = r.find(http::field::retry_after);
    if (it != r.end()) {
      const auto now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      if (auto ms = parse_retry_after_ms(std::string_view(it->value().data(), it->value().size()), now_ms))
        out.retry_after_ms = *ms;
    }
    return out;
  }

  // One attempt; the timeout covers connect, TLS handshake, request and response.
  asio::awaitable<Response> post_once(const std::string& body) {
    tcp::resolver resolver(io);
    const auto endpoints = co_await resolver.async_resolve(url.host, url.port, use_awaitable);
    auto req = make_request(body);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    const auto timeout = std::chrono::milliseconds(cfg.timeout.ms);
    if (!url.tls) {
      beast::tcp_stream stream(io);
      stream.expires_after(timeout);
      co_await stream.async_connect(endpoints, use_awaitable);
      co_await http::async_write(stream, req, use_awaitable);
      co_await http::async_read(stream, buffer, res, use_awaitable);
      boost::system::error_code ec;
      stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    } else {
      beast::ssl_stream<beast::tcp_stream> stream(io, *tls);
      boost::system::error_code ec;
      (void)asio::ip::make_address(url.host, ec);
      const bool is_ip = !ec;
      if (!is_ip) SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
      if (cfg.tls_verify) stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
      beast::get_lowest_layer(stream).expires_after(timeout);
      co_await beast::get_lowest_layer(stream).async_connect(endpoints, use_awaitable);
      co_await stream.async_handshake(asio::ssl::stream_base::client, use_awaitable);
      co_await http::async_write(stream, req, use_awaitable);
      co_await http::async_read(stream, buffer, res, use_awaitable);
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
    }
    co_return response_of(res);
  }
};

Webhook::Webhook(const WebhookConfig& cfg, std::string name, WebhookCounters counters, LogQueue& logs) {
  ParsedUrl u = parse_url(cfg.url);
  const bool v6 = u.host.find(':') != std::string::npos;
  display_ = std::string(u.tls ? "https://" : "http://") + (v6 ? "[" + u.host + "]" : u.host) + ":" + u.port;
  impl_ = std::make_unique<Impl>(cfg, std::move(name), counters, logs, std::move(u), display_);
}

Webhook::~Webhook() { stop(); }

void Webhook::start() {
  auto& i = *impl_;
  if (i.url.tls) {
    i.tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    if (i.cfg.tls_verify) {
      i.tls->set_verify_mode(asio::ssl::verify_peer);
      if (!i.cfg.ca_file.empty()) {
        boost::system::error_code ec;
        i.tls->load_verify_file(i.cfg.ca_file, ec);
        if (ec)
          throw std::runtime_error("webhook " + display_ + ": cannot load ca_file '" + i.cfg.ca_file +
                                   "': " + ec.message());
      } else {
        i.tls->set_default_verify_paths();
      }
    } else {
      i.tls->set_verify_mode(asio::ssl::verify_none);
    }
  }
  i.work.emplace(i.io.get_executor());
  i.thread = std::thread([&i] {
    for (;;) {
      try {
        i.io.run();
        return;
      } catch (const std::exception& e) {
        i.log(LogLevel::Error, std::string("delivery thread: ") + e.what());
      }
    }
  });
  std::lock_guard lock(i.mutex);
  i.started = true;
  if (!i.queue.empty() && !i.busy) {
    i.busy = true;
    asio::co_spawn(i.io, i.drain(), asio::detached);
  }
}

void Webhook::enqueue(std::string body, std::string summary) { impl_->enqueue({std::move(body), std::move(summary)}); }

void Webhook::stop() {
  if (!impl_) return;
  auto& i = *impl_;
  if (i.thread.joinable()) {
    {
      std::unique_lock lock(i.mutex);
      i.idle_cv.wait_for(lock, std::chrono::milliseconds(i.cfg.drain_timeout.ms), [&] { return !i.busy; });
    }
    i.work.reset();
    i.io.stop();
    i.thread.join();
  }
  std::lock_guard lock(i.mutex);
  std::size_t lost = i.queue.size() + (i.busy && !i.in_flight.empty() ? 1 : 0);
  if (lost > 0) {
    i.counters.failed.add(lost);
    std::string what = i.busy && !i.in_flight.empty() ? i.in_flight : i.queue.front().summary;
    i.log(LogLevel::Error, std::to_string(lost) + " notification(s) not delivered within drain_timeout " +
                               format_duration(i.cfg.drain_timeout) + " at shutdown, first: " + what);
  }
  i.queue.clear();
  i.busy = false;
  i.started = false;
}

}  // namespace cxflow::alerts
