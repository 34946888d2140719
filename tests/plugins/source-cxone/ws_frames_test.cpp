// source-cxone's WebSocket framing (ws_frames.hpp): server frames parsed in place, fragments
// joined, control frames, every protocol violation the reader refuses, oversize detection from
// the header, client frames (masked) and the read buffer. No network: frames are built here
// byte by byte as RFC 6455 section 5.2 lays them out.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ws_frames.hpp"

namespace cxflow::cxone {
namespace {

constexpr std::size_t kPad = 64;
using Kind = WsReader::Kind;

// A server frame: FIN, RSV bits, opcode, the shortest length form, optional mask.
std::string server_frame(unsigned opcode, std::string_view payload, bool fin = true, unsigned rsv = 0,
                         bool masked = false, int force_len_form = 0) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | opcode));
  const std::uint64_t n = payload.size();
  const int form = force_len_form ? force_len_form : (n < 126 ? 7 : n <= 0xFFFF ? 16 : 64);
  const char mbit = masked ? static_cast<char>(0x80) : 0;
  if (form == 7) {
    f.push_back(static_cast<char>(mbit | n));
  } else if (form == 16) {
    f.push_back(static_cast<char>(mbit | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xFF));
  } else {
    f.push_back(static_cast<char>(mbit | 127));
    for (int s = 56; s >= 0; s -= 8) f.push_back(static_cast<char>((n >> s) & 0xFF));
  }
  if (masked) f.append("\0\0\0\0", 4);  // a zero mask leaves the payload as it is
  f.append(payload);
  return f;
}

// Feeds `wire` through an RxBuffer `piece` bytes at a time, as the network thread does, and
// collects what the reader yields.
struct Collected {
  std::vector<Kind> kinds;
  std::vector<std::string> payloads;
  std::vector<int> codes;
  std::string error;
};
Collected feed(const std::string& wire, std::size_t piece, std::size_t max_message = 1 << 20) {
  RxBuffer rx(64, kPad);
  WsReader reader(max_message, kPad);
  Collected out;
  std::size_t at = 0, need = 0;
  for (;;) {
    for (;;) {
      std::size_t used = 0;
      const auto item = reader.next(rx.data(), used);
      if (item.kind == Kind::need_more) {
        rx.consume(used);
        need = item.need;
        break;
      }
      out.kinds.push_back(item.kind);
      out.payloads.emplace_back(item.payload);
      out.codes.push_back(item.close_code);
      if (item.kind == Kind::message) {
        // The decoder reads up to kPad bytes past the message: they must be readable (ASan or
        // valgrind would flag it) - touch them.
        volatile char sink = 0;
        for (std::size_t i = 0; i < kPad; ++i) sink = sink ^ item.payload.data()[item.payload.size() + i];
      }
      if (item.kind == Kind::protocol_error || item.kind == Kind::too_big) {
        out.error = item.error;
        return out;
      }
      rx.consume(used);
    }
    if (at == wire.size()) return out;
    std::size_t room = 0;
    char* p = rx.prepare(need, room);
    const std::size_t n = std::min({piece, room, wire.size() - at});
    std::memcpy(p, wire.data() + at, n);
    rx.commit(n);
    at += n;
  }
}

TEST(WsReader, AnUnfragmentedMessageIsParsedInPlace) {
  const std::string wire = server_frame(0x1, R"({"eventType":"interaction"})");
  std::size_t used = 0;
  std::string padded = wire + std::string(kPad, '\0');
  WsReader reader(1024, kPad);
  const auto item = reader.next(std::string_view(padded.data(), wire.size()), used);
  ASSERT_EQ(item.kind, Kind::message);
  EXPECT_EQ(item.payload, R"({"eventType":"interaction"})");
  EXPECT_EQ(item.payload.data(), padded.data() + 2);  // a view into the input, not a copy
  EXPECT_EQ(used, wire.size());
}

