// libFuzzer target: Engine.IO payload / packet decoding and base64.
// Any inconsistency between decoding and re-encoding traps.
#include "common/encoding.hpp"
#include "engineio/packet.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace eio = rollcall::engineio;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool same_packets(const std::vector<eio::Packet>& a, const std::vector<eio::Packet>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != b[i].type || a[i].binary != b[i].binary || a[i].data != b[i].data) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // Polling payload: decode, re-encode, decode again.
  std::vector<eio::Packet> packets;
  const auto err = eio::decode_payload(in, packets, 64);
  if (err == eio::DecodeError::none) {
    check(!packets.empty() && packets.size() <= 64);
    std::string encoded;
    for (const auto& p : packets) {
      check(!p.binary || p.type == eio::PacketType::message);
      eio::append_payload_record(encoded, p.type, p.data, p.binary);
    }
    // Base64 decoding is strict (canonical only), so the encoding is exact.
    check(encoded == in);
    std::vector<eio::Packet> again;
    check(eio::decode_payload(encoded, again, 64) == eio::DecodeError::none);
    check(same_packets(packets, again));
  } else {
    check(packets.empty());  // errors leave the output untouched
  }

  // Single text packet (WebSocket frame).
  eio::Packet p;
  if (eio::decode_text_packet(in, p) == eio::DecodeError::none) {
    check(!p.binary);
    std::string encoded;
    eio::append_payload_record(encoded, p.type, p.data, false);
    check(encoded == in);
  } else {
    check(in.empty() || in.front() < '0' || in.front() > '6');
  }

  // Base64: decode(x) succeeds only on canonical input; encode/decode round trip.
  if (auto bytes = rollcall::base64_decode(in)) {
    check(bytes->size() == in.size() / 4 * 3 - (in.size() - in.find_last_not_of('=') - 1) ||
          in.empty());
    check(rollcall::base64_encode(*bytes) == in);
  }
  const std::string enc = rollcall::base64_encode(in);
  check(enc.size() == (size + 2) / 3 * 4);
  auto dec = rollcall::base64_decode(enc);
  check(dec.has_value() && *dec == in);

  // Session id tag parsing must never crash; valid ids keep their tag.
  if (auto tag = eio::id_tag(in)) check(in.size() == 20);
  return 0;
}
