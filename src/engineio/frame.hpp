// An outgoing Engine.IO packet, encoded once and shared by every recipient.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rollcall {

// The buffer holds a complete unmasked WebSocket frame starting at ws_start;
// the Engine.IO packet itself (type digit + data, or raw bytes for binary)
// starts at payload_start. WebSocket writes the frame bytes as they are;
// polling uses the payload.
struct Frame {
  std::shared_ptr<const std::string> buf;
  std::uint16_t ws_start = 0;
  std::uint16_t payload_start = 0;
  bool binary = false;

  std::string_view ws_bytes() const noexcept {
    return std::string_view(*buf).substr(ws_start);
  }
  std::string_view payload() const noexcept {
    return std::string_view(*buf).substr(payload_start);
  }
  std::size_t size() const noexcept { return buf->size() - ws_start; }
};

// Space reserved in front of a payload for the WebSocket header.
inline constexpr std::size_t kFrameHeadroom = 10;

// Starts a buffer for make_frame: kFrameHeadroom bytes of headroom, then
// append the Engine.IO packet (e.g. '4' + Socket.IO text).
inline std::string frame_buffer(std::size_t reserve = 64) {
  std::string s;
  s.reserve(kFrameHeadroom + reserve);
  s.assign(kFrameHeadroom, '\0');
  return s;
}

// Finishes a buffer started with frame_buffer(): writes the WebSocket header
// into the headroom.
Frame make_frame(std::string&& buf, bool binary);
// Convenience: a text Engine.IO packet from its type digit and data.
Frame make_text_frame(char type, std::string_view data);
Frame make_binary_frame(std::string_view bytes);

}  // namespace rollcall
