// cxflow-cxone-baseline BASE_URL CA.pem OUT.db
//
// The no-framework yardstick for bench/pipelines/cxone-bench.yaml: a bare Boost.Beast client in
// one loop on one thread, written to be fast, against the fake CXone (tests/fake-cxone) over TLS:
//
//   POST BASE_URL/oauth/token (form-encoded client credentials from CXONE_CLIENT_ID and
//   CXONE_CLIENT_SECRET, default test-client/test-secret) -> POST BASE_URL/api/v2/analytics/eventsub
//   with the Bearer token -> WebSocket upgrade on wss://HOST:PORT/api/v2/events (Bearer) -> the
//   subscribe message, as source-cxone does
//   -> frames read through a flat buffer, 64 KiB per read (one TLS read fills it with whole 16 KiB
//      records; Beast's websocket stream would read 1.5 KiB at a time), parsed in place: no copy
//      of the payload, which simdjson parses where it lies (the buffer carries simdjson's padding)
//   -> each event filtered, aggregated into 60 s windows per queue and upserted into SQLite's
//      queue_minutes, as queue_minutes.hpp describes (shared with cxflow-baseline)
//   -> stops at the server's close frame: 1000 (the fake's end of stream) is answered and ends the
//      run; anything else is an error.
// One text frame is one event (the fake's default). Prints "cxone-baseline: S s, N events in (R/s),
// W rows written" plus details on stderr, like cxflow-baseline.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <chrono>
#include <memory>

#include "queue_minutes.hpp"

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kReadBytes = 64 * 1024;
// RFC 6455's sample key and the accept value a server must answer it with (section 1.3).
constexpr const char* kWsKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kWsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

struct Endpoint {
  std::string host, port;
};

Endpoint parse_base(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) die("BASE_URL must start with https:// (got '" + url + "')");
  std::string rest = url.substr(scheme.size());
  if (const auto slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos) return {rest, "443"};
  return {rest.substr(0, colon), rest.substr(colon + 1)};
}

using Tls = ssl::stream<tcp::socket>;

void connect(Tls& s, asio::io_context& io, const Endpoint& at) {
  tcp::resolver resolver(io);
  asio::connect(s.next_layer(), resolver.resolve(at.host, at.port));
  s.next_layer().set_option(tcp::no_delay(true));
  if (!SSL_set_tlsext_host_name(s.native_handle(), at.host.c_str())) die("cannot set the TLS server name");
  s.set_verify_mode(ssl::verify_peer);
  s.set_verify_callback(ssl::host_name_verification(at.host));
  s.handshake(ssl::stream_base::client);
}

std::string form_encode(std::string_view v) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// One request on its own connection (the fake answers with Connection: close); the body of a 2xx.
std::string post(asio::io_context& io, ssl::context& tls, const Endpoint& at, const std::string& target,
                 const char* content_type, std::string body, const std::string& bearer) {
  Tls s(io, tls);
  connect(s, io, at);
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, at.host + ":" + at.port);
  req.set(http::field::content_type, content_type);
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(s, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  if (res.result_int() / 100 != 2)
    die("POST " + target + ": HTTP " + std::to_string(res.result_int()) + ": " + res.body());
  return std::move(res.body());
}

// A string member of a JSON object body.
std::string json_member(const std::string& body, const char* key, const char* what) {
  od::parser parser;
  simdjson::padded_string padded(body);
  std::string_view v;
  od::document doc;
  if (parser.iterate(padded).get(doc) || doc.find_field_unordered(key).get_string().get(v))
    die(std::string(what) + ": no string '" + key + "' in " + body);
  return std::string(v);
}

// A client frame (masked, as RFC 6455 requires of clients).
void send_frame(Tls& s, unsigned opcode, std::string_view payload) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  if (payload.size() < 126) {
    f += static_cast<char>(0x80 | payload.size());
  } else {
    if (payload.size() > 65535) die("client frame too large");
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xff);
  }
  static std::uint32_t state = 0x9e3779b9u;
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  char mask[4];
  std::memcpy(mask, &state, 4);
  f.append(mask, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  asio::write(s, asio::buffer(f));
}

}  // namespace

