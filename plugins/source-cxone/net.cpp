// source-cxone network side: token, subscription and WebSocket on the source's own
// io_context + thread (Boost.Asio/Beast, OpenSSL), with C++20 coroutines. Beast does the HTTP
// requests and the upgrade; the WebSocket frames are read and written here (ws_frames.hpp), 64 KiB
// per read and parsed in place. Nothing here touches the
// strand directly: logs, failures and batches reach it through NetHooks (ctx.post).
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include "http.hpp"
#include "internal.hpp"
#include "io_thread.hpp"
#include "ws_frames.hpp"

namespace cxflow::cxone {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// stop(): how long the close handshake (our 1001 "going away", the server's answer) may take
// before the connection is torn down anyway.
constexpr std::int64_t kStopCloseTimeoutMs = 1000;

std::vector<std::string> split_scopes(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Why one connection cycle ended.
struct Outcome {
  Cause cause = Cause::network;
  std::string what;
  std::optional<std::int64_t> retry_after_ms;
  bool fatal = false;
  bool unauthorized = false;  // 401: a fresh token may fix it
  bool healthy = false;       // the connection stayed up long enough to reset the backoff
  bool stopped = false;
  bool ended = false;  // the server ended the stream (close 1000 with end_on_close)
};

Outcome stopped_outcome() {
  Outcome o;
  o.stopped = true;
  return o;
}

// One live WebSocket connection: the stream, its write queue (subscribe, pongs, pings, close),
// and the state its keepalive coroutine shares with the reader.
template <class S>
struct Conn {
  Conn(asio::io_context& io, std::shared_ptr<S> stream) : s(std::move(stream)), ping_timer(io), close_timer(io) {}
  std::shared_ptr<S> s;
  asio::steady_timer ping_timer;
  asio::steady_timer close_timer;  // bounds a close handshake
  std::string outbox;              // masked frames not written yet
  bool writing = false;
  bool open = true;
  bool dead = false;     // keepalive timed out
  bool waiting = false;  // the reader is paused (backpressure or a full hand-off)
  bool closing = false;  // our close frame is queued; what arrives now is discarded
  std::uint64_t pause_gen = 0;
  std::int64_t last_rx_ms = 0;
  void close_socket() {
    error_code ignored;
    beast::get_lowest_layer(*s).socket().close(ignored);
  }
};

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr unsigned kOpClose = 0x8, kOpPing = 0x9, kOpPong = 0xA;
constexpr std::size_t kReadChunk = 64 * 1024;

// A client frame's masking key: unpredictable, as RFC 6455 10.3 asks (a guessable key lets a page
// poison an intermediary's cache). Only the few frames we send (subscribe, pongs, pings, close).
std::uint32_t mask_key() {
  std::uint32_t k = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&k), sizeof k) != 1) k = std::random_device{}();
  return k;
}

// Sec-WebSocket-Key (16 random bytes) and the Sec-WebSocket-Accept the server must answer it with.
std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}
std::string make_websocket_key() {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::random_device rd;
    for (auto& b : raw) b = static_cast<unsigned char>(rd());
  }
  return base64(raw, sizeof raw);
}
std::string websocket_accept_for(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return base64(digest, SHA_DIGEST_LENGTH);
}

class NetImpl final : public IoThreadNetwork {
 public:
  NetImpl(const Config& cfg, Counters& counters, std::shared_ptr<Handoff> handoff, NetHooks hooks)
      : IoThreadNetwork(cfg, std::move(handoff), std::move(hooks)),
        c_(counters),
        backoff_(cfg.backoff_initial.ms, cfg.backoff_max.ms, std::random_device{}()) {
    std::string err;
    token_url_ = *parse_url(effective_token_url(cfg_), &err);
    sub_url_ = *parse_url(effective_subscription_url(cfg_), &err);
    events_url_ = *parse_url(effective_events_url(cfg_), &err);
    if (!cfg_.tls_verify) {
      if (token_url_.tls() || sub_url_.tls() || events_url_.tls())
        hooks_.log(LogLevel::Warn,
                   "tls_verify is false: server certificates are NOT verified; anyone on the network path can read "
                   "the client secret and the event stream. Use ca_file for a private CA instead");
    }
  }

