// Template definition of ws::Parser::feed (included at the end of ws/frame.hpp).
#pragma once

#include "ws/frame.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace rollcall::ws::detail {

// What is known about the frame at the start of a buffer. Fields are filled
// progressively: opcode/fin once 1 byte is present, header_len once 2 bytes
// are, payload_len/mask/total once the whole header is.
struct FrameInfo {
  bool have_opcode = false;
  bool fin = false;
  std::uint8_t opcode = 0;
  std::size_t header_len = 0;   // 0 until known
  bool complete_header = false;
  std::uint64_t payload_len = 0;
  std::uint8_t mask[4] = {0, 0, 0, 0};
};

constexpr bool is_control(std::uint8_t opcode) noexcept { return (opcode & 0x8) != 0; }

// Inspects up to `n` bytes at `p` and applies every header rule the available
// bytes allow, always in the same order so the verdict does not depend on how
// the stream was segmented: RSV bits, opcode, control FIN, continuation state
// (`in_message`), mask bit, control length, 64-bit length MSB, and finally
// the data-frame size against `room` (bytes left under the message limit).
// Defined in frame.cpp.
Parser::Error inspect_frame(const unsigned char* p, std::size_t n, bool in_message,
                            std::size_t room, FrameInfo& f) noexcept;

// dst[i] = src[i] ^ mask[i % 4]; src and dst may be the same.
void unmask(const unsigned char* src, char* dst, std::size_t len,
            const std::uint8_t mask[4]) noexcept;

// Close payload check: sets code (1005 when empty) and reason, false when invalid.
bool parse_close_payload(std::string_view payload, std::uint16_t& code,
                         std::string_view& reason) noexcept;

}  // namespace rollcall::ws::detail

namespace rollcall::ws {

template <class Handler>
Parser::Error Parser::feed(std::string_view in, Handler& h) {
  if (closed_) return Error::none;

  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size();

  auto fail = [this](Error e) {
    // The connection is going away; drop buffers so a stray later feed()
    // starts from a clean state.
    pending_.clear();
    message_.clear();
    in_message_ = false;
    return e;
  };

  // Header checks, including the message state ones. Only uses the header
  // bytes, so the size limit is enforced before any payload is buffered.
  auto check = [this](const unsigned char* d, std::size_t avail, detail::FrameInfo& f) {
    // Invariant: message_.size() <= max_message_.
    return detail::inspect_frame(d, avail, in_message_, max_message_ - message_.size(), f);
  };

  // Handles one complete frame whose first byte is at `d`.
  auto process = [this, &h](const unsigned char* d, const detail::FrameInfo& f) -> Error {
    const unsigned char* payload = d + f.header_len;
    const auto len = static_cast<std::size_t>(f.payload_len);
    if (detail::is_control(f.opcode)) {
      char buf[125];
      detail::unmask(payload, buf, len, f.mask);
      const std::string_view body(buf, len);
      switch (static_cast<Opcode>(f.opcode)) {
        case Opcode::close: {
          std::uint16_t code = 0;
          std::string_view reason;
          if (!detail::parse_close_payload(body, code, reason)) return Error::bad_close_payload;
          closed_ = true;
          pending_.clear();
          message_.clear();
          in_message_ = false;
          h.on_close(code, reason);
          return Error::none;
        }
        case Opcode::ping: h.on_ping(body); return Error::none;
        case Opcode::pong: h.on_pong(body); return Error::none;
        default: return Error::bad_opcode;  // unreachable: inspect_frame rejects others
      }
    }
    const auto op = static_cast<Opcode>(f.opcode);
    if (f.fin && !in_message_) {
      // Unfragmented message: unmask straight from the input.
      std::string msg(len, '\0');
      detail::unmask(payload, msg.data(), len, f.mask);
      if (op == Opcode::text && !valid_utf8(msg)) return Error::bad_utf8;
      h.on_message(op, std::move(msg));
      return Error::none;
    }
    if (!in_message_) {
      in_message_ = true;
      message_op_ = op;
    }
    const std::size_t old = message_.size();
    message_.resize(old + len);
    detail::unmask(payload, message_.data() + old, len, f.mask);
    if (f.fin) {
      std::string msg = std::move(message_);
      message_.clear();
      in_message_ = false;
      const Opcode msg_op = message_op_;
      message_op_ = Opcode::continuation;
      if (msg_op == Opcode::text && !valid_utf8(msg)) return Error::bad_utf8;
      h.on_message(msg_op, std::move(msg));
    }
    return Error::none;
  };

  // 1) Finish a frame that started in an earlier read: append only the bytes
  //    it still needs, never the following frames.
  if (!pending_.empty()) {
    detail::FrameInfo f;
    for (;;) {
      f = detail::FrameInfo{};
      const auto* d = reinterpret_cast<const unsigned char*>(pending_.data());
      const Error e = check(d, pending_.size(), f);
      if (e != Error::none) return fail(e);
      std::size_t need = 2;
      if (f.complete_header) {
        need = f.header_len + static_cast<std::size_t>(f.payload_len);
      } else if (f.header_len != 0) {
        need = f.header_len;
      }
      if (f.complete_header && pending_.size() >= need) break;
      if (n == 0) return Error::none;
      const std::size_t take = std::min(need - pending_.size(), n);
      pending_.append(reinterpret_cast<const char*>(p), take);
      p += take;
      n -= take;
    }
    const std::string frame = std::move(pending_);
    pending_.clear();
    const Error e = process(reinterpret_cast<const unsigned char*>(frame.data()), f);
    if (e != Error::none) return fail(e);
    if (closed_) return Error::none;
  }

  // 2) Whole frames inside `in` are processed in place; an incomplete tail
  //    is copied to pending_.
  while (n > 0) {
    detail::FrameInfo f;
    const Error e = check(p, n, f);
    if (e != Error::none) return fail(e);
    if (!f.complete_header || n - f.header_len < f.payload_len) {
      pending_.assign(reinterpret_cast<const char*>(p), n);
      return Error::none;
    }
    const Error pe = process(p, f);
    if (pe != Error::none) return fail(pe);
    if (closed_) return Error::none;
    const std::size_t total = f.header_len + static_cast<std::size_t>(f.payload_len);
    p += total;
    n -= total;
  }
  return Error::none;
}

}  // namespace rollcall::ws
