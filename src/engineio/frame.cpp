// Frames: the WebSocket header written into the buffer's headroom.
#include "engineio/frame.hpp"

#include "ws/frame.hpp"

#include <cstring>

namespace rollcall {

Frame make_frame(std::string&& buf, bool binary) {
  std::size_t len = buf.size() - kFrameHeadroom;
  std::uint8_t header[kFrameHeadroom];
  std::size_t n = ws::write_header(header, binary ? ws::Opcode::binary : ws::Opcode::text, len);
  std::memcpy(buf.data() + kFrameHeadroom - n, header, n);
  return Frame{std::make_shared<const std::string>(std::move(buf)),
               static_cast<std::uint16_t>(kFrameHeadroom - n),
               static_cast<std::uint16_t>(kFrameHeadroom), binary};
}

Frame make_text_frame(char type, std::string_view data) {
  std::string buf = frame_buffer(data.size() + 1);
  buf += type;
  buf += data;
  return make_frame(std::move(buf), false);
}

Frame make_binary_frame(std::string_view bytes) {
  std::string buf = frame_buffer(bytes.size());
  buf += bytes;
  return make_frame(std::move(buf), true);
}

}  // namespace rollcall
