// The msgpack messages of the classic @socket.io/redis-adapter 8 and of
// @socket.io/redis-emitter 5 (shared/docs/socketio-protocol.md, section 4.1),
// as plain structs. Pure functions, no I/O:
//   broadcast           [uid, packet, opts]                  on socket.io#<nsp>#[<room>#]
//   broadcast request   {uid, requestId, type: 7, packet, opts}   on socket.io-request#<nsp>#
//   broadcast ack       {type: 9, requestId, packet}        on socket.io-response#<nsp>#[<uid>#]
// The other requests and responses of that protocol are JSON.
//
// Binary values live in the packet's data (or the ack's argument) as
// placeholders, with the bytes in `attachments` (msgpack_codec.hpp). A
// message with binary anywhere else is bad_message.
#pragma once

#include "cluster/msgpack_codec.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace rollcall::cluster {

// BroadcastOptions.flags of socket.io 4 (BroadcastFlags).
struct BroadcastFlags {
  bool is_volatile = false;              // "volatile"
  std::optional<bool> compress;          // absent: the receiving server's default
  bool local = false;                    // never published by Node (local means this node only)
  bool broadcast = false;
  bool binary = false;
  std::optional<std::uint64_t> timeout;  // ms; broadcasts with acks
  bool expect_single_response = false;   // "expectSingleResponse"
  boost::json::object other;             // any other flag, as sent
};

struct BroadcastOptions {
  // Rooms to send to (none: everyone in the namespace) and rooms whose
  // members are left out. A numeric room (socket.join(42) in Node) arrives
  // as its decimal string.
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  BroadcastFlags flags;
};

// The Socket.IO packet object the adapter publishes: decoded, not the wire
// string; the receiving node encodes it for its clients.
struct AdapterPacket {
  std::uint8_t type = 2;               // Socket.IO packet type (2 = EVENT), 0..6
  std::string nsp = "/";               // absent in the message: "/"
  boost::json::value data;             // [event, ...args] with placeholders; null when absent
  std::vector<Bytes> attachments;      // what data's placeholders refer to
  std::optional<std::uint64_t> id;     // ack id, when the packet has one
};

// [uid, packet, opts]: a broadcast (the emitter's uid is "emitter").
struct BroadcastMessage {
  std::string uid;
  AdapterPacket packet;
  BroadcastOptions opts;
};

// Request type 7: a broadcast whose clients' acks are awaited.
struct BroadcastRequest {
  std::string uid;
  std::string request_id;
  AdapterPacket packet;
  BroadcastOptions opts;
};

// Response type 9: one client's ack of a type 7 broadcast (its first
// argument). A client that acks with no argument gives no "packet" key.
struct BroadcastAck {
  std::string request_id;
  std::optional<boost::json::value> arg;
  std::vector<Bytes> attachments;  // what arg's placeholders refer to
};

inline constexpr int kRequestBroadcast = 7;   // RequestType.BROADCAST
inline constexpr int kResponseBroadcastAck = 9;  // RequestType.BROADCAST_ACK

// Decoders: msgpack errors as decode_msgpack, bad_message for a value that
// is not the message. On error `out` holds no attachments (other fields
// unspecified).
std::error_code decode_broadcast(std::string_view in, BroadcastMessage& out,
                                 const MsgpackLimits& limits = {});
std::error_code decode_broadcast_request(std::string_view in, BroadcastRequest& out,
                                         const MsgpackLimits& limits = {});
std::error_code decode_broadcast_ack(std::string_view in, BroadcastAck& out,
                                     const MsgpackLimits& limits = {});

// Encoders: append the message as RedisAdapter writes it (same keys, same
// order; flags in the order of BroadcastFlags, then `other`; bool flags only
// when true). On error `out` is left as it was.
std::error_code encode_broadcast(const BroadcastMessage& m, std::string& out);
std::error_code encode_broadcast_request(const BroadcastRequest& m, std::string& out);
std::error_code encode_broadcast_ack(const BroadcastAck& m, std::string& out);

}  // namespace rollcall::cluster
