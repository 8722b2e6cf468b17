// Engine.IO v4 packet codec: pure functions, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall::engineio {

enum class PacketType : std::uint8_t {
  open = 0,
  close = 1,
  ping = 2,
  pong = 3,
  message = 4,
  upgrade = 5,
  noop = 6,
};

// One decoded Engine.IO packet. `data` is a copy of the text after the type
// digit (text packets) or the decoded bytes (base64 binary in a polling payload).
struct Packet {
  PacketType type = PacketType::message;
  bool binary = false;  // true only for binary messages
  std::string data;     // payload after the type digit (text) or raw bytes (binary)
};

enum class DecodeError : std::uint8_t {
  none = 0,
  empty_packet,     // zero-length text packet
  unknown_type,     // type character is not 0-6
  bad_base64,       // "b..." record whose base64 does not decode
  too_many_packets, // payload holds more records than allowed
};

const char* to_string(DecodeError e) noexcept;

// Decodes one text packet (a WebSocket text frame): "<type digit><data>".
// Returns DecodeError::none on success.
DecodeError decode_text_packet(std::string_view in, Packet& out);

// Decodes an HTTP long-polling payload: records separated by '\x1e'; a record
// starting with 'b' is a base64 binary message. Appends to `out`.
// `max_packets` bounds the number of records (guards against "\x1e\x1e\x1e...").
DecodeError decode_payload(std::string_view in, std::vector<Packet>& out,
                           std::size_t max_packets = 10000);

// Appends the polling encoding of one packet to `out`, inserting the '\x1e'
// separator first when `out` is non-empty.
// Text: "<digit><data>"; binary message: "b" + base64(data).
void append_payload_record(std::string& out, PacketType type, std::string_view data,
                           bool binary);

// Session ids: 20 characters of URL-safe base64 from 15 CSPRNG bytes.
// The first byte is `tag` (the owning event loop index), so any loop can
// route a request to the loop that owns the session without shared state.
std::string make_id(std::uint8_t tag);
// Reads the tag back; nullopt when `id` is not a 20-char URL-safe base64 string.
std::optional<std::uint8_t> id_tag(std::string_view id);

}  // namespace rollcall::engineio
