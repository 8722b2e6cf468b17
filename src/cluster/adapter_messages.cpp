#include "cluster/adapter_messages.hpp"

#include "socketio/packet.hpp"

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <utility>

namespace rollcall::cluster {

namespace json = boost::json;

namespace {

std::error_code bad() { return make_error_code(MsgpackError::bad_message); }

bool get_uint(const json::value& v, std::uint64_t& out) {
  if (v.is_uint64()) {
    out = v.get_uint64();
    return true;
  }
  if (v.is_int64() && v.get_int64() >= 0) {
    out = static_cast<std::uint64_t>(v.get_int64());
    return true;
  }
  // A number that arrived as float64 (another encoder) but is integral.
  if (v.is_double()) {
    const double d = v.get_double();
    if (d >= 0 && d < 18446744073709551616.0 && std::floor(d) == d) {
      out = static_cast<std::uint64_t>(d);
      return true;
    }
  }
  return false;
}

bool get_string(const json::value* v, std::string& out) {
  if (!v || !v->is_string()) return false;
  out.assign(v->get_string().data(), v->get_string().size());
  return true;
}

// rooms / except: absent or null is empty; strings, or integers as decimals.
bool get_rooms(const json::value* v, std::vector<std::string>& out) {
  out.clear();
  if (!v || v->is_null()) return true;
  const auto* a = v->if_array();
  if (!a) return false;
  out.reserve(a->size());
  for (const auto& e : *a) {
    if (e.is_string()) {
      out.emplace_back(e.get_string().data(), e.get_string().size());
    } else if (e.is_int64()) {
      out.push_back(std::to_string(e.get_int64()));
    } else if (e.is_uint64()) {
      out.push_back(std::to_string(e.get_uint64()));
    } else {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kFlagNames[] = {"volatile", "compress", "local", "broadcast",
                                           "binary", "timeout", "expectSingleResponse"};

bool known_flag(std::string_view k) {
  for (const auto n : kFlagNames) {
    if (k == n) return true;
  }
  return false;
}

bool get_flags(const json::value* v, BroadcastFlags& out) {
  out = BroadcastFlags{};
  if (!v || v->is_null()) return true;
  const auto* o = v->if_object();
  if (!o) return false;
  for (const auto& kv : *o) {
    const std::string_view k = kv.key();
    const json::value& x = kv.value();
    if (k == "timeout") {
      std::uint64_t ms = 0;
      if (x.is_null()) continue;
      if (!get_uint(x, ms)) return false;
      out.timeout = ms;
      continue;
    }
    if (known_flag(k)) {
      if (x.is_null()) continue;
      if (!x.is_bool()) return false;
      const bool b = x.get_bool();
      if (k == "volatile") out.is_volatile = b;
      if (k == "compress") out.compress = b;
      if (k == "local") out.local = b;
      if (k == "broadcast") out.broadcast = b;
      if (k == "binary") out.binary = b;
      if (k == "expectSingleResponse") out.expect_single_response = b;
      continue;
    }
    if (contains_placeholder(x)) return false;
    out.other.emplace(k, x);
  }
  return true;
}

bool get_options(const json::value* v, BroadcastOptions& out) {
  out = BroadcastOptions{};
  if (!v || v->is_null()) return true;
  const auto* o = v->if_object();
  if (!o) return false;
  for (const auto& kv : *o) {
    const std::string_view k = kv.key();
    if (k != "rooms" && k != "except" && k != "flags" && contains_placeholder(kv.value())) {
      return false;
    }
  }
  return get_rooms(o->if_contains("rooms"), out.rooms) &&
         get_rooms(o->if_contains("except"), out.except) &&
         get_flags(o->if_contains("flags"), out.flags);
}

// Moves the packet out of `v`; the attachments are given by the caller.
bool get_packet(json::value& v, std::vector<Bytes> attachments, AdapterPacket& out) {
  out = AdapterPacket{};
  auto* o = v.if_object();
  if (!o) return false;
  std::uint64_t type = 0;
  const auto* t = o->if_contains("type");
  if (!t || !get_uint(*t, type) || type > 6) return false;
  out.type = static_cast<std::uint8_t>(type);
  for (auto& kv : *o) {
    const std::string_view k = kv.key();
    if (k == "type") continue;
    if (k == "nsp") {
      if (kv.value().is_null()) continue;  // undefined in Node: the adapter takes "/"
      if (!get_string(&kv.value(), out.nsp)) return false;
    } else if (k == "data") {
      out.data = std::move(kv.value());
    } else if (k == "id") {
      if (kv.value().is_null()) continue;
      std::uint64_t id = 0;
      if (!get_uint(kv.value(), id)) return false;
      out.id = id;
    } else if (contains_placeholder(kv.value())) {
      return false;  // binary outside data
    }
  }
  out.attachments = std::move(attachments);
  return true;
}

bool has_type(const json::object& o, int type) {
  std::uint64_t t = 0;
  const auto* v = o.if_contains("type");
  return v && get_uint(*v, t) && t == static_cast<std::uint64_t>(type);
}

void write_rooms(MsgpackWriter& w, const std::vector<std::string>& rooms) {
  w.array_header(rooms.size());
  for (const auto& r : rooms) w.string(r);
}

void write_flags(MsgpackWriter& w, const BroadcastFlags& f) {
  std::size_t n = 0;
  n += f.is_volatile ? 1 : 0;
  n += f.compress ? 1 : 0;
  n += f.local ? 1 : 0;
  n += f.broadcast ? 1 : 0;
  n += f.binary ? 1 : 0;
  n += f.timeout ? 1 : 0;
  n += f.expect_single_response ? 1 : 0;
  for (const auto& kv : f.other) n += known_flag(kv.key()) ? 0 : 1;
  w.map_header(n);
  if (f.is_volatile) {
    w.string("volatile");
    w.boolean(true);
  }
  if (f.compress) {
    w.string("compress");
    w.boolean(*f.compress);
  }
  if (f.local) {
    w.string("local");
    w.boolean(true);
  }
  if (f.broadcast) {
    w.string("broadcast");
    w.boolean(true);
  }
  if (f.binary) {
    w.string("binary");
    w.boolean(true);
  }
  if (f.timeout) {
    w.string("timeout");
    w.unsigned_integer(*f.timeout);
  }
  if (f.expect_single_response) {
    w.string("expectSingleResponse");
    w.boolean(true);
  }
  static const std::vector<Bytes> none;
  for (const auto& kv : f.other) {
    if (known_flag(kv.key())) continue;  // the typed field wins
    w.string(kv.key());
    w.value(kv.value(), none);  // a placeholder here has no attachment: bad_placeholder
  }
}

void write_options(MsgpackWriter& w, const BroadcastOptions& o) {
  w.map_header(3);
  w.string("rooms");
  write_rooms(w, o.rooms);
  w.string("except");
  write_rooms(w, o.except);
  w.string("flags");
  write_flags(w, o.flags);
}

// {type, data, nsp[, id]}: the order of socket.io's BroadcastOperator and
// RedisAdapter (data is left out when null, as Node leaves out undefined).
void write_packet(MsgpackWriter& w, const AdapterPacket& p) {
  const bool has_data = !p.data.is_null();
  w.map_header(2 + (has_data ? 1 : 0) + (p.id ? 1 : 0));
  w.string("type");
  w.unsigned_integer(p.type);
  if (has_data) {
    w.string("data");
    w.value(p.data, p.attachments);
  }
  w.string("nsp");
  w.string(p.nsp);
  if (p.id) {
    w.string("id");
    w.unsigned_integer(*p.id);
  }
}

std::error_code finish(MsgpackWriter& w, std::string& out, std::size_t size) {
  if (w.error()) out.resize(size);
  return w.error();
}

}  // namespace

std::error_code decode_broadcast(std::string_view in, BroadcastMessage& out,
                                 const MsgpackLimits& limits) {
  MsgpackValue v;
  if (auto ec = decode_msgpack(in, v, limits)) return ec;
  auto* a = v.json.if_array();
  if (!a || a->size() != 3) return bad();
  if (!get_string(&(*a)[0], out.uid)) return bad();
  if (!get_options(&(*a)[2], out.opts)) return bad();
  if (!get_packet((*a)[1], std::move(v.attachments), out.packet)) {
    out.packet.attachments.clear();
    return bad();
  }
  return {};
}

std::error_code decode_broadcast_request(std::string_view in, BroadcastRequest& out,
                                         const MsgpackLimits& limits) {
  MsgpackValue v;
  if (auto ec = decode_msgpack(in, v, limits)) return ec;
  auto* o = v.json.if_object();
  if (!o || !has_type(*o, kRequestBroadcast)) return bad();
  if (!get_string(o->if_contains("uid"), out.uid)) return bad();
  if (!get_string(o->if_contains("requestId"), out.request_id)) return bad();
  if (!get_options(o->if_contains("opts"), out.opts)) return bad();
  auto* packet = o->if_contains("packet");
  if (!packet) return bad();
  for (const auto& kv : *o) {
    const std::string_view k = kv.key();
    if (k != "packet" && k != "opts" && contains_placeholder(kv.value())) return bad();
  }
  if (!get_packet(*packet, std::move(v.attachments), out.packet)) {
    out.packet.attachments.clear();
    return bad();
  }
  return {};
}

std::error_code decode_broadcast_ack(std::string_view in, BroadcastAck& out,
                                     const MsgpackLimits& limits) {
  out.attachments.clear();
  out.arg.reset();
  MsgpackValue v;
  if (auto ec = decode_msgpack(in, v, limits)) return ec;
  auto* o = v.json.if_object();
  if (!o || !has_type(*o, kResponseBroadcastAck)) return bad();
  if (!get_string(o->if_contains("requestId"), out.request_id)) return bad();
  for (auto& kv : *o) {
    if (kv.key() == "packet") {
      out.arg = std::move(kv.value());
    } else if (contains_placeholder(kv.value())) {
      out.arg.reset();
      return bad();
    }
  }
  out.attachments = std::move(v.attachments);
  return {};
}

std::error_code encode_broadcast(const BroadcastMessage& m, std::string& out) {
  const std::size_t size = out.size();
  MsgpackWriter w(out);
  w.array_header(3);
  w.string(m.uid);
  write_packet(w, m.packet);
  write_options(w, m.opts);
  return finish(w, out, size);
}

std::error_code encode_broadcast_request(const BroadcastRequest& m, std::string& out) {
  const std::size_t size = out.size();
  MsgpackWriter w(out);
  w.map_header(5);
  w.string("uid");
  w.string(m.uid);
  w.string("requestId");
  w.string(m.request_id);
  w.string("type");
  w.unsigned_integer(kRequestBroadcast);
  w.string("packet");
  write_packet(w, m.packet);
  w.string("opts");
  write_options(w, m.opts);
  return finish(w, out, size);
}

std::error_code encode_broadcast_ack(const BroadcastAck& m, std::string& out) {
  const std::size_t size = out.size();
  MsgpackWriter w(out);
  w.map_header(m.arg ? 3 : 2);
  w.string("type");
  w.unsigned_integer(kResponseBroadcastAck);
  w.string("requestId");
  w.string(m.request_id);
  if (m.arg) {
    w.string("packet");
    w.value(*m.arg, m.attachments);
  }
  return finish(w, out, size);
}

}  // namespace rollcall::cluster