  ~NetImpl() override { stop(); }

  void take_pending(std::vector<Event>&, RawFrames& raw) override { raw = std::exchange(current_, {}); }

 private:
  // ---- main loop ----
  asio::awaitable<void> run() override {
    try {
      std::int64_t attempt = 0;
      for (;;) {
        if (stopping_) break;
        Outcome o = co_await cycle();
        if (stopping_ || o.stopped) break;
        if (o.ended) {
          hooks_.log(LogLevel::Info, o.what + "; end_on_close: the stream has ended");
          hooks_.ended();
          break;
        }
        if (o.fatal) {
          hooks_.fail(o.what);
          break;
        }
        if (o.healthy) attempt = 0;
        ++attempt;
        c_.reconnects.add();
        c_.reconnects_by[static_cast<int>(o.cause)]->add();
        if (o.cause == Cause::http_error) c_.http_retries.add();
        if (cfg_.max_reconnect_attempts > 0 && attempt > cfg_.max_reconnect_attempts) {
          hooks_.fail("giving up after " + std::to_string(cfg_.max_reconnect_attempts) +
                      " consecutive failed reconnect attempts (max_reconnect_attempts); last error: " + o.what);
          break;
        }
        const std::int64_t delay = o.retry_after_ms ? *o.retry_after_ms : backoff_.delay_ms(attempt);
        hooks_.log(LogLevel::Warn,
                   o.what + "; next attempt in " + format_delay(delay) + " (attempt " + std::to_string(attempt) +
                       (cfg_.max_reconnect_attempts > 0 ? " of " + std::to_string(cfg_.max_reconnect_attempts) : "") +
                       (o.retry_after_ms ? ", as the server's Retry-After asks" : ", backoff with jitter") + ")");
        sleep_timer_.expires_after(std::chrono::milliseconds(delay));
        co_await sleep_timer_.async_wait(use_tuple);
      }
    } catch (const std::exception& e) {
      hooks_.fail(std::string("source-cxone network thread: ") + e.what());
    }
  }

  // One attempt: token (cached), subscription (cached id), WebSocket until it ends.
  asio::awaitable<Outcome> cycle() {
    bool retried_401 = false;
    for (;;) {
      Outcome o;
      if (!co_await ensure_token(o)) co_return o;
      if (sub_id_.empty() && !co_await subscribe(o)) {
        if (o.unauthorized && !retried_401) {
          retried_401 = true;
          token_.clear();
          continue;
        }
        co_return o;
      }
      if (stopping_) co_return stopped_outcome();
      if (events_url_.tls())
        o = co_await websocket_session<TlsStream>();
      else
        o = co_await websocket_session<PlainStream>();
      if (o.unauthorized && !retried_401) {
        retried_401 = true;
        token_.clear();
        continue;
      }
      if (o.unauthorized) token_.clear();
      co_return o;
    }
  }

  // ---- HTTP (http.cpp) ----
  asio::awaitable<HttpResult> post(const Url& u, const std::string& content_type, std::string body,
                                   const std::string* bearer) {
    if (stopping_) {
      HttpResult r;
      r.error = "stopping";
      co_return r;
    }
    HttpRequest req;
    req.method = "POST";
    req.url = u;
    req.content_type = content_type;
    req.body = std::move(body);
    if (bearer) req.authorization = "Bearer " + *bearer;
    co_return co_await http_.send(req);
  }

  // Fills `o` for a non-success status or a transport error.
  void classify_http(const std::string& what, const HttpResult& r, Outcome& o) {
    o.cause = r.tls_error ? Cause::tls : Cause::http_error;
    if (r.status == 0) {
      o.what = what + ": " + r.error;
      return;
    }
    o.what = what + ": HTTP " + std::to_string(r.status);
    const std::string msg = server_message(r.body);
    if (!msg.empty()) o.what += " (" + msg + ")";
    if (r.status == 429 || r.status == 503) o.retry_after_ms = parse_retry_after_ms(r.retry_after, wall_now_ms());
    if (r.status == 401) o.unauthorized = true;
    if (r.status == 403) {
      o.fatal = true;
      o.what = what + ": HTTP 403 Forbidden: " + missing_scopes_text() + (msg.empty() ? "" : " Server said: " + msg);
    } else if (r.status >= 400 && r.status < 500 && r.status != 401 && r.status != 408 && r.status != 429) {
      o.fatal = true;
    }
  }

