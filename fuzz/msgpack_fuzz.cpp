// libFuzzer target: the cluster's msgpack codec (src/cluster). A decoded
// value must encode, decode back to an equivalent value with the same
// attachments, and encode to the same bytes again. The adapter message
// decoders run on the same input; what they accept must survive the same
// round trip.
#include "cluster/adapter_messages.hpp"
#include "cluster/msgpack_codec.hpp"
#include "socketio/packet.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cl = rollcall::cluster;
namespace json = boost::json;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

double as_double(const json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  return static_cast<double>(v.get_uint64());
}

// Structural equality, objects in order; numbers of different kinds compare
// by value (a float64 3.0 comes back as the integer 3, as notepack writes it).
bool equivalent(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == b.kind()) return a == b;
    return as_double(a) == as_double(b);
  }
  if (a.kind() != b.kind()) return false;
  if (const auto* x = a.if_array()) {
    const auto& y = b.get_array();
    if (x->size() != y.size()) return false;
    for (std::size_t i = 0; i < x->size(); ++i) {
      if (!equivalent((*x)[i], y[i])) return false;
    }
    return true;
  }
  if (const auto* x = a.if_object()) {
    const auto& y = b.get_object();
    if (x->size() != y.size()) return false;
    auto it = y.begin();
    for (const auto& kv : *x) {
      if (kv.key() != it->key() || !equivalent(kv.value(), it->value())) return false;
      ++it;
    }
    return true;
  }
  return a == b;
}

// Placeholder-shaped maps in `v` (those the decoder made for `bin`, and any
// literal ones the input spelled out).
std::size_t placeholders(const json::value& v) {
  std::size_t n = 0;
  std::vector<const json::value*> stack{&v};
  while (!stack.empty()) {
    const json::value* cur = stack.back();
    stack.pop_back();
    if (rollcall::socketio::is_placeholder(*cur)) {
      ++n;
      continue;
    }
    if (const auto* a = cur->if_array()) {
      for (const auto& e : *a) stack.push_back(&e);
    } else if (const auto* o = cur->if_object()) {
      for (const auto& kv : *o) stack.push_back(&kv.value());
    }
  }
  return n;
}

bool same_bytes(const std::vector<rollcall::Bytes>& a, const std::vector<rollcall::Bytes>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i] || !b[i] || *a[i] != *b[i]) return false;
  }
  return true;
}

// A literal {"_placeholder":true,"num":n} in the input is indistinguishable
// from a binary one afterwards (as in Socket.IO itself): the encoder then
// fails (no attachment n) or writes attachment n there. Round trips are only
// checked without such maps.
bool unambiguous(const json::value& v, const std::vector<rollcall::Bytes>& attachments) {
  return placeholders(v) == attachments.size();
}

void check_value(std::string_view in) {
  cl::MsgpackValue v;
  if (const auto ec = cl::decode_msgpack(in, v)) {
    check(ec.category() == cl::msgpack_category());
    check(v.json.is_null() && v.attachments.empty());
    return;
  }
  check(v.attachments.size() <= in.size() / 2);
  std::string first = "prefix";
  const auto ec = cl::encode_msgpack(v.json, v.attachments, first);
  if (!unambiguous(v.json, v.attachments)) {
    check(!ec || ec == cl::MsgpackError::bad_placeholder);
    return;
  }
  check(!ec);
  check(first.compare(0, 6, "prefix") == 0);
  first.erase(0, 6);
  cl::MsgpackValue w;
  check(!cl::decode_msgpack(first, w));
  check(equivalent(v.json, w.json));
  check(same_bytes(v.attachments, w.attachments));
  std::string second;
  check(!cl::encode_msgpack(w.json, w.attachments, second));
  check(second == first);
}

bool same_options(const cl::BroadcastOptions& a, const cl::BroadcastOptions& b) {
  return a.rooms == b.rooms && a.except == b.except && a.flags.is_volatile == b.flags.is_volatile &&
         a.flags.compress == b.flags.compress && a.flags.local == b.flags.local &&
         a.flags.broadcast == b.flags.broadcast && a.flags.binary == b.flags.binary &&
         a.flags.timeout == b.flags.timeout &&
         a.flags.expect_single_response == b.flags.expect_single_response &&
         equivalent(json::value(a.flags.other), json::value(b.flags.other));
}

bool same_packet(const cl::AdapterPacket& a, const cl::AdapterPacket& b) {
  return a.type == b.type && a.nsp == b.nsp && a.id == b.id && equivalent(a.data, b.data) &&
         same_bytes(a.attachments, b.attachments);
}

void check_messages(std::string_view in) {
  cl::BroadcastMessage m;
  if (!cl::decode_broadcast(in, m)) {
    check(m.packet.type <= 6);
    std::string out;
    const auto ec = cl::encode_broadcast(m, out);
    if (unambiguous(m.packet.data, m.packet.attachments)) {
      check(!ec);
      cl::BroadcastMessage again;
      check(!cl::decode_broadcast(out, again));
      check(again.uid == m.uid && same_packet(again.packet, m.packet) && same_options(again.opts, m.opts));
    }
  }
  cl::BroadcastRequest r;
  if (!cl::decode_broadcast_request(in, r)) {
    std::string out;
    const auto ec = cl::encode_broadcast_request(r, out);
    if (unambiguous(r.packet.data, r.packet.attachments)) {
      check(!ec);
      cl::BroadcastRequest again;
      check(!cl::decode_broadcast_request(out, again));
      check(again.uid == r.uid && again.request_id == r.request_id &&
            same_packet(again.packet, r.packet) && same_options(again.opts, r.opts));
    }
  }
  cl::BroadcastAck a;
  if (!cl::decode_broadcast_ack(in, a)) {
    std::string out;
    const auto ec = cl::encode_broadcast_ack(a, out);
    if (!a.arg || unambiguous(*a.arg, a.attachments)) {
      check(!ec);
      cl::BroadcastAck again;
      check(!cl::decode_broadcast_ack(out, again));
      check(again.request_id == a.request_id && again.arg.has_value() == a.arg.has_value());
      if (a.arg) check(equivalent(*again.arg, *a.arg));
      check(same_bytes(again.attachments, a.attachments));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_value(in);
  check_messages(in);
  return 0;
}
