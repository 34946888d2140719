// source-cxone: the client side of the WebSocket framing (RFC 6455 section 5), without Boost.
//
// Beast reads a WebSocket 1.5 KiB at a time and completes every frame through a posted handler:
// at a few hundred bytes per event that is one trip through the io_context per event. Here the
// network thread reads 64 KiB at a time into an RxBuffer and WsReader parses every complete frame
// in place: an unfragmented message (the usual case) reaches the decoder as a view into the read
// buffer, with the decoder's padding readable after it. Beast still does the HTTP upgrade.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace cxflow::cxone {

// Bytes received from the socket and not parsed yet. Always keeps `padding` readable bytes after
// its end, so a message parsed in place can go to a decoder that reads past it.
class RxBuffer {
 public:
  RxBuffer(std::size_t chunk, std::size_t padding);
  std::string_view data() const noexcept { return {mem_.get() + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  void consume(std::size_t n) noexcept;
  // Room for a read: at least `chunk` bytes, and enough for `need` bytes in all (a frame that is
  // larger than what the buffer holds). Moves the unread bytes to the front or grows as needed.
  char* prepare(std::size_t need, std::size_t& room);
  void commit(std::size_t n) noexcept { end_ += n; }

 private:
  std::size_t chunk_, padding_, cap_ = 0, begin_ = 0, end_ = 0;
  std::unique_ptr<char[]> mem_;
};

// Parses server-to-client frames. Data frames (text or binary; fragmented messages are joined)
// come out as whole messages; control frames one by one. Protocol violations come out as
// `protocol_error` with a reason; a message over `max_message` as `too_big` as soon as a frame
// header says so, before its payload is read.
class WsReader {
 public:
  enum class Kind { need_more, message, ping, pong, close, protocol_error, too_big };
  struct Item {
    Kind kind = Kind::need_more;
    // message: the whole message (with `padding` readable bytes after it); ping/pong: the
    // payload; close: the reason text.
    std::string_view payload;
    int close_code = 1005;   // close: 1005 when the frame carries no code
    const char* error = "";  // protocol_error / too_big: what was wrong
    std::size_t need = 0;    // need_more: bytes the next frame needs in all (0: unknown yet)
  };

  WsReader(std::size_t max_message, std::size_t padding);
  // The next item from `in`; `used` is set to the bytes of `in` it consumed (fragments of a
  // message are consumed into an internal buffer even when the result is need_more).
  // A view in the result is valid until the next call and until `in`'s bytes are consumed.
  Item next(std::string_view in, std::size_t& used);

 private:
  std::size_t max_message_, padding_;
  bool in_message_ = false;  // a fragmented message has started
  std::string frag_;         // its payload so far (+ padding when complete)
};

// Client-to-server frame with FIN set, masked with `mask` (RFC 6455 5.3): appended to `out`.
void append_client_frame(std::string& out, unsigned opcode, std::string_view payload, std::uint32_t mask);
// Close frame payload: the code (network order) and the reason, cut to fit a control frame.
std::string close_payload(int code, std::string_view reason);

}  // namespace cxflow::cxone