  std::string missing_scopes_text() const {
    std::string req;
    for (const auto& s : cfg_.scopes) req += (req.empty() ? "" : " ") + s;
    if (!granted_scope_) {
      return "the OAuth client lacks a required scope; this pipeline requests '" + req +
             "'. Add the missing scopes to the OAuth client in the CXone Admin Portal (key 'scopes').";
    }
    const auto granted = split_scopes(*granted_scope_);
    std::string missing;
    for (const auto& s : cfg_.scopes)
      if (std::find(granted.begin(), granted.end(), s) == granted.end()) missing += (missing.empty() ? "" : " ") + s;
    if (missing.empty())
      return "the token grants every requested scope ('" + req +
             "') but the server still refuses; the tenant may restrict this operation or need more scopes.";
    return "missing OAuth scopes '" + missing + "' (requested '" + req + "', the token endpoint granted '" +
           *granted_scope_ + "'). Add them to the OAuth client in the CXone Admin Portal.";
  }

  asio::awaitable<bool> ensure_token(Outcome& o) {
    const std::int64_t now = steady_now_ms();
    if (!token_.empty() && now < token_expires_ms_ - cfg_.token_refresh_margin.ms) co_return true;
    token_.clear();
    std::string scope;
    for (const auto& s : cfg_.scopes) scope += (scope.empty() ? "" : " ") + s;
    const std::string body = "grant_type=client_credentials&client_id=" + form_encode(cfg_.client_id) +
                             "&client_secret=" + form_encode(cfg_.client_secret.reveal()) +
                             "&scope=" + form_encode(scope);
    c_.token_requests.add();
    const HttpResult r = co_await post(token_url_, "application/x-www-form-urlencoded", body, nullptr);
    const std::string what = "POST " + token_url_.str();
    if (r.status != 200) {
      classify_http(what, r, o);
      if (r.status == 400 || r.status == 401) {
        o.fatal = true;
        o.what = what + ": HTTP " + std::to_string(r.status) +
                 ": the token endpoint rejected the client credentials (check client_id and client_secret)" +
                 (r.body.empty() ? "" : "; server said: " + server_message(r.body));
      }
      co_return false;
    }
    std::string err;
    auto t = parse_token_response(r.body, err);
    if (!t) {
      o.cause = Cause::http_error;
      o.what = what + ": " + err;
      co_return false;
    }
    token_ = t->access_token;
    token_expires_ms_ = steady_now_ms() + t->expires_in_s * 1000;
    if (t->scope) granted_scope_ = t->scope;
    co_return true;
  }

  asio::awaitable<bool> subscribe(Outcome& o) {
    std::string fields;
    for (const auto& f : cfg_.requested_fields) fields += (fields.empty() ? "" : ",") + json_quote(f);
    const std::string filters =
        cfg_.filters.is_null() ? std::string("{\"status\":\"active\"}") : config_to_json(cfg_.filters);
    const std::string body = "{\"subscriptionName\":" + json_quote(cfg_.subscription_name) +
                             ",\"eventType\":" + json_quote(cfg_.event_type) + ",\"filters\":" + filters +
                             ",\"requestedFields\":[" + fields + "]}";
    const HttpResult r = co_await post(sub_url_, "application/json", body, &token_);
    const std::string what = "POST " + sub_url_.str();
    if (r.status != 200 && r.status != 201) {
      classify_http(what, r, o);
      if (r.status == 422)
        o.what = what +
                 ": HTTP 422: the server rejected the subscription (subscription_name, event_type, filters, "
                 "requested_fields): " +
                 server_message(r.body);
      co_return false;
    }
    std::string err;
    auto id = parse_subscription_id(r.body, err);
    if (!id) {
      o.cause = Cause::http_error;
      o.what = what + ": " + err;
      co_return false;
    }
    sub_id_ = *id;
    c_.subscriptions.add();
    hooks_.log(LogLevel::Info, "subscription '" + cfg_.subscription_name + "' created: id " + sub_id_);
    co_return true;
  }

