// source-cxone network side: token, subscription and WebSocket on the source's own
// io_context + thread (Boost.Beast, OpenSSL), with C++20 coroutines. Nothing here touches the
// strand directly: logs, failures and batches reach it through NetHooks (ctx.post).
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <sstream>
#include <thread>

#include "http.hpp"
#include "internal.hpp"

namespace cxflow::cxone {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
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
};

Outcome stopped_outcome() {
  Outcome o;
  o.stopped = true;
  return o;
}

// State of one live WebSocket connection shared with its keepalive coroutine.
struct ConnState {
  explicit ConnState(asio::io_context& io) : ping_timer(io) {}
  asio::steady_timer ping_timer;
  bool open = true;
  bool dead = false;     // keepalive timed out
  bool waiting = false;  // the reader is paused (backpressure or a full hand-off)
  bool closing = false;  // a close handshake with its own timeout is under way
  std::uint64_t pause_gen = 0;
  std::int64_t last_rx_ms = 0;
};

using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class NetImpl final : public Network {
 public:
  NetImpl(const Config& cfg, const FieldTable& fields, Counters& counters, std::shared_ptr<Handoff> handoff,
          NetHooks hooks)
      : cfg_(cfg),
        c_(counters),
        h_(std::move(handoff)),
        hooks_(std::move(hooks)),
        http_(io_, cfg_),
        sleep_timer_(io_),
        gate_(io_),
        backoff_(cfg.backoff_initial.ms, cfg.backoff_max.ms, std::random_device{}()),
        frames_(cfg_, fields, counters, hooks_.log, steady_now_ms, wall_now_ms) {
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

  void start() override {
    thread_ = std::thread([this] {
      asio::co_spawn(io_, run(), asio::detached);
      io_.run();
    });
  }

  void stop() override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    asio::post(io_, [this] {
      sleep_timer_.cancel();
      gate_.cancel();
      http_.abort();
      if (close_current_) close_current_();
    });
    thread_.join();
    frames_.flush();
  }

  void wake() override {
    // On the io thread the reader is suspended (in a read or at the gate), so the batch being
    // filled can move into the freed slot now instead of after the next frame arrives.
    asio::post(io_, [this] {
      gate_.cancel();
      if (!h_->paused.load()) hand_off();
    });
  }

  std::vector<Event> take_pending() override { return std::exchange(current_, {}); }

 private:
  // ---- main loop ----
  asio::awaitable<void> run() {
    try {
      std::int64_t attempt = 0;
      for (;;) {
        if (stopping_) break;
        Outcome o = co_await cycle();
        if (stopping_ || o.stopped) break;
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
        hooks_.log(LogLevel::Warn, o.what + "; next attempt in " + format_delay(delay) + " (attempt " +
                                       std::to_string(attempt) +
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
      if (events_url_.tls()) o = co_await websocket_session<TlsWs>();
      else o = co_await websocket_session<PlainWs>();
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
  asio::awaitable<HttpResult> post(const Url& u, const std::string& content_type, std::string body, const std::string* bearer) {
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
                             "&client_secret=" + form_encode(cfg_.client_secret.reveal()) + "&scope=" + form_encode(scope);
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
    const std::string filters = cfg_.filters.is_null() ? std::string("{\"status\":\"active\"}") : config_to_json(cfg_.filters);
    const std::string body = "{\"subscriptionName\":" + json_quote(cfg_.subscription_name) +
                             ",\"eventType\":" + json_quote(cfg_.event_type) + ",\"filters\":" + filters +
                             ",\"requestedFields\":[" + fields + "]}";
    const HttpResult r = co_await post(sub_url_, "application/json", body, &token_);
    const std::string what = "POST " + sub_url_.str();
    if (r.status != 200 && r.status != 201) {
      classify_http(what, r, o);
      if (r.status == 422)
        o.what = what + ": HTTP 422: the server rejected the subscription (subscription_name, event_type, filters, "
                        "requested_fields): " + server_message(r.body);
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
  template <class Ws>
  asio::awaitable<Outcome> websocket_session() {
    Outcome o;
    if (stopping_) co_return stopped_outcome();
    const Url& u = events_url_;
    const std::string what = "WebSocket " + u.str();
    std::shared_ptr<Ws> ws;
    if constexpr (std::is_same_v<Ws, TlsWs>) ws = std::make_shared<Ws>(io_, http_.tls());
    else ws = std::make_shared<Ws>(io_);
    auto& tcp_layer = beast::get_lowest_layer(*ws);
    auto st = std::make_shared<ConnState>(io_);
    close_current_ = [ws] { beast::get_lowest_layer(*ws).close(); };
    struct Clear {
      std::function<void()>& f;
      std::shared_ptr<ConnState> st;
      ~Clear() {
        f = nullptr;
        st->open = false;
        st->ping_timer.cancel();
      }
    } clear{close_current_, st};

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
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      SSL_set_tlsext_host_name(ws->next_layer().native_handle(), u.host.c_str());
      if (cfg_.tls_verify) ws->next_layer().set_verify_callback(ssl::host_name_verification(u.host));
      auto [hec] = co_await ws->next_layer().async_handshake(ssl::stream_base::client, use_tuple);
      if (hec) {
        o.cause = Cause::tls;
        o.what = what + ": TLS handshake failed: " + hec.message();
        co_return o;
      }
    }
    tcp_layer.expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = std::chrono::milliseconds(cfg_.handshake_timeout.ms);
    to.idle_timeout = websocket::stream_base::none();  // our own keepalive, suspended while paused
    to.keep_alive_pings = false;
    ws->set_option(to);
    const std::string auth = "Bearer " + token_;
    ws->set_option(websocket::stream_base::decorator([auth](websocket::request_type& req) {
      req.set(http::field::authorization, auth);
      req.set(http::field::user_agent, "cxflow-source-cxone");
    }));
    ws->read_message_max(0);  // checked in read_loop: Beast's own check can be masked by a failed TLS teardown
    ws->control_callback([st](websocket::frame_type, beast::string_view) { st->last_rx_ms = steady_now_ms(); });

    websocket::response_type res;
    auto [wec] = co_await ws->async_handshake(res, host_header(u), u.target, use_tuple);
    if (wec) {
      if (wec == websocket::error::upgrade_declined) {
        HttpResult r;
        r.status = static_cast<int>(res.result_int());
        r.body = res.body();
        if (auto it = res.find(http::field::retry_after); it != res.end()) r.retry_after = std::string(it->value());
        classify_http(what + " (upgrade)", r, o);
        co_return o;
      }
      o.what = what + ": WebSocket handshake failed: " + wec.message();
      co_return o;
    }
    std::string events;
    for (const auto& e : cfg_.stream_events) events += (events.empty() ? "" : ",") + json_quote(e);
    const std::string sub = "{\"type\":\"subscribe\",\"subscriptionId\":" + json_quote(sub_id_) + ",\"events\":[" +
                            events + "],\"format\":" + json_quote(cfg_.stream_format) + "}";
    ws->text(true);
    auto [sec, sn] = co_await ws->async_write(asio::buffer(sub), use_tuple);
    if (sec) {
      o.what = what + ": sending the subscribe message failed: " + sec.message();
      co_return o;
    }
    const std::int64_t connected_at = steady_now_ms();
    st->last_rx_ms = connected_at;
    c_.connections.add();
    // From now on stop() closes with a close frame, so the server sees an orderly close: from here
    // while a read waits, or from the reader when it sees stopping_ first.
    close_current_ = [this, ws, st] { close_on_stop(ws, *st); };
    hooks_.log(LogLevel::Info, "connected to " + u.str() + " (subscription " + sub_id_ + ")");
    if (cfg_.ping_interval.ms > 0 && cfg_.ping_timeout.ms > 0) asio::co_spawn(io_, keepalive(ws, st), asio::detached);

    o = co_await read_loop(ws, *st, what);
    o.healthy = steady_now_ms() - connected_at >= cfg_.backoff_reset_after.ms;
    co_return o;
  }

  // Sends a close frame and waits for the close handshake, at most `timeout_ms`, then the
  // connection is closed in any case.
  template <class Ws>
  asio::awaitable<void> close_with_timeout(std::shared_ptr<Ws> ws, websocket::close_reason reason, std::int64_t timeout_ms) {
    asio::steady_timer guard(io_, std::chrono::milliseconds(timeout_ms));
    guard.async_wait([ws](error_code gec) {
      if (!gec) beast::get_lowest_layer(*ws).close();
    });
    co_await ws->async_close(reason, use_tuple);
    guard.cancel();
    beast::get_lowest_layer(*ws).close();
  }

  // stop(): close frame 1001 "going away", the handshake bounded by kStopCloseTimeoutMs. A read in
  // progress returns what it gets meanwhile; Beast's close then reads (and discards) up to the
  // server's answer.
  template <class Ws>
  void close_on_stop(const std::shared_ptr<Ws>& ws, ConnState& st) {
    if (st.closing) return;
    st.closing = true;
    if (!ws->is_open()) {  // Beast is answering the server's close frame
      beast::get_lowest_layer(*ws).close();
      return;
    }
    asio::co_spawn(io_,
                   close_with_timeout(ws, websocket::close_reason(websocket::close_code::going_away, "going away"),
                                      std::min<std::int64_t>(cfg_.handshake_timeout.ms, kStopCloseTimeoutMs)),
                   asio::detached);
  }

  template <class Ws>
  asio::awaitable<Outcome> read_loop(std::shared_ptr<Ws> wsp, ConnState& st, const std::string& what) {
    Ws& ws = *wsp;
    Outcome o;
    beast::flat_buffer buf;
    const std::size_t batch_size = static_cast<std::size_t>(cfg_.batch_size);
    const bool block = cfg_.when_full == WhenFull::block;
    for (;;) {
      // Gates: never read while the pipeline is full (block) or while both the hand-off slot
      // and the batch being filled are full.
      for (;;) {
        if (stopping_) {
          close_on_stop(wsp, st);
          co_return stopped_outcome();
        }
        // Hand the batch off once it is full or once everything that arrived is decoded: a batch
        // per frame would cost the strand a wake-up per event when it keeps up with the socket.
        if (current_.size() >= batch_size || !more_ready(ws)) hand_off();
        const bool full = current_.size() >= batch_size;
        const bool wait = (block && h_->paused.load()) || (block && full);
        if (!wait) break;
        if (!st.waiting) {
          st.waiting = true;
          ++st.pause_gen;
        }
        gate_.expires_at(asio::steady_timer::time_point::max());
        co_await gate_.async_wait(use_tuple);
      }
      if (st.waiting) {
        st.waiting = false;
        ++st.pause_gen;
        st.last_rx_ms = steady_now_ms();  // the keepalive restarts after a pause
      }
      error_code ec;
      std::size_t n = 0;
      bool too_big = false;
      for (;;) {  // one message, in pieces, so that its size is checked as it arrives
        auto [rec, rn] = co_await ws.async_read_some(buf, 64 * 1024, use_tuple);
        ec = rec;
        n += rn;
        if (ec || ws.is_message_done()) break;
        if (buf.size() > cfg_.max_message_size.bytes) {
          too_big = true;
          break;
        }
      }
      if (!ec && buf.size() > cfg_.max_message_size.bytes) too_big = true;
      if (too_big) {
        c_.too_large.add();
        c_.bytes.add(n);
        o.cause = Cause::message_too_large;
        o.what = what + ": a message exceeded max_message_size " + format_size(cfg_.max_message_size) +
                 "; closed with 1009";
        st.closing = true;
        co_await close_with_timeout(wsp, websocket::close_reason(websocket::close_code::too_big, "message too big"),
                                    cfg_.handshake_timeout.ms);
        co_return o;
      }
      if (ec) {
        if (stopping_) co_return stopped_outcome();
        const auto& reason = ws.reason();
        if (st.dead) {
          o.cause = Cause::ping_timeout;
          o.what = what + ": no data or pong for " + format_duration(cfg_.ping_timeout) + " after a ping (dead peer)";
        } else if (ec == websocket::error::closed || reason.code != websocket::close_code::none) {
          // A close frame arrived (the error may be a failed TLS teardown after it).
          const auto& r = reason;
          const int code = static_cast<int>(r.code);
          o.what = what + ": server closed the connection with code " + std::to_string(code) +
                   (r.reason.empty() ? "" : " (" + std::string(r.reason.c_str()) + ")");
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
          }
        } else {
          o.cause = Cause::network;
          o.what = what + ": connection lost: " + ec.message();
        }
        co_return o;
      }
      st.last_rx_ms = steady_now_ms();
      c_.bytes.add(n);
      buf.prepare(JsonEventDecoder::kPadding);  // readable bytes after the message for the decoder
      const auto data = buf.data();
      const std::string_view frame(static_cast<const char*>(data.data()), data.size());
      // drop_newest: once the batch being filled is full and the slot is taken, what arrives is dropped.
      const bool drop = !block && current_.size() >= batch_size;
      frames_.decode(frame, current_, drop);
      buf.consume(buf.size());
    }
  }

  // True when the next read will not wait: decrypted or undecrypted TLS bytes, or bytes in the
  // socket, are there already (Beast's own small read buffer is not visible; it only means a
  // batch is handed off a little early).
  template <class Ws>
  static bool more_ready(Ws& ws) {
    if constexpr (std::is_same_v<Ws, TlsWs>) {
      if (SSL_has_pending(ws.next_layer().native_handle()) == 1) return true;
    }
    error_code ec;
    const std::size_t n = beast::get_lowest_layer(ws).socket().available(ec);
    return !ec && n > 0;
  }

  // Moves the batch being filled into the hand-off slot when it is free.
  void hand_off() {
    if (current_.empty()) return;
    {
      std::lock_guard<std::mutex> lock(h_->m);
      if (h_->slot_full || h_->stopped) return;
      h_->slot.events = std::move(current_);
      h_->slot_full = true;
    }
    current_ = {};
    current_.reserve(static_cast<std::size_t>(std::min<std::int64_t>(cfg_.batch_size, 4096)));
    hooks_.deliver();
  }

  template <class Ws>
  asio::awaitable<void> keepalive(std::shared_ptr<Ws> ws, std::shared_ptr<ConnState> st) {
    const auto interval = std::chrono::milliseconds(cfg_.ping_interval.ms);
    for (;;) {
      st->ping_timer.expires_after(interval);
      co_await st->ping_timer.async_wait(use_tuple);
      if (!st->open) co_return;
      if (st->waiting) continue;  // suspended while reading is paused
      const std::int64_t now = steady_now_ms();
      if (now - st->last_rx_ms < cfg_.ping_interval.ms) continue;
      const std::uint64_t gen = st->pause_gen;
      ws->async_ping({}, [ws](error_code) {});
      st->ping_timer.expires_after(std::chrono::milliseconds(cfg_.ping_timeout.ms));
      co_await st->ping_timer.async_wait(use_tuple);
      if (!st->open) co_return;
      if (st->waiting || st->pause_gen != gen) continue;
      if (st->last_rx_ms < now) {
        st->dead = true;
        beast::get_lowest_layer(*ws).close();
        co_return;
      }
    }
  }

  Config cfg_;
  Counters& c_;
  std::shared_ptr<Handoff> h_;
  NetHooks hooks_;
  asio::io_context io_;
  HttpClient http_;  // token and subscription requests; its TLS context serves the WebSocket too
  asio::steady_timer sleep_timer_;
  asio::steady_timer gate_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::function<void()> close_current_;  // io thread: aborts the current request or connection
  Backoff backoff_;
  FrameDecoder frames_;
  Url token_url_, sub_url_, events_url_;
  std::string token_;
  std::int64_t token_expires_ms_ = 0;
  std::optional<std::string> granted_scope_;
  std::string sub_id_;
  std::vector<Event> current_;  // the batch being filled (io thread; the strand reads it after join)
};

}  // namespace

std::unique_ptr<Network> make_network(const Config& cfg, const FieldTable& fields, Counters& counters,
                                      std::shared_ptr<Handoff> handoff, NetHooks hooks, const Clock&) {
  return std::make_unique<NetImpl>(cfg, fields, counters, std::move(handoff), std::move(hooks));
}

}  // namespace cxflow::cxone
