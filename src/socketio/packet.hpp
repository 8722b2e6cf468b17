// Socket.IO v5 packet codec: pure functions, no I/O.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall::socketio {

enum class PacketType : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct Packet {
  PacketType type = PacketType::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;  // ack id
  boost::json::value data;          // null when absent
  std::size_t attachments = 0;      // number of binary attachments announced (types 5/6)
};

enum class DecodeError : std::uint8_t {
  none = 0,
  empty,
  unknown_type,
  bad_attachments,      // missing '-', non-numeric, or above the limit
  bad_namespace,
  bad_ack_id,           // non-digits or overflow
  bad_json,
  bad_payload,          // payload does not fit the packet type (see below)
  reserved_event_name,  // connect, connect_error, disconnect, disconnecting, newListener, removeListener
};

const char* to_string(DecodeError e) noexcept;

// Decodes the text part of a Socket.IO packet (the Engine.IO message data,
// without the leading '4'). Payload rules (as the Node parser):
//   CONNECT: absent or JSON object.        DISCONNECT: absent.
//   EVENT / BINARY_EVENT: non-empty array, [0] is a string (not reserved) or a number.
//   ACK / BINARY_ACK: array.               CONNECT_ERROR: object or string.
// Attachment count is only allowed for types 5/6 and must be <= max_attachments.
// Trailing garbage after the JSON is bad_json.
DecodeError decode(std::string_view in, Packet& out, std::size_t max_attachments = 10);

// Encodes a packet to its text form (without the Engine.IO '4'), appending to `out`.
// Namespace is written only when != "/", followed by ','. `data` is omitted when null.
// For types 5/6, "<attachments>-" is written after the type digit.
void encode(const Packet& p, std::string& out);

// Builds {"_placeholder":true,"num":n}
boost::json::value make_placeholder(std::size_t num);
// True if v is a placeholder object; stores its number.
bool is_placeholder(const boost::json::value& v, std::size_t* num = nullptr);

// Checks that every placeholder inside `v` has num < attachments and that each
// number in [0, attachments) is used at least once (reconstruction check).
bool placeholders_valid(const boost::json::value& v, std::size_t attachments);

}  // namespace rollcall::socketio