  // ---- WebSocket ----
  template <class S>
  asio::awaitable<Outcome> websocket_session() {
    Outcome o;
    if (stopping_) co_return stopped_outcome();
    const Url& u = events_url_;
    const std::string what = "WebSocket " + u.str();
    std::shared_ptr<S> s;
    if constexpr (std::is_same_v<S, TlsStream>)
      s = std::make_shared<S>(io_, http_.tls());
    else
      s = std::make_shared<S>(io_);
    auto& tcp_layer = beast::get_lowest_layer(*s);
    auto c = std::make_shared<Conn<S>>(io_, s);
    close_current_ = [c] { c->close_socket(); };
    struct Clear {
      std::function<void()>& f;
      std::shared_ptr<Conn<S>> c;
      ~Clear() {
        f = nullptr;
        c->open = false;
        c->ping_timer.cancel();
        c->close_timer.cancel();
      }
    } clear{close_current_, c};

    tcp::resolver resolver(io_);
    auto [rec, results] = co_await resolver.async_resolve(u.host, u.port, use_tuple);
    if (rec) {
      o.what = what + ": cannot resolve " + u.host + ": " + rec.message();
      co_return o;
    }
    tcp_layer.expires_after(std::chrono::milliseconds(cfg_.handshake_timeout.ms));
    auto [cec, ep] = co_await tcp_layer.async_connect(results, use_tuple);
    if (cec) {
      o.what = what + ": cannot connect: " + cec.message();
      co_return o;
    }
    if constexpr (std::is_same_v<S, TlsStream>) {
      SSL_set_tlsext_host_name(s->native_handle(), u.host.c_str());
      if (cfg_.tls_verify) s->set_verify_callback(ssl::host_name_verification(u.host));
      auto [hec] = co_await s->async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        o.cause = Cause::tls;
        o.what = what + ": TLS handshake failed: " + hec.message();
        co_return o;
      }
    }
    RxBuffer rx(kReadChunk, JsonEventDecoder::kPadding);
    tcp_layer.expires_after(std::chrono::milliseconds(cfg_.handshake_timeout.ms));
    if (!co_await upgrade(*s, rx, what, o)) co_return o;
    tcp_layer.expires_never();
    error_code nbec;
    tcp_layer.socket().non_blocking(true, nbec);  // read_loop reads what is there, then waits

    std::string events;
    for (const auto& e : cfg_.stream_events) events += (events.empty() ? "" : ",") + json_quote(e);
    const std::string sub = "{\"type\":\"subscribe\",\"subscriptionId\":" + json_quote(sub_id_) + ",\"events\":[" +
                            events + "],\"format\":" + json_quote(cfg_.stream_format) + "}";
    std::string frame;
    append_client_frame(frame, 0x1, sub, mask_key());
    auto [sec, sn] = co_await asio::async_write(*s, asio::buffer(frame), use_tuple);
    if (sec) {
      o.what = what + ": sending the subscribe message failed: " + sec.message();
      co_return o;
    }
    // stop() while connecting closes the socket without a close frame (there is no session yet).
    if (stopping_) co_return stopped_outcome();
    const std::int64_t connected_at = steady_now_ms();
    c->last_rx_ms = connected_at;
    c_.connections.add();
    // From now on stop() closes with a close frame, so the server sees an orderly close: from here
    // while a read waits, or from the reader when it sees stopping_ first.
    close_current_ = [this, c] { start_close(c, close_payload(1001, "going away"), kStopCloseTimeoutMs); };
    hooks_.log(LogLevel::Info, "connected to " + u.str() + " (subscription " + sub_id_ + ")");
    if (cfg_.ping_interval.ms > 0 && cfg_.ping_timeout.ms > 0) asio::co_spawn(io_, keepalive(c), asio::detached);