int main(int argc, char** argv) {
  program_name = "cxflow-cxone-baseline";
  if (argc != 4) {
    std::fprintf(stderr, "usage: cxflow-cxone-baseline https://HOST:PORT CA.pem OUT.db\n");
    return 64;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Endpoint at = parse_base(argv[1]);
  const char* id = std::getenv("CXONE_CLIENT_ID");
  const char* secret = std::getenv("CXONE_CLIENT_SECRET");
  Pipeline pipeline(argv[3]);
  std::uint64_t frames = 0, bytes = 0;
  try {
    asio::io_context io;
    ssl::context tls(ssl::context::tls_client);
    tls.load_verify_file(argv[2]);

    // Token, subscription.
    const std::string token =
        json_member(post(io, tls, at, "/oauth/token", "application/x-www-form-urlencoded",
                         "grant_type=client_credentials&client_id=" + form_encode(id ? id : "test-client") +
                             "&client_secret=" + form_encode(secret ? secret : "test-secret") +
                             "&scope=" + form_encode("analytics:read realtime:read events:subscribe"),
                         ""),
                    "access_token", "token response");
    const std::string sub_id = json_member(
        post(
            io, tls, at, "/api/v2/analytics/eventsub", "application/json",
            R"({"subscriptionName":"realtime-dashboard-sub","eventType":"interaction","filters":{"status":"active"},)"
            R"("requestedFields":["interactionId","agentId","metrics.handleTime","metrics.waitTime","metrics.state"]})",
            token),
        "id", "subscription response");

    // WebSocket upgrade and the subscribe message.
    Tls ws(io, tls);
    connect(ws, io, at);
    http::request<http::empty_body> up{http::verb::get, "/api/v2/events", 11};
    up.set(http::field::host, at.host + ":" + at.port);
    up.set(http::field::upgrade, "websocket");
    up.set(http::field::connection, "Upgrade");
    up.set(http::field::sec_websocket_key, kWsKey);
    up.set(http::field::sec_websocket_version, "13");
    up.set(http::field::authorization, "Bearer " + token);
    http::write(ws, up);
    boost::beast::flat_buffer head;
    http::response_parser<http::empty_body> res;
    http::read(ws, head, res);
    if (res.get().result() != http::status::switching_protocols)
      die("WebSocket upgrade: HTTP " + std::to_string(res.get().result_int()));
    if (res.get()[http::field::sec_websocket_accept] != kWsAccept) die("WebSocket upgrade: wrong Sec-WebSocket-Accept");
    send_frame(ws, 0x1,
               R"({"type":"subscribe","subscriptionId":")" + sub_id +
                   R"(","events":["interaction","agent","queue"],"format":"json"})");

    // Frames: buf = [unparsed bytes][room for reads] + simdjson padding.
    std::size_t cap = 4 * kReadBytes;
    auto buf = std::make_unique<char[]>(cap + simdjson::SIMDJSON_PADDING);
    std::size_t pos = 0, have = head.size();
    if (have > cap) die("too much data after the upgrade response");
    std::memcpy(buf.get(), head.data().data(), have);
    for (bool done = false; !done;) {
      std::size_t need = 0;  // bytes of an incomplete frame at pos
      for (;;) {
        const std::size_t avail = have - pos;
        const auto* f = reinterpret_cast<const unsigned char*>(buf.get() + pos);
        if (avail < 2) {
          need = 2;
          break;
        }
        std::uint64_t len = f[1] & 0x7f;
        std::size_t hdr = 2;
        if (len == 126) {
          if (avail < 4) {
            need = 4;
            break;
          }
          len = static_cast<std::uint64_t>(f[2]) << 8 | f[3];
          hdr = 4;
        } else if (len == 127) {
          if (avail < 10) {
            need = 10;
            break;
          }
          len = 0;
          for (int i = 2; i < 10; ++i) len = len << 8 | f[i];
          hdr = 10;
        }
        if (f[1] & 0x80) die("the server sent a masked frame");
        if (len > (1u << 30)) die("frame too large");
        if (hdr + len > avail) {
          need = hdr + static_cast<std::size_t>(len);
          break;
        }
        const unsigned opcode = f[0] & 0x0f;
        if (!(f[0] & 0x80) || opcode == 0x0) die("fragmented message (the fake sends none)");
        const char* payload = buf.get() + pos + hdr;
        const auto n = static_cast<std::size_t>(len);
        if (opcode == 0x1) {
          ++frames;
          pipeline.line(payload, n, static_cast<std::size_t>(buf.get() + cap + simdjson::SIMDJSON_PADDING - payload));
        } else if (opcode == 0x8) {
          const int code =
              n >= 2 ? (static_cast<unsigned char>(payload[0]) << 8 | static_cast<unsigned char>(payload[1])) : 1005;
          send_frame(ws, 0x8, std::string_view(payload, std::min<std::size_t>(n, 2)));  // answer the close
          if (code != 1000) die("the server closed the stream with code " + std::to_string(code));
          done = true;
          break;
        } else if (opcode == 0x9) {
          send_frame(ws, 0xA, std::string_view(payload, n));
        } else if (opcode != 0xA) {
          die("unexpected frame opcode " + std::to_string(opcode));
        }
        pos += hdr + n;
      }
      if (done) break;
      // Room for the next read: move the incomplete frame to the front, grow for a huge one.
      if (cap - have < kReadBytes) {
        if (need + kReadBytes > cap) {
          const std::size_t bigger = std::max(cap * 2, need + kReadBytes);
          auto b = std::make_unique<char[]>(bigger + simdjson::SIMDJSON_PADDING);
          std::memcpy(b.get(), buf.get() + pos, have - pos);
          buf = std::move(b);
          cap = bigger;
        } else {
          std::memmove(buf.get(), buf.get() + pos, have - pos);
        }
        have -= pos;
        pos = 0;
      }
      boost::system::error_code ec;
      const std::size_t got = ws.read_some(asio::buffer(buf.get() + have, std::min(kReadBytes, cap - have)), ec);
      if (ec) die("the connection ended before the end-of-stream close: " + ec.message());
      have += got;
      bytes += got;
    }
    boost::system::error_code ignored;
    ws.next_layer().close(ignored);
  } catch (const std::exception& e) {
    die(e.what());
  }
  pipeline.finish();
  pipeline.report("cxone-baseline", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::fprintf(stderr, "cxone-baseline: %llu frames, %.1f MB read\n", static_cast<unsigned long long>(frames),
               static_cast<double>(bytes) / 1e6);
  return 0;
}
