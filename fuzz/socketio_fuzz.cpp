// libFuzzer target: Socket.IO packet decoding. A decoded packet must encode
// and decode back to the same type/nsp/id/attachments/data, and the encoding
// must be stable.
#include "socketio/packet.hpp"

#include <boost/json/value.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sio = rollcall::socketio;
namespace json = boost::json;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Structural equality where numbers compare by value: the encoder writes
// numbers like JavaScript (1.0 -> "1", -0 -> "0"), so a double may come back
// as an integer; non-finite doubles are written as null (as JSON.stringify).
bool equivalent(const json::value& a, const json::value& b) {
  if (a.is_double() && !std::isfinite(a.get_double())) return b.is_null();
  if (b.is_double() && !std::isfinite(b.get_double())) return a.is_null();
  if (a.is_number() && b.is_number()) {
    if (!a.is_double() && !b.is_double()) return a == b;
    const auto as_double = [](const json::value& v) {
      if (v.is_double()) return v.get_double();
      if (v.is_int64()) return static_cast<double>(v.get_int64());
      return static_cast<double>(v.get_uint64());
    };
    return as_double(a) == as_double(b);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!equivalent(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      auto it = y.begin();
      for (const auto& kv : x) {
        if (kv.key() != it->key() || !equivalent(kv.value(), it->value())) return false;
        ++it;
      }
      return true;
    }
    default: return a == b;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  sio::Packet p;
  const auto err = sio::decode(in, p);
  (void)sio::to_string(err);
  if (err != sio::DecodeError::none) {
    check(p.data.is_null() && p.nsp == "/" && !p.id);
    return 0;
  }
  check(!p.nsp.empty() && p.nsp.front() == '/');
  check(p.attachments <= 10);
  (void)sio::placeholders_valid(p.data, p.attachments);

  std::string first;
  sio::encode(p, first);
  sio::Packet q;
  check(sio::decode(first, q) == sio::DecodeError::none);
  check(q.type == p.type);
  check(q.nsp == p.nsp);
  check(q.id == p.id);
  check(q.attachments == p.attachments);
  check(equivalent(p.data, q.data));

  std::string second;
  sio::encode(q, second);
  check(second == first);
  return 0;
}