    o = co_await read_loop(c, rx, what);
    o.healthy = steady_now_ms() - connected_at >= cfg_.backoff_reset_after.ms;
    co_return o;
  }

  // The HTTP upgrade (RFC 6455 4.1): Beast writes the request and parses the answer; bytes after
  // the 101 answer (frames the server sent at once) go to `rx`. False with `o` filled on failure.
  template <class S>
  asio::awaitable<bool> upgrade(S& s, RxBuffer& rx, const std::string& what, Outcome& o) {
    const Url& u = events_url_;
    const std::string key = make_websocket_key();
    http::request<http::empty_body> req{http::verb::get, u.target, 11};
    req.set(http::field::host, host_header(u));
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, key);
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::authorization, "Bearer " + token_);
    req.set(http::field::user_agent, "cxflow-source-cxone");
    auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
    if (wec) {
      o.what = what + ": WebSocket handshake failed: " + wec.message();
      co_return false;
    }
    beast::flat_buffer hb;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024);
    auto [rec, rn] = co_await http::async_read(s, hb, parser, use_tuple);
    if (rec && !parser.is_header_done()) {
      o.what = what + ": WebSocket handshake failed: " + rec.message();
      co_return false;
    }
    const auto& res = parser.get();
    if (res.result() != http::status::switching_protocols) {
      HttpResult r;
      r.status = static_cast<int>(res.result_int());
      r.body = res.body();
      if (auto it = res.find(http::field::retry_after); it != res.end()) r.retry_after = std::string(it->value());
      classify_http(what + " (upgrade)", r, o);
      co_return false;
    }
    if (!beast::iequals(res[http::field::upgrade], "websocket") ||
        res[http::field::sec_websocket_accept] != websocket_accept_for(key)) {
      o.what = what +
               ": WebSocket handshake failed: the 101 answer lacks 'Upgrade: websocket' or the right "
               "Sec-WebSocket-Accept";
      co_return false;
    }
    const auto rest = hb.data();
    std::size_t room = 0;
    char* p = rx.prepare(rest.size(), room);
    std::memcpy(p, rest.data(), rest.size());
    rx.commit(rest.size());
    co_return true;
  }

  // Queues a masked frame; one writer coroutine per connection drains the queue.
  template <class S>
  void send_frame(const std::shared_ptr<Conn<S>>& c, unsigned opcode, std::string_view payload) {
    if (!c->open) return;
    append_client_frame(c->outbox, opcode, payload, mask_key());
    if (c->writing) return;
    c->writing = true;
    asio::co_spawn(io_, write_out(c), asio::detached);
  }

  template <class S>
  asio::awaitable<void> write_out(std::shared_ptr<Conn<S>> c) {
    while (!c->outbox.empty() && c->open) {
      const std::string out = std::exchange(c->outbox, {});
      auto [ec, n] = co_await asio::async_write(*c->s, asio::buffer(out), use_tuple);
      if (ec) break;  // the reader sees the broken connection
    }
    c->outbox.clear();
    c->writing = false;
  }

  // Sends our close frame once (`payload`: code and reason, or empty) and bounds the handshake:
  // after `timeout_ms` the socket is closed, which ends the reader's drain (read_loop) in any case.
  template <class S>
  void start_close(const std::shared_ptr<Conn<S>>& c, std::string_view payload, std::int64_t timeout_ms) {
    if (c->closing) return;
    c->closing = true;
    send_frame(c, kOpClose, payload);
    c->close_timer.expires_after(
        std::chrono::milliseconds(std::min<std::int64_t>(cfg_.handshake_timeout.ms, timeout_ms)));
    c->close_timer.async_wait([c](error_code ec) {
      if (!ec) c->close_socket();
    });
  }

  // After a close frame went out (ours, or our answer to the server's): reads and discards until
  // the server closes the connection or the close timer does.
  template <class S>
  asio::awaitable<void> drain_until_closed(const std::shared_ptr<Conn<S>>& c, RxBuffer& rx) {
    for (;;) {
      rx.consume(rx.size());
      std::size_t room = 0;
      char* p = rx.prepare(0, room);
      auto [ec, n] = co_await c->s->async_read_some(asio::buffer(p, room), use_tuple);
      if (ec) break;
    }
    c->close_timer.cancel();
    c->close_socket();
  }

  // Frames in, events out, until the connection ends. Gates: never parse or read while the
  // pipeline is full (block) or while both the hand-off slot and the batch being filled are full.
  template <class S>
  asio::awaitable<Outcome> read_loop(std::shared_ptr<Conn<S>> c, RxBuffer& rx, const std::string& what) {
    Conn<S>& st = *c;
    Outcome o;
    WsReader reader(cfg_.max_message_size.bytes, JsonEventDecoder::kPadding);
    const std::size_t batch_size = static_cast<std::size_t>(cfg_.batch_size);
    const bool block = cfg_.when_full == WhenFull::block;
    std::size_t need = 0;  // bytes the next frame needs in all
    // frames_received is tallied here and published once per read, before waiting at the gate,
    // and when the reader ends however it ends (an atomic add per frame costs more).
    std::uint64_t frames = 0;
    struct PublishAtExit {
      Counter& counter;
      std::uint64_t& n;
      ~PublishAtExit() { counter.add(n); }
    } publish_at_exit{c_.frames, frames};
    for (;;) {
      // Everything complete in the buffer, frame by frame.
      for (;;) {
        if (stopping_) {
          start_close(c, close_payload(1001, "going away"), kStopCloseTimeoutMs);
          co_await drain_until_closed(c, rx);
          co_return stopped_outcome();
        }
        if (current_.size() >= batch_size) hand_off();
        if (block && (h_->paused.load(std::memory_order_relaxed) || current_.size() >= batch_size)) {
          c_.frames.add(std::exchange(frames, 0));
          hand_off();  // the slot may be free while we wait
          if (!st.waiting) {
            st.waiting = true;
            ++st.pause_gen;
          }
          gate_.expires_at(asio::steady_timer::time_point::max());
          co_await gate_.async_wait(use_tuple);
          continue;
        }
        if (st.waiting) {
          st.waiting = false;
          ++st.pause_gen;
          st.last_rx_ms = steady_now_ms();  // the keepalive restarts after a pause
        }
        std::size_t used = 0;
        const WsReader::Item item = reader.next(rx.data(), used);
        if (item.kind == WsReader::Kind::need_more) {
          rx.consume(used);
          need = item.need;
          c_.frames.add(std::exchange(frames, 0));
          break;
        }
        switch (item.kind) {
          case WsReader::Kind::message:
            ++frames;
            if (!block && current_.size() >= batch_size) {
              // drop_newest: the batch being filled is full and the slot is taken; dropped undecoded.
              c_.dropped_full.add();
            } else {
              current_.add(item.payload);
            }
            break;
          case WsReader::Kind::ping:
            send_frame(c, kOpPong, item.payload);
            break;
          case WsReader::Kind::close:
            server_closed(item, what, o);
            // Answer with the server's code (none when it sent none), then wait for it to hang up.
            start_close(c, item.close_code == 1005 ? std::string() : close_payload(item.close_code, ""),
                        cfg_.handshake_timeout.ms);
            co_await drain_until_closed(c, rx);
            if (stopping_) co_return stopped_outcome();
            co_return o;
          case WsReader::Kind::too_big:
            c_.too_large.add();
            o.cause = Cause::message_too_large;
            o.what = what + ": a message exceeded max_message_size " + format_size(cfg_.max_message_size) +
                     "; closed with 1009";
            start_close(c, close_payload(1009, "message too big"), cfg_.handshake_timeout.ms);
            co_await drain_until_closed(c, rx);
            co_return o;
          case WsReader::Kind::protocol_error:
            o.cause = Cause::protocol;
            o.what = what + ": protocol error: the server sent " + item.error + "; closed with 1002";
            start_close(c, close_payload(1002, "protocol error"), cfg_.handshake_timeout.ms);
            co_await drain_until_closed(c, rx);
            co_return o;
          case WsReader::Kind::pong:
          case WsReader::Kind::need_more:
            break;
        }
        rx.consume(used);
      }
      // Nothing complete is buffered: read what the socket (and TLS) holds now, without waiting.
      // Only when nothing is there does the batch go to the pipeline and the reader wait for the
      // socket: a sender faster than the pipeline fills whole batches, a slow one gets each event
      // handed off as it arrives; and a busy stream costs one recvmsg per TLS record, without a
      // trip through the io_context.
      std::size_t room = 0;
      char* p = rx.prepare(need, room);
      error_code ec;
      const std::size_t n = st.s->read_some(asio::buffer(p, room), ec);
      if (ec == asio::error::would_block) {
        hand_off();
        auto [wec] = co_await beast::get_lowest_layer(*st.s).socket().async_wait(tcp::socket::wait_read, use_tuple);
        ec = wec;
        if (!ec) continue;
      }
      if (ec) {
        if (stopping_) co_return stopped_outcome();
        if (st.dead) {
          o.cause = Cause::ping_timeout;
          o.what = what + ": no data or pong for " + format_duration(cfg_.ping_timeout) + " after a ping (dead peer)";
        } else {
          o.cause = Cause::network;
          o.what = what + ": connection lost: " + ec.message();
        }
        co_return o;
      }
      rx.commit(n);
      c_.bytes.add(n);
      st.last_rx_ms = steady_now_ms();
    }
  }

  // A close frame from the server: why, and what to do next.
  void server_closed(const WsReader::Item& item, const std::string& what, Outcome& o) {
    const int code = item.close_code;
    o.what = what + ": server closed the connection with code " + std::to_string(code) +
             (item.payload.empty() ? "" : " (" + std::string(item.payload) + ")");
    if (code == 4001) {
      o.cause = Cause::token_expired;
      token_.clear();
      o.what += "; fetching a fresh token";
    } else if (code == 1008) {
      o.cause = Cause::unknown_subscription;
      sub_id_.clear();
      o.what += "; re-creating the subscription";
    } else {
      o.cause = Cause::server_close;
      o.ended = code == 1000 && cfg_.end_on_close;
    }
  }

  void abort_current() override {
    if (close_current_) close_current_();
  }

  // Moves the batch being filled into the hand-off slot when it is free.
  void hand_off() override {
    if (current_.empty()) return;
    {
      std::lock_guard<std::mutex> lock(h_->m);
      if (h_->slot_full || h_->stopped) return;
      h_->raw = std::move(current_);
      h_->slot_full = true;
    }
    current_ = {};
    const auto frames = static_cast<std::size_t>(std::min<std::int64_t>(cfg_.batch_size, 4096));
    current_.spans.reserve(frames);
    current_.bytes.reserve(frames * 256);
    hooks_.deliver();
  }

  template <class S>
  asio::awaitable<void> keepalive(std::shared_ptr<Conn<S>> c) {
    const auto interval = std::chrono::milliseconds(cfg_.ping_interval.ms);
    for (;;) {
      c->ping_timer.expires_after(interval);
      co_await c->ping_timer.async_wait(use_tuple);
      if (!c->open) co_return;
      if (c->waiting || c->closing) continue;  // suspended while reading is paused
      const std::int64_t now = steady_now_ms();
      if (now - c->last_rx_ms < cfg_.ping_interval.ms) continue;
      const std::uint64_t gen = c->pause_gen;
      send_frame(c, kOpPing, {});
      c->ping_timer.expires_after(std::chrono::milliseconds(cfg_.ping_timeout.ms));
      co_await c->ping_timer.async_wait(use_tuple);
      if (!c->open) co_return;
      if (c->waiting || c->pause_gen != gen) continue;
      if (c->last_rx_ms < now) {
        c->dead = true;
        c->close_socket();
        co_return;
      }
    }
  }

  Counters& c_;
  std::function<void()> close_current_;  // io thread: aborts the current request or connection
  Backoff backoff_;
  Url token_url_, sub_url_, events_url_;
  std::string token_;
  std::int64_t token_expires_ms_ = 0;
  std::optional<std::string> granted_scope_;
  std::string sub_id_;
  RawFrames current_;  // the messages being gathered (io thread; the strand reads them after join)
};

}  // namespace

std::unique_ptr<Network> make_network(const Config& cfg, Counters& counters, std::shared_ptr<Handoff> handoff,
                                      NetHooks hooks) {
  return std::make_unique<NetImpl>(cfg, counters, std::move(handoff), std::move(hooks));
}

}  // namespace cxflow::cxone
