// msgpack <-> Socket.IO data, as the Node cluster writes it: the classic
// @socket.io/redis-adapter 8 and @socket.io/redis-emitter 5 publish
// notepack.io 3 msgpack on Redis. Pure functions, no I/O.
//
// rollcall's side is a boost::json::value in which every binary value is a
// Socket.IO placeholder {"_placeholder":true,"num":i} referring to
// attachments[i] (socketio/packet.hpp, rollcall::Args): msgpack `bin` decodes
// to a placeholder, a placeholder encodes to `bin`.
//
// Decoding gives what a Node server makes of the bytes (notepack.decode, then
// JSON.stringify when it sends the value on to its clients):
//   - ext -1 (msgpack timestamp, how notepack writes a Date) becomes the
//     ISO-8601 string of Date.prototype.toJSON ("2026-12-03T09:41:07.123Z"),
//     or null for a date out of JavaScript's range; the legacy fixext 8 type 0
//     date (ms since the epoch) likewise.
//   - fixext 1 type 0 is `undefined`: a map entry holding it is dropped
//     (a later one overrides an earlier value of the same key, as in Node), an
//     array element or the whole value becomes null.
//   - ext 8/16/32 type 0 (notepack 2's ArrayBuffer) is binary, like `bin`.
//   - NaN and +-Infinity (float32 or float64) become null.
//   - float32 widens to double; float64 stays double even when integral.
//   - integers keep their exact int64/uint64 value (Node rounds those beyond
//     2^53 to a double: JSON readers that parse into doubles see the same).
//   - strings that are not valid UTF-8 get U+FFFD for each bad sequence, as
//     Node's Buffer#toString does (WHATWG decoder), so nothing this codec
//     produces is invalid UTF-8 in a WebSocket text frame.
//   - map keys: "__proto__" is dropped (in Node it sets the prototype);
//     duplicate keys keep the first position and the last value; keys that
//     are array indexes ("0" .. "4294967294") come first in ascending order,
//     as in every JavaScript object.
//
// Encoding writes what notepack.io 3 writes for the same JavaScript value:
// the smallest int format, float64 for non-integers, fixstr/str8/16/32,
// bin8/16/32, fix/16/32 array and map headers, map keys in JavaScript order.
// An integral double is an integer there (3.0 -> 0x03, -0.0 -> 0x00). Where
// notepack's bytes would change the value, rollcall writes float64 instead:
// integral doubles >= 2^64 or < -2^63 (notepack writes them modulo 2^64,
// e.g. 1e300 as 0). NaN and +-Infinity are float64, as notepack writes them
// (NaN canonical 0x7ff8000000000000).
#pragma once

#include <rollcall/args.hpp>

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace rollcall::cluster {

enum class MsgpackError {
  truncated = 1,      // the input ends inside a value (or is empty)
  trailing_bytes,     // bytes after the first complete value
  invalid_byte,       // 0xc1, which msgpack never uses
  too_deep,           // arrays/maps nested deeper than Limits::max_depth
  too_many_elements,  // an array/map announces more elements than the input has bytes left for
  too_many_attachments,  // more binary values than MsgpackLimits::max_attachments
  non_string_key,     // a map key that is not a string
  unknown_ext,        // an ext type other than -1 (timestamp) and the legacy type 0 forms
  bad_timestamp,      // ext -1 that is not a 32, 64 or 96 bit timestamp
  dropped_binary,     // a binary value that a duplicate key, undefined or "__proto__" discards
  bad_placeholder,    // encode: a placeholder without its attachment
  too_large,          // encode: a string, binary, array or map of 2^32 or more
  bad_message,        // adapter messages: not the shape the adapter writes
};

const std::error_category& msgpack_category() noexcept;
std::error_code make_error_code(MsgpackError e) noexcept;

struct MsgpackLimits {
  // Arrays and maps nested deeper than this fail (decode: too_deep; encode:
  // too_deep too). The top-level container is depth 1.
  std::size_t max_depth = 64;
  // Decode: at most this many binary values (each costs an allocation, and
  // an empty one only two bytes of input).
  std::size_t max_attachments = 4096;
};

// A decoded value: JSON with placeholders, and the binary values they name.
struct MsgpackValue {
  boost::json::value json;
  std::vector<Bytes> attachments;
};

// Decodes exactly one msgpack value filling all of `in`. On error `out` is
// reset (null, no attachments). Memory use is bounded by the input size:
// since every value takes a byte at least, the values read plus those that
// open arrays/maps still announce may not exceed the input's length
// (too_many_elements), so a 5-byte "array of 2^32 - 1" allocates nothing.
std::error_code decode_msgpack(std::string_view in, MsgpackValue& out,
                               const MsgpackLimits& limits = {});

// Appends the msgpack encoding of `v` to `out`; placeholders become `bin`
// with the bytes of attachments[num]. On error `out` is left as it was.
std::error_code encode_msgpack(const boost::json::value& v, const std::vector<Bytes>& attachments,
                               std::string& out, const MsgpackLimits& limits = {});

// Streaming writer for messages built field by field (adapter_messages.cpp).
// Errors are sticky: after the first one every call does nothing and error()
// returns it; the caller then discards what was written.
class MsgpackWriter {
 public:
  explicit MsgpackWriter(std::string& out, MsgpackLimits limits = {}) noexcept
      : out_(out), limits_(limits) {}

  void nil();
  void boolean(bool b);
  void integer(std::int64_t i);
  void unsigned_integer(std::uint64_t u);
  void string(std::string_view s);
  void array_header(std::size_t n);
  void map_header(std::size_t n);
  // A whole JSON value with placeholders (as encode_msgpack).
  void value(const boost::json::value& v, const std::vector<Bytes>& attachments);

  std::error_code error() const noexcept { return error_; }

 private:
  void value_at(const boost::json::value& v, const std::vector<Bytes>& attachments,
                std::size_t depth);
  void fail(MsgpackError e) noexcept {
    if (!error_) error_ = make_error_code(e);
  }

  std::string& out_;
  MsgpackLimits limits_;
  std::error_code error_;
};

// Whether `v` holds a binary placeholder anywhere (iteratively: no depth limit).
bool contains_placeholder(const boost::json::value& v);

// JavaScript's Date.prototype.toISOString for a time value in ms (after the
// Date constructor's TimeClip: truncated toward zero); empty when the value is
// not finite or beyond +-8.64e15 (an Invalid Date, which JSON writes as null).
std::string js_date_iso_string(double ms);

}  // namespace rollcall::cluster

template <>
struct std::is_error_code_enum<rollcall::cluster::MsgpackError> : std::true_type {};