TEST(WsReader, EveryLengthFormAndEverySplitPointGiveTheSameMessages) {
  const std::string a(5, 'a'), b(125, 'b'), c(126, 'c'), d(300, 'd'), e(65535, 'e'), f(65536, 'f');
  const std::string wire = server_frame(0x1, a) + server_frame(0x1, b) + server_frame(0x2, c) + server_frame(0x1, d) +
                           server_frame(0x1, e) + server_frame(0x1, f) + server_frame(0x1, "") +
                           server_frame(0x1, "x", true, 0, false, 64);  // a non-minimal length is accepted
  const std::vector<std::string> want = {a, b, c, d, e, f, "", "x"};
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{64},
                            std::size_t{1000}, wire.size()}) {
    const Collected got = feed(wire, piece);
    ASSERT_EQ(got.payloads, want) << "piece " << piece;
    for (Kind k : got.kinds) EXPECT_EQ(k, Kind::message);
  }
}

TEST(WsReader, FragmentsAreJoinedWithControlFramesBetweenThem) {
  const std::string wire = server_frame(0x1, "{\"a\":", false) + server_frame(0x9, "are you there") +
                           server_frame(0x0, "1,\"b\"", false) + server_frame(0xA, "") + server_frame(0x0, ":2}") +
                           server_frame(0x1, "next") + server_frame(0x1, "[1,", false) + server_frame(0x0, "2]");
  for (std::size_t piece : {std::size_t{1}, std::size_t{5}, wire.size()}) {
    const Collected got = feed(wire, piece);
    ASSERT_EQ(got.kinds, (std::vector<Kind>{Kind::ping, Kind::pong, Kind::message, Kind::message, Kind::message}))
        << piece;
    EXPECT_EQ(got.payloads[0], "are you there");
    EXPECT_EQ(got.payloads[2], "{\"a\":1,\"b\":2}");
    EXPECT_EQ(got.payloads[3], "next");
    EXPECT_EQ(got.payloads[4], "[1,2]");  // a second joined message starts from nothing
  }
}

TEST(WsReader, CloseFramesCarryTheirCodeAndReason) {
  Collected got = feed(server_frame(0x8, std::string("\x0f\xa1", 2) + "token expired"), 3);
  ASSERT_EQ(got.kinds, std::vector<Kind>{Kind::close});
  EXPECT_EQ(got.codes[0], 4001);
  EXPECT_EQ(got.payloads[0], "token expired");
  got = feed(server_frame(0x8, ""), 100);
  ASSERT_EQ(got.kinds, std::vector<Kind>{Kind::close});
  EXPECT_EQ(got.codes[0], 1005);  // no code in the frame
}

TEST(WsReader, ProtocolViolationsAreRefusedWithAReason) {
  struct Case {
    std::string wire;
    const char* mentions;
  };
  const std::vector<Case> cases = {
      {server_frame(0x1, "x", true, 0, true), "masked"},
      {server_frame(0x1, "x", true, 4), "reserved bits"},
      {server_frame(0x3, "x"), "unknown data opcode"},
      {server_frame(0xB, "x"), "unknown control opcode"},
      {server_frame(0x9, "x", false), "fragmented control"},
      {server_frame(0x9, std::string(126, 'p')), "longer than 125"},
      {server_frame(0x0, "x"), "continuation frame outside"},
      {server_frame(0x1, "x", false) + server_frame(0x1, "y"), "new message inside"},
      {server_frame(0x8, "x"), "1-byte"},
      {server_frame(0x8, std::string("\x03\xe7", 2)), "invalid code"},  // 999
      {server_frame(0x8, std::string("\x03\xed", 2)), "invalid code"},  // 1005 may not be sent
      {std::string("\x81\x7f\x80\0\0\0\0\0\0\x01", 10), "most significant bit"},
  };
  for (const auto& c : cases) {
    const Collected got = feed(c.wire, 1);
    ASSERT_FALSE(got.kinds.empty()) << c.mentions;
    EXPECT_EQ(got.kinds.back(), Kind::protocol_error) << c.mentions;
    EXPECT_NE(got.error.find(c.mentions), std::string::npos) << got.error;
  }
}

