// Server-side WebSocket (RFC 6455) framing: pure functions, no I/O.
// We frame by hand so a broadcast frame is built once and written unchanged
// to every recipient (server frames are unmasked).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rollcall::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

// Close status codes we send.
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  invalid_payload = 1007,   // bad UTF-8 in a text message
  policy_violation = 1008,
  too_big = 1009,
  internal_error = 1011,
};

// Writes an unmasked server frame header for a payload of `len` bytes into
// `out` (at most 10 bytes); returns the header length.
std::size_t write_header(std::uint8_t* out, Opcode op, std::size_t len, bool fin = true);

// Builds a complete unmasked frame (header + payload).
std::string make_frame(Opcode op, std::string_view payload);
// Close frame with a status code and a reason (reason truncated to fit 125 bytes).
std::string make_close_frame(CloseCode code, std::string_view reason = {});

// Incremental parser for client->server frames. Feed it bytes; it reassembles
// fragmented messages, unmasks, validates, and reports complete messages and
// control frames through the Handler.
//
// Handler must provide:
//   void on_message(Opcode op /*text|binary*/, std::string&& payload);
//   void on_ping(std::string_view payload);
//   void on_pong(std::string_view payload);
//   void on_close(std::uint16_t code /*1005 if none*/, std::string_view reason);
class Parser {
 public:
  enum class Error : std::uint8_t {
    none = 0,
    not_masked,          // client frames must be masked   -> 1002
    reserved_bits,       // RSV1-3 set (no extensions)     -> 1002
    bad_opcode,          // unknown opcode                 -> 1002
    bad_control_frame,   // fragmented or > 125 bytes      -> 1002
    bad_continuation,    // continuation without a start, or a new start mid-message -> 1002
    too_big,             // message above max_message      -> 1009
    bad_utf8,            // text message not valid UTF-8   -> 1007
    bad_close_payload,   // 1-byte close payload, invalid code, bad UTF-8 reason -> 1002
  };

  explicit Parser(std::size_t max_message) : max_message_(max_message) {}

  // Consumes as much of `in` as forms complete frames; partial frames are kept
  // internally. Returns Error::none or the first error (the connection must
  // then be closed with close_code_for(error)). Stops after a close frame.
  template <class Handler>
  Error feed(std::string_view in, Handler& h);

  static CloseCode close_code_for(Error e) noexcept;
  static const char* to_string(Error e) noexcept;

  // Bytes buffered for an incomplete frame/message (for memory accounting).
  std::size_t buffered() const noexcept { return pending_.size() + message_.size(); }
  bool closed() const noexcept { return closed_; }

 private:
  std::size_t max_message_;
  std::string pending_;   // incomplete frame bytes (only when a frame spans reads)
  std::string message_;   // fragmented message being assembled
  Opcode message_op_ = Opcode::continuation;
  bool in_message_ = false;
  bool closed_ = false;
};

// True if `s` is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

// Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

}  // namespace rollcall::ws

#include "ws/frame_impl.hpp"  // template definition of Parser::feed
