// source-cxone: WebSocket framing, client side (see ws_frames.hpp).
#include "ws_frames.hpp"

#include <algorithm>
#include <cstring>

namespace cxflow::cxone {

// ---- RxBuffer --------------------------------------------------------------------------------

RxBuffer::RxBuffer(std::size_t chunk, std::size_t padding)
    : chunk_(chunk), padding_(padding), cap_(2 * chunk), mem_(new char[2 * chunk + padding]) {
  std::memset(mem_.get(), 0, cap_ + padding_);
}

void RxBuffer::consume(std::size_t n) noexcept {
  begin_ += std::min(n, size());
  if (begin_ == end_) begin_ = end_ = 0;
}

char* RxBuffer::prepare(std::size_t need, std::size_t& room) {
  const std::size_t required = std::max(size() + chunk_, need);
  if (cap_ - begin_ < required) {
    if (cap_ >= required) {
      std::memmove(mem_.get(), mem_.get() + begin_, size());
    } else {
      const std::size_t cap = std::max(required, 2 * cap_);
      std::unique_ptr<char[]> mem(new char[cap + padding_]);
      std::memcpy(mem.get(), mem_.get() + begin_, size());
      std::memset(mem.get() + size(), 0, cap + padding_ - size());
      mem_ = std::move(mem);
      cap_ = cap;
    }
    end_ -= begin_;
    begin_ = 0;
  }
  room = cap_ - end_;
  return mem_.get() + end_;
}

// ---- WsReader --------------------------------------------------------------------------------

namespace {

constexpr unsigned kContinuation = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA;

WsReader::Item failure(WsReader::Kind kind, const char* why) {
  WsReader::Item it;
  it.kind = kind;
  it.error = why;
  return it;
}

bool valid_close_code(int code) {
  if (code < 1000 || code >= 5000) return false;
  return code != 1004 && code != 1005 && code != 1006 && code != 1015;
}

}  // namespace

WsReader::WsReader(std::size_t max_message, std::size_t padding) : max_message_(max_message), padding_(padding) {}

WsReader::Item WsReader::next(std::string_view in, std::size_t& used) {
  used = 0;
  if (!in_message_ && !frag_.empty()) frag_.clear();  // the joined message handed out last time
  for (;;) {
    const auto* p = reinterpret_cast<const unsigned char*>(in.data() + used);
    const std::size_t avail = in.size() - used;
    Item more;
    if (avail < 2) return more;
    const bool fin = (p[0] & 0x80) != 0;
    const unsigned opcode = p[0] & 0x0F;
    if ((p[0] & 0x70) != 0)
      return failure(Kind::protocol_error, "reserved bits set in a frame header (no extension was negotiated)");
    if ((p[1] & 0x80) != 0) return failure(Kind::protocol_error, "a masked frame from the server");
    std::size_t hdr = 2;
    std::uint64_t len = p[1] & 0x7F;
    if (len == 126)
      hdr = 4;
    else if (len == 127)
      hdr = 10;
    if (avail < hdr) {
      more.need = hdr;
      return more;
    }
    if (len == 126) {
      len = static_cast<std::uint64_t>(p[2]) << 8 | p[3];
    } else if (len == 127) {
      len = 0;
      for (int i = 2; i < 10; ++i) len = len << 8 | p[i];
      if (len >> 63) return failure(Kind::protocol_error, "a frame length with the most significant bit set");
    }
    const bool control = (opcode & 0x8) != 0;
    if (control) {
      if (opcode != kClose && opcode != kPing && opcode != kPong)
        return failure(Kind::protocol_error, "an unknown control opcode");
      if (!fin) return failure(Kind::protocol_error, "a fragmented control frame");
      if (len > 125) return failure(Kind::protocol_error, "a control frame longer than 125 bytes");
    } else {
      if (opcode != kContinuation && opcode != kText && opcode != kBinary)
        return failure(Kind::protocol_error, "an unknown data opcode");
      if (opcode == kContinuation && !in_message_)
        return failure(Kind::protocol_error, "a continuation frame outside a message");
      if (opcode != kContinuation && in_message_)
        return failure(Kind::protocol_error, "a new message inside a fragmented one");
      if (frag_.size() + len > max_message_) return failure(Kind::too_big, "message larger than max_message_size");
    }
    const std::size_t total = hdr + static_cast<std::size_t>(len);
    if (avail < total) {
      more.need = total;
      return more;
    }
    const std::string_view payload(in.data() + used + hdr, static_cast<std::size_t>(len));
    used += total;
    Item it;
    if (control) {
      if (opcode == kPing)
        it.kind = Kind::ping;
      else if (opcode == kPong)
        it.kind = Kind::pong;
      else {
        it.kind = Kind::close;
        if (payload.size() == 1) return failure(Kind::protocol_error, "a close frame with a 1-byte payload");
        if (payload.size() >= 2) {
          it.close_code = static_cast<unsigned char>(payload[0]) << 8 | static_cast<unsigned char>(payload[1]);
          if (!valid_close_code(it.close_code))
            return failure(Kind::protocol_error, "a close frame with an invalid code");
          it.payload = payload.substr(2);
          return it;
        }
      }
      it.payload = payload;
      return it;
    }
    if (fin && !in_message_) {  // the usual case: one frame, parsed in place
      it.kind = Kind::message;
      it.payload = payload;
      return it;
    }
    frag_.append(payload);
    in_message_ = !fin;
    if (!fin) continue;
    const std::size_t n = frag_.size();
    frag_.append(padding_, '\0');
    it.kind = Kind::message;
    it.payload = std::string_view(frag_.data(), n);
    return it;
  }
}

// ---- Writing ---------------------------------------------------------------------------------

void append_client_frame(std::string& out, unsigned opcode, std::string_view payload, std::uint32_t mask) {
  out.push_back(static_cast<char>(0x80 | (opcode & 0x0F)));
  const std::uint64_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
  }
  const unsigned char key[4] = {static_cast<unsigned char>(mask >> 24), static_cast<unsigned char>(mask >> 16),
                                static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
  out.append(reinterpret_cast<const char*>(key), 4);
  const std::size_t at = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < payload.size(); ++i) out[at + i] = static_cast<char>(out[at + i] ^ key[i % 4]);
}

std::string close_payload(int code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xFF));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason.substr(0, 123));
  return p;
}

}  // namespace cxflow::cxone
