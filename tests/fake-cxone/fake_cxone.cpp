// The fake CXone server (see fake_cxone.hpp). The WebSocket server side is written by hand on
// top of the TLS/TCP stream so that frames can be pre-encoded and written in large chunks and
// faults land exactly between completed writes.
#include "fake_cxone.hpp"

#include <openssl/sha.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "cxflow/time.hpp"
#include "fake_http.hpp"

namespace cxflow::fake {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

using detail::lowest;
using detail::parse_form;
using detail::steady_ms;
using detail::use_tuple;
const char* const kQueues[] = {"sales", "support", "billing"};

void put_frame(std::string& out, unsigned opcode, std::string_view payload, bool fin = true) {
  out += static_cast<char>((fin ? 0x80 : 0) | opcode);
  const std::size_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>((n >> 8) & 0xff);
    out += static_cast<char>(n & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff);
  }
  out.append(payload);
}

std::string close_payload(int code, std::string_view reason) {
  std::string p;
  p += static_cast<char>((code >> 8) & 0xff);
  p += static_cast<char>(code & 0xff);
  p.append(reason);
  return p;
}

std::string websocket_accept(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  return detail::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), SHA_DIGEST_LENGTH));
}

std::string malformed_frame(int kind, std::uint64_t n, const FakeOptions& o) {
  const std::string ts = format_iso8601_ms(o.start_time_ms);
  switch (kind) {
    case 0:
      return "{\"eventType\":\"interaction\",\"timestamp\":";
    case 1:
      return "{\"eventType\":\"interaction\",\"timestamp\":\"" + ts + "\",\"interactionId\":\"bad-" +
             std::to_string(n) +
             "\",\"metadata\":{\"queue\":\"sales\"},\"metrics\":{\"state\":\"ended\",\"waitTime\":\"abc\","
             "\"handleTime\":10}}";
    case 2:
      return "{\"timestamp\":\"" + ts + "\",\"interactionId\":\"bad-" + std::to_string(n) +
             "\",\"metadata\":{\"queue\":\"sales\"},\"metrics\":{\"state\":\"ended\",\"waitTime\":5,\"handleTime\":10}"
             "}";
    case 3:
      return "{\"eventType\":\"interaction\",\"timestamp\":\"yesterday\",\"interactionId\":\"bad-" + std::to_string(n) +
             "\",\"metrics\":{\"state\":\"ended\",\"waitTime\":5,\"handleTime\":10}}";
    default:
      return "42";
  }
}

}  // namespace

EventInfo FakeCxone::event(std::uint64_t seq, const FakeOptions& o) {
  EventInfo e;
  e.seq = seq;
  e.time_ms = o.start_time_ms + static_cast<std::int64_t>(seq) * o.interval_ms;
  e.queue = kQueues[seq % 3];
  e.abandoned = seq % 10 == 7;
  e.wait_s = static_cast<std::int64_t>((seq * 37) % 120);
  if (!e.abandoned) {
    e.agent = "agent-" + std::to_string((seq * 7) % 11);
    e.handle_s = 60 + static_cast<std::int64_t>((seq * 53) % 400);
  }
  return e;
}

namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[20];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Appends event_json(seq) to a string without temporaries, so that a benchmark reading the fake at
// full speed does not measure the fake: the "YYYY-MM-DDTHH:MM:SS." of the timestamp is formatted
// once per second.
class EventEncoder {
 public:
  void append(std::string& s, std::uint64_t seq, const FakeOptions& o) {
    const EventInfo e = FakeCxone::event(seq, o);
    const std::int64_t sec = e.time_ms >= 0 ? e.time_ms / 1000 : (e.time_ms - 999) / 1000;
    if (sec != second_) {
      second_ = sec;
      prefix_ = format_iso8601_ms(sec * 1000);  // "2026-01-05T08:00:01.000Z"
      prefix_.resize(20);
    }
    const auto ms = static_cast<unsigned>(e.time_ms - sec * 1000);
    s += "{\"eventType\":\"interaction\",\"timestamp\":\"";
    s += prefix_;
    s += static_cast<char>('0' + ms / 100);
    s += static_cast<char>('0' + ms / 10 % 10);
    s += static_cast<char>('0' + ms % 10);
    s += "Z\",\"interactionId\":\"c-";
    append_uint(s, seq);
    s += "\",";
    if (!e.abandoned) {
      s += "\"agentId\":\"";
      s += e.agent;
      s += "\",";
    }
    s += "\"metadata\":{\"queue\":\"";
    s += e.queue;
    s += "\",\"skill\":\"";
    s += e.queue;
    s += "\"},\"metrics\":{\"state\":\"";
    s += e.abandoned ? "abandoned" : "ended";
    s += "\",\"waitTime\":";
    append_uint(s, static_cast<std::uint64_t>(e.wait_s));
    if (!e.abandoned) {
      s += ",\"handleTime\":";
      append_uint(s, static_cast<std::uint64_t>(e.handle_s));
    }
    s += "}}";
  }

 private:
  std::int64_t second_ = INT64_MIN;
  std::string prefix_;
};

}  // namespace

std::string FakeCxone::event_json(std::uint64_t seq, const FakeOptions& o) {
  std::string s;
  s.reserve(256);
  EventEncoder().append(s, seq, o);
  return s;
}

struct FakeCxone::Impl {
  explicit Impl(FakeOptions opts) : o(std::move(opts)), tls(ssl::context::tls_server), acceptor(io) {}

  FakeOptions o;
  ssl::context tls;  // outlives io (coroutine frames holding TLS streams die with io)
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;
  unsigned short bound_port = 0;

  mutable std::mutex m;  // guards everything below (the io thread writes, tests read)
  Truth t;
  std::set<std::string> tokens;
  std::set<std::string> subscriptions;
  bool forget = false;
  std::uint64_t next_seq = 0;
  std::int64_t write_started_ms = -1;  // steady ms of the event write in progress, -1 = none
  std::vector<std::uint64_t> drops, c1011, expires, oversize, protocol_errors;