TEST(WsReader, AnOversizedMessageIsRefusedFromItsHeaderAlone) {
  // Only the 10-byte header of a 2 MiB frame: too_big without waiting for the payload.
  const std::string header = server_frame(0x1, std::string(2 << 20, 'z')).substr(0, 10);
  Collected got = feed(header, 10, 1 << 20);
  ASSERT_EQ(got.kinds, std::vector<Kind>{Kind::too_big});
  // Fragments that add up past the limit.
  const std::string wire = server_frame(0x1, std::string(600, 'a'), false) + server_frame(0x0, std::string(600, 'b'));
  got = feed(wire, 64, 1000);
  ASSERT_EQ(got.kinds, std::vector<Kind>{Kind::too_big});
  // Exactly at the limit is fine.
  got = feed(server_frame(0x1, std::string(1000, 'c')), 64, 1000);
  ASSERT_EQ(got.kinds, std::vector<Kind>{Kind::message});
}

TEST(WsWriter, ClientFramesAreMaskedWithTheShortestLength) {
  for (std::size_t n : {std::size_t{0}, std::size_t{125}, std::size_t{126}, std::size_t{65535}, std::size_t{65536}}) {
    std::string payload(n, '\0');
    for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string f;
    append_client_frame(f, 0x1, payload, 0xA1B2C3D4u);
    const auto* p = reinterpret_cast<const unsigned char*>(f.data());
    EXPECT_EQ(p[0], 0x81);
    EXPECT_TRUE(p[1] & 0x80) << "client frames must be masked";
    std::size_t hdr = 2;
    std::uint64_t len = p[1] & 0x7F;
    if (len == 126) {
      len = static_cast<std::uint64_t>(p[2]) << 8 | p[3];
      hdr = 4;
    } else if (len == 127) {
      len = 0;
      for (int i = 2; i < 10; ++i) len = len << 8 | p[i];
      hdr = 10;
    }
    EXPECT_EQ(len, n);
    EXPECT_EQ(hdr, n < 126 ? 2u : n <= 65535 ? 4u : 10u) << "the shortest form for " << n;
    ASSERT_EQ(f.size(), hdr + 4 + n);
    const unsigned char* key = p + hdr;
    EXPECT_EQ(key[0], 0xA1);
    EXPECT_EQ(key[3], 0xD4);
    std::string unmasked(n, '\0');
    for (std::size_t i = 0; i < n; ++i) unmasked[i] = static_cast<char>(p[hdr + 4 + i] ^ key[i % 4]);
    EXPECT_EQ(unmasked, payload);
  }
  EXPECT_EQ(close_payload(1001, "going away"), std::string("\x03\xe9going away", 12));
  EXPECT_EQ(close_payload(1000, std::string(200, 'r')).size(), 125u);  // fits a control frame
}

TEST(RxBuffer, KeepsUnreadBytesAcrossCompactionAndGrowth) {
  RxBuffer rx(16, kPad);
  std::string expect;
  std::mt19937 rng(7);
  std::size_t room = 0;
  for (int round = 0; round < 200; ++round) {
    const std::size_t need = (round % 17 == 0) ? rx.size() + 100 : 0;  // sometimes a frame larger than the buffer
    char* p = rx.prepare(need, room);
    ASSERT_GE(room, std::size_t{16});
    ASSERT_GE(rx.size() + room, need);
    const std::size_t n = rng() % room + 1;
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>('A' + (expect.size() + i) % 26);
    rx.commit(n);
    expect.append(p, n);
    ASSERT_EQ(rx.data(), expect);
    const std::size_t eat = rng() % (rx.size() + 1);
    rx.consume(eat);
    expect.erase(0, eat);
    ASSERT_EQ(rx.data(), expect);
  }
}

}  // namespace
}  // namespace cxflow::cxone
