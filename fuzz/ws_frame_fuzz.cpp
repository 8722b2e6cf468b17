// libFuzzer target: WebSocket client-frame parser. The input is fed in two
// pieces split at a position chosen by the first byte (then the rest in
// small chunks), and the same input fed in one piece must give the same
// events. Must never crash; messages stay within the limit.
#include "ws/frame.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ws = rollcall::ws;

namespace {

constexpr std::size_t kMaxMessage = 1024;  // small, so fragmented too_big is reachable

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Recorder {
  std::vector<std::string> events;
  void on_message(ws::Opcode op, std::string&& payload) {
    check(op == ws::Opcode::text || op == ws::Opcode::binary);
    check(payload.size() <= kMaxMessage);
    if (op == ws::Opcode::text) check(ws::valid_utf8(payload));
    events.push_back(std::string(op == ws::Opcode::text ? "T" : "B") + payload);
  }
  void on_ping(std::string_view p) {
    check(p.size() <= 125);
    events.push_back("i" + std::string(p));
  }
  void on_pong(std::string_view p) {
    check(p.size() <= 125);
    events.push_back("o" + std::string(p));
  }
  void on_close(std::uint16_t code, std::string_view reason) {
    check(reason.size() <= 123 && ws::valid_utf8(reason));
    events.push_back("c" + std::to_string(code) + ":" + std::string(reason));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = body.empty() ? 0 : data[0] % (body.size() + 1);
  const std::size_t chunk = 1 + (data[0] >> 5);  // 1..8 bytes per later feed

  // Whole input at once.
  ws::Parser whole(kMaxMessage);
  Recorder r1;
  const ws::Parser::Error e1 = whole.feed(body, r1);
  check(whole.buffered() <= kMaxMessage + 14);

  // Split: first piece, then small chunks.
  ws::Parser pieces(kMaxMessage);
  Recorder r2;
  ws::Parser::Error e2 = pieces.feed(body.substr(0, split), r2);
  for (std::size_t pos = split; e2 == ws::Parser::Error::none && pos < body.size();
       pos += chunk) {
    e2 = pieces.feed(body.substr(pos, chunk), r2);
    check(pieces.buffered() <= kMaxMessage + 14);
  }

  // Same verdict and same events whatever the segmentation (an error may be
  // detected earlier with more data in hand, but never a different one).
  check(e1 == e2);
  check(r1.events == r2.events);
  check(whole.closed() == pieces.closed());
  (void)ws::Parser::to_string(e1);
  (void)ws::Parser::close_code_for(e1);

  // Feeding after an error or a close must stay memory-safe.
  (void)whole.feed(body, r1);
  return 0;
}