  template <class F>
  void with(F&& f) {
    std::lock_guard<std::mutex> lock(m);
    f();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
      if (ec) co_return;
      sock.set_option(tcp::no_delay(true));
      if (o.tls) {
        auto s = std::make_shared<ssl::stream<tcp::socket>>(std::move(sock), tls);
        asio::co_spawn(io, tls_session(s), asio::detached);
      } else {
        asio::co_spawn(io, serve(std::make_shared<tcp::socket>(std::move(sock))), asio::detached);
      }
    }
  }

  asio::awaitable<void> tls_session(std::shared_ptr<ssl::stream<tcp::socket>> s) {
    auto [ec] = co_await s->async_handshake(ssl::stream_base::server, use_tuple);
    if (ec) co_return;  // e.g. the client refused the certificate
    co_await serve(s);
  }

  template <class S>
  asio::awaitable<void> serve(std::shared_ptr<S> s) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    auto [ec, n] = co_await http::async_read(*s, buf, req, use_tuple);
    if (ec) co_return;
    if (beast::websocket::is_upgrade(req)) {
      co_await websocket(s, req, buf);
    } else {
      http::response<http::string_body> res = route(req);
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(*s, res, use_tuple);
    }
    error_code ignored;
    lowest(*s).shutdown(tcp::socket::shutdown_both, ignored);
    lowest(*s).close(ignored);
  }

  static http::response<http::string_body> reply(int status, std::string body,
                                                 const http::request<http::string_body>& req) {
    return detail::json_reply(status, std::move(body), req);
  }

  bool token_valid(const http::request<http::string_body>& req) {
    const auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    const std::string v(it->value());
    if (v.rfind("Bearer ", 0) != 0) return false;
    std::lock_guard<std::mutex> lock(m);
    return tokens.count(v.substr(7)) > 0;
  }

  http::response<http::string_body> route(const http::request<http::string_body>& req) {
    const std::string target(req.target());
    if (req.method() == http::verb::post && target == "/oauth/token") {
      const auto form = parse_form(req.body());
      std::lock_guard<std::mutex> lock(m);
      ++t.token_requests;
      t.last_token_body_scope = form.count("scope") ? form.at("scope") : "";
      if (t.token_429_sent < static_cast<std::uint64_t>(std::max(0, o.token_429))) {
        ++t.token_429_sent;
        auto res = reply(429, "{\"error\":\"rate_limited\",\"message\":\"Too many token requests\"}", req);
        if (o.retry_after_s) res.set(http::field::retry_after, std::to_string(*o.retry_after_s));
        return res;
      }
      const auto get = [&](const char* k) { return form.count(k) ? form.at(k) : std::string(); };
      if (get("grant_type") != "client_credentials" || get("client_id") != o.client_id ||
          get("client_secret") != o.client_secret)
        return reply(401, "{\"error\":\"invalid_client\",\"error_description\":\"Invalid client credentials\"}", req);
      const std::string tok = "tok-" + std::to_string(++t.tokens_issued);
      tokens.insert(tok);
      return reply(200,
                   "{\"access_token\":\"" + tok + "\",\"token_type\":\"Bearer\",\"expires_in\":" +
                       std::to_string(o.token_lifetime_s) + ",\"scope\":\"" + o.granted_scope + "\"}",
                   req);
    }
    if (req.method() == http::verb::post && target == "/api/v2/analytics/eventsub") {
      if (!token_valid(req)) return reply(401, "{\"message\":\"Token expired or invalid\"}", req);
      std::lock_guard<std::mutex> lock(m);
      t.last_subscription_body = req.body();
      if (o.subscription_status == 403)
        return reply(403, "{\"message\":\"Insufficient permissions for event subscription\"}", req);
      if (o.subscription_status == 422)
        return reply(422, "{\"message\":\"requestedFields: unknown field 'metrics.bogus'\"}", req);
      const std::string id = "sub-" + std::to_string(++t.subscriptions_created);
      subscriptions.insert(id);
      return reply(
          201,
          "{\"id\":\"" + id + "\",\"status\":\"active\",\"createdAt\":\"" + format_iso8601_ms(o.start_time_ms) + "\"}",
          req);
    }
    return reply(404, "{\"message\":\"not found\"}", req);
  }

  // ---- WebSocket ----
  template <class S>
  struct Conn {
    Conn(std::shared_ptr<S> st, asio::io_context& io) : s(std::move(st)), wake(io) {}
    std::shared_ptr<S> s;
    std::string rx;
    std::string control_out;
    asio::steady_timer wake;
    bool sent_close = false, end_close = false, peer_closed = false, broken = false, writing = false;
  };

  template <class S>
  asio::awaitable<bool> read_frame(Conn<S>& c, unsigned& opcode, std::string& payload) {
    char tmp[16384];
    auto need = [&](std::size_t k) -> asio::awaitable<bool> {
      while (c.rx.size() < k) {
        auto [ec, n] = co_await c.s->async_read_some(asio::buffer(tmp), use_tuple);
        if (ec) co_return false;
        c.rx.append(tmp, n);
      }
      co_return true;
    };
    if (!co_await need(2)) co_return false;
    const auto b0 = static_cast<unsigned char>(c.rx[0]), b1 = static_cast<unsigned char>(c.rx[1]);
    opcode = b0 & 0x0f;
    std::uint64_t len = b1 & 0x7f;
    std::size_t hdr = 2;
    if (len == 126) {
      if (!co_await need(4)) co_return false;
      len = (static_cast<unsigned char>(c.rx[2]) << 8) | static_cast<unsigned char>(c.rx[3]);
      hdr = 4;
    } else if (len == 127) {
      if (!co_await need(10)) co_return false;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<unsigned char>(c.rx[2 + i]);
      hdr = 10;
    }
    const bool masked = b1 & 0x80;
    const std::size_t mask_at = hdr;
    if (masked) hdr += 4;
    if (len > 16 * 1024 * 1024) co_return false;
    if (!co_await need(hdr + len)) co_return false;
    payload.assign(c.rx, hdr, len);
    if (masked)
      for (std::size_t i = 0; i < payload.size(); ++i)
        payload[i] = static_cast<char>(payload[i] ^ c.rx[mask_at + (i % 4)]);
    c.rx.erase(0, hdr + len);
    co_return true;
  }

  template <class S>
  asio::awaitable<void> reader(std::shared_ptr<Conn<S>> c) {
    for (;;) {
      unsigned op = 0;
      std::string p;
      if (!co_await read_frame(*c, op, p)) {
        c->broken = true;
        c->wake.cancel();
        co_return;
      }
      if (op == 0x9) {
        with([&] { ++t.pings; });
        if (o.answer_pings) {
          put_frame(c->control_out, 0xA, p);
          c->wake.cancel();
        }
      } else if (op == 0xA) {
        if (!p.empty() && p[0] == 'p') with([&] { ++t.pongs; });
      } else if (op == 0x8) {
        if (c->sent_close) {
          if (c->end_close) with([&] { ++t.end_closes_acked; });
        } else {
          const int code =
              p.size() >= 2 ? (static_cast<unsigned char>(p[0]) << 8 | static_cast<unsigned char>(p[1])) : 1005;
          with([&] {
            ++t.client_closes;
            t.last_client_close_code = code;
          });
          put_frame(c->control_out, 0x8, p.substr(0, 2));
          c->sent_close = true;
        }
        c->peer_closed = true;
        c->wake.cancel();
        co_return;
      }
    }
  }

  template <class S>
  asio::awaitable<bool> write_all(Conn<S>& c, const std::string& data) {
    std::shared_ptr<asio::steady_timer> cut;
    c.writing = true;
    with([&] { write_started_ms = steady_ms(); });
    if (o.cut_slow_after_ms > 0) {
      cut = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(o.cut_slow_after_ms));
      cut->async_wait([this, &c, s = c.s](error_code ec) {
        if (ec || !c.writing) return;
        with([&] { ++t.slow_cuts; });
        error_code ignored;
        lowest(*s).close(ignored);
      });
    }
    auto [ec, n] = co_await asio::async_write(*c.s, asio::buffer(data), use_tuple);
    c.writing = false;
    with([&] { write_started_ms = -1; });
    if (cut) cut->cancel();
    if (ec) {
      c.broken = true;
      co_return false;
    }
    with([&] { t.bytes_sent += n; });
    co_return true;
  }

  template <class S>
  asio::awaitable<bool> flush_control(Conn<S>& c) {
    if (c.control_out.empty() || c.broken) co_return !c.broken;
    const std::string out = std::exchange(c.control_out, {});
    co_return co_await write_all(c, out);
  }

  // Waits up to `ms` for the peer's close (flushing pongs meanwhile).
  template <class S>
  asio::awaitable<void> await_peer_close(Conn<S>& c, std::int64_t ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!c.peer_closed && !c.broken && std::chrono::steady_clock::now() < deadline) {
      c.wake.expires_at(deadline);
      co_await c.wake.async_wait(use_tuple);
      if (!co_await flush_control(c)) co_return;
    }
  }

  template <class S>
  asio::awaitable<void> send_close(Conn<S>& c, int code, std::string_view reason) {
    std::string f = std::exchange(c.control_out, {});
    put_frame(f, 0x8, close_payload(code, reason));
    c.sent_close = true;
    if (co_await write_all(c, f)) co_await await_peer_close(c, 3000);
  }

  static bool take(std::vector<std::uint64_t>& v, std::uint64_t seq) {
    auto it = std::find(v.begin(), v.end(), seq);
    if (it == v.end()) return false;
    v.erase(it);
    return true;
  }
  static std::uint64_t next_at_or_after(const std::vector<std::uint64_t>& v, std::uint64_t seq) {
    std::uint64_t best = UINT64_MAX;
    for (auto k : v)
      if (k >= seq) best = std::min(best, k);
    return best;
  }

  template <class S>
  asio::awaitable<void> websocket(std::shared_ptr<S> s, http::request<http::string_body>& req,
                                  beast::flat_buffer& buf) {
    if (!token_valid(req)) {
      with([&] { ++t.handshakes_401; });
      auto res = reply(401, "{\"message\":\"Token expired or invalid\"}", req);
      res.keep_alive(false);
      res.prepare_payload();
      co_await http::async_write(*s, res, use_tuple);
      co_return;
    }
    const std::string accept = websocket_accept(std::string(req[http::field::sec_websocket_key]));
    const std::string head =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        accept + "\r\n\r\n";
    auto c = std::make_shared<Conn<S>>(s, io);
    {
      auto [ec, n] = co_await asio::async_write(*s, asio::buffer(head), use_tuple);
      if (ec) co_return;
    }
    const auto pending = buf.data();
    c->rx.assign(static_cast<const char*>(pending.data()), pending.size());
    // The subscribe message.
    unsigned op = 0;
    std::string msg;
    if (!co_await read_frame(*c, op, msg) || op != 0x1) co_return;
    const auto j = nlohmann::json::parse(msg, nullptr, false);
    std::string sub_id;
    if (!j.is_discarded() && j.is_object() && j.contains("subscriptionId") && j["subscriptionId"].is_string())
      sub_id = j["subscriptionId"].get<std::string>();
    bool known = false;
    with([&] {
      t.last_subscribe_message = msg;
      if (forget) {
        subscriptions.clear();
        forget = false;
      }
      known = subscriptions.count(sub_id) > 0;
      if (!known)
        ++t.unknown_subscription_closes;
      else
        ++t.connections;
    });
    asio::co_spawn(io, reader(c), asio::detached);
    if (!known) {
      co_await send_close(*c, 1008, "unknown subscription");
      co_return;
    }
    co_await writer(*c);
    co_await flush_control(*c);
  }

  template <class S>
  asio::awaitable<void> writer(Conn<S>& c) {
    const std::uint64_t limit = o.total_events ? o.total_events : UINT64_MAX;
    const auto conn_start = std::chrono::steady_clock::now();
    std::uint64_t sent_here = 0;
    std::string chunk;
    chunk.reserve(o.chunk_bytes + 4096);
    std::string payload;
    EventEncoder encoder;
    std::uint64_t malformed_n = 0;
    for (;;) {
      if (c.broken || c.peer_closed) co_return;
      std::uint64_t seq, fault_at;
      {
        std::lock_guard<std::mutex> lock(m);
        seq = next_seq;
        fault_at = std::min({next_at_or_after(drops, seq), next_at_or_after(c1011, seq), next_at_or_after(expires, seq),
                             next_at_or_after(oversize, seq), next_at_or_after(protocol_errors, seq)});
      }
      if (fault_at == seq) {
        std::unique_lock<std::mutex> lock(m);
        if (take(drops, seq)) {
          ++t.drops;
          lock.unlock();
          error_code ignored;
          lowest(*c.s).close(ignored);
          co_return;
        }
        if (take(c1011, seq)) {
          ++t.closes_1011;
          lock.unlock();
          co_await send_close(c, 1011, "internal error");
          co_return;
        }
        if (take(expires, seq)) {
          ++t.closes_4001;
          tokens.clear();
          lock.unlock();
          co_await send_close(c, 4001, "token expired");
          co_return;
        }
        if (take(protocol_errors, seq)) {
          ++t.protocol_errors_sent;
          lock.unlock();
          std::string f = std::exchange(c.control_out, {});
          f += "\xC1\x01x";  // FIN + RSV1 + text: no extension was negotiated
          if (co_await write_all(c, f)) co_await await_peer_close(c, 3000);
          co_return;
        }
        if (take(oversize, seq)) {
          ++t.oversize_sent;
          lock.unlock();
          std::string f = std::exchange(c.control_out, {});
          put_frame(f, 0x1, "\"" + std::string(o.oversize_bytes, 'x') + "\"");
          if (co_await write_all(c, f)) co_await await_peer_close(c, 3000);
          co_return;
        }
      }
      if (seq >= limit) {
        if (o.close_when_done) {
          c.end_close = true;
          co_await send_close(c, 1000, "end of stream");
          co_return;
        }
        c.wake.expires_after(std::chrono::seconds(3600));
        co_await c.wake.async_wait(use_tuple);
        if (!co_await flush_control(c)) co_return;
        continue;
      }
      std::uint64_t end = std::min(limit, fault_at);
      if (o.events_per_second > 0) {
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - conn_start).count();
        const auto due = static_cast<std::uint64_t>(secs * static_cast<double>(o.events_per_second)) + 1;
        if (due <= sent_here) {
          c.wake.expires_after(std::chrono::milliseconds(5));
          co_await c.wake.async_wait(use_tuple);
          if (!co_await flush_control(c)) co_return;
          continue;
        }
        end = std::min(end, seq + (due - sent_here));
      }
      // Build one chunk: pending control frames, then events (and malformed frames) up to chunk_bytes.
      chunk.assign(c.control_out);  // keeps the chunk's capacity (no regrowth per chunk)
      c.control_out.clear();
      std::uint64_t frames = 0, fragmented = 0, server_pings = 0;
      std::uint64_t bad[kMalformedKindCount] = {};
      std::uint64_t raw = 0;
      std::uint64_t s2 = seq;
      while (s2 < end && chunk.size() < o.chunk_bytes) {
        const std::uint64_t group = std::min<std::uint64_t>(std::max<std::size_t>(1, o.events_per_frame), end - s2);
        if (group == 1 && o.events_per_frame <= 1) {
          payload.clear();
          encoder.append(payload, s2, o);
        } else {
          payload = "[";
          for (std::uint64_t k = 0; k < group; ++k) {
            if (k) payload += ',';
            encoder.append(payload, s2 + k, o);
          }
          payload += "]";
        }
        if (o.fragment_every > 0 && s2 % o.fragment_every == 0 && payload.size() >= 3) {
          const std::size_t third = payload.size() / 3;
          put_frame(chunk, 0x1, std::string_view(payload).substr(0, third), false);
          put_frame(chunk, 0x0, std::string_view(payload).substr(third, third), false);
          put_frame(chunk, 0x0, std::string_view(payload).substr(2 * third), true);
          ++fragmented;
        } else {
          put_frame(chunk, 0x1, payload);
        }
        ++frames;
        if (o.ping_every > 0 && (s2 + group) % o.ping_every == 0) {
          put_frame(chunk, 0x9, "p" + std::to_string(s2 + group));
          ++server_pings;
        }
        for (std::uint64_t k = 0; k < group; ++k) {
          if (o.malformed_every > 0 && (s2 + k + 1) % o.malformed_every == 0) {
            const int kind = static_cast<int>((s2 + k + 1) / o.malformed_every % kMalformedKindCount);
            put_frame(chunk, 0x1, malformed_frame(kind, ++malformed_n, o));
            ++bad[kind];
          }
          for (const auto& [after, text] : o.raw_frames_after)
            if (after == s2 + k + 1) {
              put_frame(chunk, 0x1, text);
              ++raw;
            }
        }
        s2 += group;
      }
      if (!co_await write_all(c, chunk)) co_return;  // not completed: these events are sent again
      sent_here += s2 - seq;
      with([&] {
        next_seq = s2;
        t.events_sent = s2;
        t.frames_sent += frames;
        t.fragmented_frames += fragmented;
        t.server_pings += server_pings;
        for (int k = 0; k < kMalformedKindCount; ++k) t.malformed_sent[k] += bad[k];
        t.raw_frames_sent += raw;
      });
    }
  }
};

FakeCxone::FakeCxone(FakeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl& i = *impl_;
  i.drops = i.o.drop_after;
  i.c1011 = i.o.close_1011_after;
  i.expires = i.o.expire_token_after;
  i.oversize = i.o.oversize_after;
  i.protocol_errors = i.o.protocol_error_after;
  if (i.o.tls) detail::load_server_certificate(i.tls, i.o.cert_file, i.o.key_file);
  i.bound_port = detail::open_acceptor(i.acceptor, i.o.bind, i.o.port);
  asio::co_spawn(i.io, i.accept_loop(), asio::detached);
  i.thread = detail::run_io_thread(i.io, i.o.cpu);
}

FakeCxone::~FakeCxone() { stop(); }

void FakeCxone::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

unsigned short FakeCxone::port() const { return impl_->bound_port; }
std::string FakeCxone::http_base() const {
  return std::string(impl_->o.tls ? "https" : "http") + "://localhost:" + std::to_string(port());
}
std::string FakeCxone::ws_base() const {
  return std::string(impl_->o.tls ? "wss" : "ws") + "://localhost:" + std::to_string(port());
}

Truth FakeCxone::truth() const {
  std::lock_guard<std::mutex> lock(impl_->m);
  Truth t = impl_->t;
  t.current_write_ms = impl_->write_started_ms < 0 ? 0 : steady_ms() - impl_->write_started_ms;
  return t;
}

void FakeCxone::forget_subscriptions() {
  std::lock_guard<std::mutex> lock(impl_->m);
  impl_->forget = true;
}

std::pair<std::string, std::string> make_test_certificate(const std::string& dir) {
  const std::string cert = (std::filesystem::path(dir) / "cert.pem").string();
  const std::string key = (std::filesystem::path(dir) / "key.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0 || !std::filesystem::exists(cert))
    throw std::runtime_error("openssl could not create a test certificate in " + dir);
  return {cert, key};
}

const std::pair<std::string, std::string>& shared_test_certificate() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::string tmpl = (std::filesystem::temp_directory_path() / "cxflow-fake-cert-XXXXXX").string();
      if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + tmpl);
      path = tmpl;
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  static const auto files = make_test_certificate(dir.path.string());
  return files;
}

std::string truth_json(const Truth& t) {
  nlohmann::json j;
  j["events_sent"] = t.events_sent;
  j["frames_sent"] = t.frames_sent;
  for (int k = 0; k < kMalformedKindCount; ++k) j["malformed_sent"][kMalformedKinds[k]] = t.malformed_sent[k];
  j["connections"] = t.connections;
  j["tokens_issued"] = t.tokens_issued;
  j["token_requests"] = t.token_requests;
  j["token_429_sent"] = t.token_429_sent;
  j["handshakes_401"] = t.handshakes_401;
  j["subscriptions_created"] = t.subscriptions_created;
  j["unknown_subscription_closes"] = t.unknown_subscription_closes;
  j["drops"] = t.drops;
  j["closes_1011"] = t.closes_1011;
  j["closes_4001"] = t.closes_4001;
  j["oversize_sent"] = t.oversize_sent;
  j["slow_cuts"] = t.slow_cuts;
  j["end_closes_acked"] = t.end_closes_acked;
  j["client_closes"] = t.client_closes;
  j["last_client_close_code"] = t.last_client_close_code;
  j["pings"] = t.pings;
  j["server_pings"] = t.server_pings;
  j["pongs"] = t.pongs;
  j["fragmented_frames"] = t.fragmented_frames;
  j["protocol_errors_sent"] = t.protocol_errors_sent;
  j["bytes_sent"] = t.bytes_sent;
  return j.dump();
}

}  // namespace cxflow::fake
