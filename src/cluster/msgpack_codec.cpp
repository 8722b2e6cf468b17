#include "cluster/msgpack_codec.hpp"

#include "socketio/packet.hpp"

// msgpack-c for C++ 4.1 (header-only; scripts/deps.sh puts Debian's
// libmsgpack-cxx-dev headers under /usr/local/include). What it does here:
// the parser (msgpack::parse with a visitor: zero-copy, no allocation of its
// own, bounds-checked) and the packer (smallest int/str/bin/array/map
// formats, the same choices as notepack.io). What it lacks is written below:
// the visitor that builds Boost.JSON with notepack's semantics, the element
// budget, ext -1 timestamps, and a float64 writer (packer::pack_double turns
// integral doubles into ints itself and casts 2^64 to uint64_t, which is
// undefined behaviour).
//
// MSGPACK_NO_BOOST: only the packer and the parser are used, which need no
// Boost. Without it msgpack-c takes Boost.Predef and friends from whatever
// Boost is installed (Debian built the package against 1.74, rollcall uses
// 1.81). Only this translation unit includes msgpack-c, so the macro cannot
// disagree between two of them.
#define MSGPACK_NO_BOOST
#define MSGPACK_DEFAULT_API_VERSION 3
#include <msgpack/pack.hpp>
#include <msgpack/unpack.hpp>  // parse.hpp needs its detail::value<>
#include <msgpack/parse.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>
#include <utility>

namespace rollcall::cluster {

namespace json = boost::json;

namespace {

class MsgpackCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "msgpack"; }
  std::string message(int ev) const override {
    switch (static_cast<MsgpackError>(ev)) {
      case MsgpackError::truncated: return "msgpack input ends inside a value";
      case MsgpackError::trailing_bytes: return "bytes after the msgpack value";
      case MsgpackError::invalid_byte: return "invalid msgpack byte (0xc1)";
      case MsgpackError::too_deep: return "msgpack arrays/maps nested too deep";
      case MsgpackError::too_many_elements:
        return "msgpack array/map announces more elements than the input holds";
      case MsgpackError::too_many_attachments: return "too many binary values in a msgpack value";
      case MsgpackError::non_string_key: return "msgpack map key is not a string";
      case MsgpackError::unknown_ext: return "unknown msgpack ext type";
      case MsgpackError::bad_timestamp: return "malformed msgpack timestamp (ext -1)";
      case MsgpackError::dropped_binary:
        return "a binary value is discarded by a duplicate key, undefined or __proto__";
      case MsgpackError::bad_placeholder: return "placeholder without attachment";
      case MsgpackError::too_large: return "string, binary, array or map too large for msgpack";
      case MsgpackError::bad_message: return "not a Socket.IO adapter message";
    }
    return "unknown msgpack error";
  }
};

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Finds the first invalid UTF-8 sequence in s[i, n): returns its position
// (n if none) and stores in *bad how many bytes form its maximal invalid
// subpart (WHATWG: the lead byte and the continuation bytes accepted so far;
// the byte that broke the sequence is looked at again).
std::size_t find_invalid_utf8(const unsigned char* s, std::size_t n, std::size_t i,
                              std::size_t* bad) {
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t need = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;  // no overlong forms
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;  // no overlong forms
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      *bad = 1;
      return i;
    }
    std::size_t j = 1;
    for (; j <= need && i + j < n; ++j) {
      const unsigned char d = s[i + j];
      if (d < lo || d > hi) break;
      lo = 0x80;
      hi = 0xBF;
    }
    if (j <= need) {
      *bad = j;
      return i;
    }
    i += need + 1;
  }
  *bad = 0;
  return n;
}

bool valid_utf8(const char* p, std::size_t n) {
  std::size_t bad = 0;
  return find_invalid_utf8(reinterpret_cast<const unsigned char*>(p), n, 0, &bad) == n;
}

// Appends `n` bytes as UTF-8 with each maximal invalid subpart replaced by
// U+FFFD: the WHATWG decoder, which Node's Buffer#toString('utf8') follows.
void append_utf8(std::string& out, const char* p, std::size_t n) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  std::size_t i = 0;
  while (i < n) {
    std::size_t bad = 0;
    const std::size_t at = find_invalid_utf8(s, n, i, &bad);
    out.append(p + i, at - i);
    if (at == n) break;
    out.append(kReplacement);
    i = at + bad;
  }
}

// JavaScript array index: the canonical decimal form of 0 .. 2^32-2. Such
// keys come first in every object, in ascending numeric order.
bool array_index(std::string_view k, std::uint32_t* out) {
  if (k.empty() || k.size() > 10) return false;
  if (k.size() > 1 && k[0] == '0') return false;
  std::uint64_t v = 0;
  for (const char c : k) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > 4294967294ULL) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

// Object keys in JavaScript's order (Object.keys): array indexes first,
// ascending, then the rest in insertion order. Empty when that is the
// insertion order already.
std::vector<std::size_t> js_key_order(const json::object& o) {
  std::vector<std::pair<std::uint32_t, std::size_t>> indexes;
  std::size_t i = 0;
  for (const auto& kv : o) {
    std::uint32_t n = 0;
    if (array_index(kv.key(), &n)) indexes.emplace_back(n, i);
    ++i;
  }
  if (indexes.empty()) return {};
  std::sort(indexes.begin(), indexes.end());
  std::vector<std::size_t> order;
  order.reserve(o.size());
  for (const auto& [n, pos] : indexes) order.push_back(pos);
  std::vector<bool> taken(o.size(), false);
  for (const auto& [n, pos] : indexes) taken[pos] = true;
  for (std::size_t k = 0; k < o.size(); ++k) {
    if (!taken[k]) order.push_back(k);
  }
  bool identity = true;
  for (std::size_t k = 0; k < order.size(); ++k) identity = identity && order[k] == k;
  if (identity) return {};
  return order;
}


std::uint32_t load_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::int32_t load_i32(const unsigned char* p) {
  return static_cast<std::int32_t>(load_u32(p));
}

// Builds the JSON value from msgpack-c's parse events (its visitor
// interface). Every callback returns false to stop the parser on an error.
class Builder {
 public:
  Builder(std::string_view input, const MsgpackLimits& limits, std::vector<Bytes>& attachments)
      : input_(input), limits_(limits), attachments_(attachments) {}

  MsgpackError error() const noexcept { return error_; }
  bool syntax_error() const noexcept { return syntax_error_; }
  json::value take_root() { return std::move(root_); }

  // --- msgpack-c visitor interface
  bool visit_nil() {
    count_value();
    return scalar(json::value(nullptr));
  }
  bool visit_boolean(bool b) {
    count_value();
    return scalar(json::value(b));
  }
  bool visit_positive_integer(std::uint64_t v) {
    count_value();
    // As Boost.JSON's parser: int64 when it fits.
    if (v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return scalar(json::value(static_cast<std::int64_t>(v)));
    }
    return scalar(json::value(v));
  }
  bool visit_negative_integer(std::int64_t v) {
    count_value();
    return scalar(json::value(v));
  }
  bool visit_float32(float f) {
    count_value();
    return number(static_cast<double>(f));
  }
  bool visit_float64(double d) {
    count_value();
    return number(d);
  }
  bool visit_str(const char* p, std::uint32_t n) {
    count_value();
    if (key_slot()) {
      Frame& f = frames_.back();
      f.key.clear();
      append_utf8(f.key, p, n);
      return true;
    }
    if (valid_utf8(p, n)) return put(json::value(json::string(std::string_view(p, n))));
    std::string fixed;
    append_utf8(fixed, p, n);
    return put(json::value(json::string(fixed)));
  }
  bool visit_bin(const char* p, std::uint32_t n) {
    count_value();
    return binary(p, n);
  }
  bool visit_ext(const char* p, std::uint32_t size) {
    count_value();
    return ext(p, size);
  }
  bool start_array(std::uint32_t n) {
    count_value();
    if (!open_container(n)) return false;
    Frame f;
    json::array a;
    a.reserve(n);  // n is within the element budget: bounded by the input
    f.value = std::move(a);
    frames_.push_back(std::move(f));
    return true;
  }
  bool start_array_item() { return true; }
  bool end_array_item() { return true; }
  bool end_array() {
    json::value v = std::move(frames_.back().value);
    frames_.pop_back();
    return put(std::move(v));
  }
  bool start_map(std::uint32_t n) {
    count_value();
    if (!open_container(std::uint64_t{n} * 2)) return false;  // keys and values
    Frame f;
    f.is_map = true;
    json::object o;
    o.reserve(n);
    f.value = std::move(o);
    frames_.push_back(std::move(f));
    return true;
  }
  bool start_map_key() {
    frames_.back().expect_key = true;
    return true;
  }
  bool end_map_key() { return true; }
  bool start_map_value() {
    Frame& f = frames_.back();
    f.expect_key = false;
    f.attachments_at_value = attachments_.size();
    return true;
  }
  bool end_map_value() { return true; }
  bool end_map() {
    Frame f = std::move(frames_.back());
    frames_.pop_back();
    return put(finish_object(std::move(f)));
  }
  void parse_error(std::size_t, std::size_t) { syntax_error_ = true; }
  void insufficient_bytes(std::size_t, std::size_t) {}
  bool referenced() const { return false; }
  void set_referenced(bool) {}

 private:
  struct Frame {
    bool is_map = false;
    bool expect_key = false;
    json::value value;  // the array or object being filled
    std::string key;    // maps: the key of the value being read
    std::size_t attachments_at_value = 0;
    std::unordered_set<std::string> undefined_keys;  // keys whose last value was undefined
  };

  bool fail(MsgpackError e) {
    if (error_ == MsgpackError{}) error_ = e;
    return false;
  }

  // Element budget: every value takes at least one byte, so the values seen
  // plus those still announced by open arrays/maps can never exceed the
  // input size. This is what bounds reserve() above.
  void count_value() {
    --pending_;
    ++seen_;
  }
  bool open_container(std::uint64_t elements) {
    if (key_slot()) return fail(MsgpackError::non_string_key);
    if (frames_.size() >= limits_.max_depth) return fail(MsgpackError::too_deep);
    pending_ += elements;
    if (seen_ + pending_ > input_.size()) return fail(MsgpackError::too_many_elements);
    return true;
  }

  bool key_slot() const { return !frames_.empty() && frames_.back().expect_key; }

  bool scalar(json::value v) {
    if (key_slot()) return fail(MsgpackError::non_string_key);
    return put(std::move(v));
  }

  bool number(double d) {
    // JSON has no NaN/Infinity; JSON.stringify writes null.
    if (!std::isfinite(d)) return scalar(json::value(nullptr));
    return scalar(json::value(d));
  }

  bool binary(const char* p, std::size_t n) {
    if (key_slot()) return fail(MsgpackError::non_string_key);
    if (attachments_.size() >= limits_.max_attachments) {
      return fail(MsgpackError::too_many_attachments);
    }
    attachments_.push_back(std::make_shared<const std::string>(p, n));
    return put(socketio::make_placeholder(attachments_.size() - 1));
  }

  // notepack.io 3's ext types. The visitor is not told which header carried
  // the ext, and fixext 1 type 0 (undefined) must differ from ext 8 of length
  // 1 type 0 (binary): the header is read back from the input, just before
  // the type byte that `p` points at. A fixext header byte (0xd4..0xd8) in
  // that place can only be a fixext: an ext 8 length byte of that value would
  // mean 212..216 data bytes, not the 1..16 of the matching fixext.
  bool ext(const char* p, std::uint32_t size) {
    if (key_slot()) return fail(MsgpackError::non_string_key);
    const auto type = static_cast<std::int8_t>(p[0]);
    const auto* data = reinterpret_cast<const unsigned char*>(p + 1);
    const std::size_t len = size - 1;
    const std::size_t at = static_cast<std::size_t>(p - input_.data());
    unsigned char header = 0;
    if (at >= 1) {
      const auto prev = static_cast<unsigned char>(input_[at - 1]);
      static constexpr std::size_t fixext_len[] = {1, 2, 4, 8, 16};
      if (prev >= 0xd4 && prev <= 0xd8 && fixext_len[prev - 0xd4] == len) header = prev;
    }
    if (header == 0) {
      // ext 8/16/32: type 0 is notepack 2's ArrayBuffer, -1 a 96-bit timestamp.
      const bool ext8 = at >= 2 && static_cast<unsigned char>(input_[at - 2]) == 0xc7 &&
                        static_cast<unsigned char>(input_[at - 1]) == len;
      if (type == 0) return binary(p + 1, len);
      if (type == -1) {
        if (!ext8 || len != 12) return fail(MsgpackError::bad_timestamp);
        // notepack: new Date((hi * 2^32 + lo) * 1e3 + ns / 1e6)
        const double ns = load_u32(data);
        const double hi = load_i32(data + 4);
        const double lo = load_u32(data + 8);
        return date((hi * 4294967296.0 + lo) * 1e3 + ns / 1e6);
      }
      return fail(MsgpackError::unknown_ext);
    }
    switch (header) {
      case 0xd4:  // fixext 1
        if (type == 0) return undefined();
        break;
      case 0xd6:  // fixext 4: timestamp 32, new Date(s * 1e3)
        if (type == -1) return date(static_cast<double>(load_u32(data)) * 1e3);
        break;
      case 0xd7:  // fixext 8
        if (type == -1) {
          // timestamp 64: 30 bits of ns, 34 bits of seconds;
          // new Date(s * 1e3 + ns / 1e6)
          const std::uint32_t hi = load_u32(data);
          const double s = static_cast<double>(hi & 0x3u) * 4294967296.0 + load_u32(data + 4);
          return date(s * 1e3 + static_cast<double>(hi >> 2) / 1e6);
        }
        if (type == 0) {
          // notepack 2's Date: ms as a signed 64-bit number, new Date(hi * 2^32 + lo)
          return date(static_cast<double>(load_i32(data)) * 4294967296.0 + load_u32(data + 4));
        }
        break;
      default: break;
    }
    return fail(type == -1 ? MsgpackError::bad_timestamp : MsgpackError::unknown_ext);
  }

  bool date(double ms) {
    std::string iso = js_date_iso_string(ms);
    if (iso.empty()) return put(json::value(nullptr));  // Invalid Date: toJSON() is null
    return put(json::value(json::string(iso)));
  }

  bool put(json::value v) {
    if (frames_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Frame& f = frames_.back();
    if (!f.is_map) {
      f.value.get_array().push_back(std::move(v));
      return true;
    }
    return put_entry(f, std::move(v), false);
  }

  // `undefined`: null in an array or at the top; in a map it removes the key.
  bool undefined() {
    if (frames_.empty()) {
      root_ = nullptr;
      return true;
    }
    Frame& f = frames_.back();
    if (!f.is_map) {
      f.value.get_array().push_back(nullptr);
      return true;
    }
    return put_entry(f, json::value(nullptr), true);
  }

  // value[key] = v, as notepack's decoder does it on a plain object.
  bool put_entry(Frame& f, json::value v, bool is_undefined) {
    if (f.key == "__proto__") {
      // Sets the prototype (or nothing): never an own property.
      if (attachments_.size() > f.attachments_at_value) {
        return fail(MsgpackError::dropped_binary);
      }
      return true;
    }
    auto& o = f.value.get_object();
    if (auto it = o.find(f.key); it != o.end()) {
      // A duplicate key: first position, last value.
      if (contains_placeholder(it->value())) return fail(MsgpackError::dropped_binary);
      it->value() = std::move(v);
    } else {
      o.emplace(f.key, std::move(v));
    }
    if (is_undefined) {
      f.undefined_keys.insert(f.key);
    } else if (!f.undefined_keys.empty()) {
      f.undefined_keys.erase(f.key);
    }
    return true;
  }

  // Drops keys left undefined and puts the keys in JavaScript order.
  json::value finish_object(Frame f) {
    auto& o = f.value.get_object();
    std::vector<std::size_t> order = js_key_order(o);
    if (order.empty() && f.undefined_keys.empty()) return std::move(f.value);
    if (order.empty()) {
      order.resize(o.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    }
    json::object out(o.storage());
    out.reserve(o.size() - f.undefined_keys.size());
    auto* entries = o.begin();
    for (const std::size_t i : order) {
      auto& kv = entries[i];
      if (!f.undefined_keys.empty() && f.undefined_keys.count(std::string(kv.key())) > 0) continue;
      out.emplace(kv.key(), std::move(kv.value()));
    }
    return json::value(std::move(out));
  }

  std::string_view input_;
  MsgpackLimits limits_;
  std::vector<Bytes>& attachments_;
  std::vector<Frame> frames_;
  json::value root_;
  std::uint64_t pending_ = 1;  // the top-level value
  std::uint64_t seen_ = 0;
  MsgpackError error_{};
  bool syntax_error_ = false;
};

// The packer's output stream.
struct StringSink {
  std::string* out;
  void write(const char* p, std::size_t n) { out->append(p, n); }
};

}  // namespace

bool contains_placeholder(const json::value& v) {
  std::vector<const json::value*> stack{&v};
  while (!stack.empty()) {
    const json::value* cur = stack.back();
    stack.pop_back();
    if (socketio::is_placeholder(*cur)) return true;
    if (const auto* a = cur->if_array()) {
      for (const auto& e : *a) stack.push_back(&e);
    } else if (const auto* o = cur->if_object()) {
      for (const auto& kv : *o) stack.push_back(&kv.value());
    }
  }
  return false;
}

const std::error_category& msgpack_category() noexcept {
  static const MsgpackCategory category;
  return category;
}

std::error_code make_error_code(MsgpackError e) noexcept {
  return {static_cast<int>(e), msgpack_category()};
}

std::error_code decode_msgpack(std::string_view in, MsgpackValue& out, const MsgpackLimits& limits) {
  out.json = nullptr;
  out.attachments.clear();
  Builder builder(in, limits, out.attachments);
  std::size_t off = 0;
  bool complete = false;
  try {
    complete = msgpack::parse(in.data(), in.size(), off, builder);
  } catch (const msgpack::unpack_error&) {
    // Not thrown by the parse path on 64-bit targets (only a 32-bit size_t
    // check throws); kept so that no msgpack-c exception escapes.
    out.attachments.clear();
    return make_error_code(MsgpackError::too_large);
  }
  std::error_code ec;
  if (builder.error() != MsgpackError{}) {
    ec = make_error_code(builder.error());
  } else if (builder.syntax_error()) {
    ec = make_error_code(MsgpackError::invalid_byte);
  } else if (!complete) {
    ec = make_error_code(MsgpackError::truncated);
  } else if (off != in.size()) {
    ec = make_error_code(MsgpackError::trailing_bytes);
  }
  if (ec) {
    out.attachments.clear();
    return ec;
  }
  out.json = builder.take_root();
  return {};
}

std::error_code encode_msgpack(const json::value& v, const std::vector<Bytes>& attachments,
                               std::string& out, const MsgpackLimits& limits) {
  const std::size_t size = out.size();
  MsgpackWriter w(out, limits);
  w.value(v, attachments);
  if (w.error()) out.resize(size);
  return w.error();
}

void MsgpackWriter::nil() {
  if (error_) return;
  StringSink sink{&out_};
  msgpack::packer<StringSink>(sink).pack_nil();
}

void MsgpackWriter::boolean(bool b) {
  if (error_) return;
  StringSink sink{&out_};
  msgpack::packer<StringSink> pk(sink);
  if (b) {
    pk.pack_true();
  } else {
    pk.pack_false();
  }
}

void MsgpackWriter::integer(std::int64_t i) {
  if (error_) return;
  StringSink sink{&out_};
  msgpack::packer<StringSink>(sink).pack_int64(i);
}

void MsgpackWriter::unsigned_integer(std::uint64_t u) {
  if (error_) return;
  StringSink sink{&out_};
  msgpack::packer<StringSink>(sink).pack_uint64(u);
}

void MsgpackWriter::string(std::string_view s) {
  if (error_) return;
  if (s.size() > std::numeric_limits<std::uint32_t>::max()) return fail(MsgpackError::too_large);
  StringSink sink{&out_};
  msgpack::packer<StringSink> pk(sink);
  pk.pack_str(static_cast<std::uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

void MsgpackWriter::array_header(std::size_t n) {
  if (error_) return;
  if (n > std::numeric_limits<std::uint32_t>::max()) return fail(MsgpackError::too_large);
  StringSink sink{&out_};
  msgpack::packer<StringSink>(sink).pack_array(static_cast<std::uint32_t>(n));
}

void MsgpackWriter::map_header(std::size_t n) {
  if (error_) return;
  if (n > std::numeric_limits<std::uint32_t>::max()) return fail(MsgpackError::too_large);
  StringSink sink{&out_};
  msgpack::packer<StringSink>(sink).pack_map(static_cast<std::uint32_t>(n));
}

void MsgpackWriter::value(const json::value& v, const std::vector<Bytes>& attachments) {
  value_at(v, attachments, 0);
}

void MsgpackWriter::value_at(const json::value& v, const std::vector<Bytes>& attachments,
                             std::size_t depth) {
  if (error_) return;
  switch (v.kind()) {
    case json::kind::null: return nil();
    case json::kind::bool_: return boolean(v.get_bool());
    case json::kind::int64: return integer(v.get_int64());
    case json::kind::uint64: return unsigned_integer(v.get_uint64());
    case json::kind::string: return string(v.get_string());
    case json::kind::double_: {
      const double d = v.get_double();
      // notepack: Math.floor(d) === d && isFinite(d) -> an integer format.
      if (std::isfinite(d) && std::floor(d) == d) {
        if (d >= 0 && d < 18446744073709551616.0) {  // -0.0 included: 0x00, as notepack
          return unsigned_integer(static_cast<std::uint64_t>(d));
        }
        if (d < 0 && d >= -9223372036854775808.0) return integer(static_cast<std::int64_t>(d));
        // Beyond 64 bits notepack writes the value modulo 2^64; float64 keeps it.
      }
      // float64, written here: pack_double would turn integral values into
      // ints on its own and its range check lets 2^64 into a uint64_t cast.
      std::uint64_t bits = 0x7ff8000000000000ULL;  // NaN as JavaScript writes it
      if (!std::isnan(d)) std::memcpy(&bits, &d, sizeof bits);
      char buf[9];
      buf[0] = static_cast<char>(0xcb);
      for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
      out_.append(buf, sizeof buf);
      return;
    }
    case json::kind::array: {
      if (depth >= limits_.max_depth) return fail(MsgpackError::too_deep);
      const auto& a = v.get_array();
      array_header(a.size());
      for (const auto& e : a) value_at(e, attachments, depth + 1);
      return;
    }
    case json::kind::object: {
      std::size_t num = 0;
      if (socketio::is_placeholder(v, &num)) {
        if (num >= attachments.size() || !attachments[num]) return fail(MsgpackError::bad_placeholder);
        const std::string& b = *attachments[num];
        if (b.size() > std::numeric_limits<std::uint32_t>::max()) return fail(MsgpackError::too_large);
        StringSink sink{&out_};
        msgpack::packer<StringSink> pk(sink);
        pk.pack_bin(static_cast<std::uint32_t>(b.size()));
        pk.pack_bin_body(b.data(), static_cast<std::uint32_t>(b.size()));
        return;
      }
      if (depth >= limits_.max_depth) return fail(MsgpackError::too_deep);
      const auto& o = v.get_object();
      map_header(o.size());
      const std::vector<std::size_t> order = js_key_order(o);
      if (order.empty()) {
        for (const auto& kv : o) {
          string(kv.key());
          value_at(kv.value(), attachments, depth + 1);
        }
      } else {
        const auto* entries = o.begin();
        for (const std::size_t i : order) {
          string(entries[i].key());
          value_at(entries[i].value(), attachments, depth + 1);
        }
      }
      return;
    }
  }
}

std::string js_date_iso_string(double ms) {
  // TimeClip: NaN beyond 8.64e15 ms (+-100,000,000 days), else truncation.
  if (!std::isfinite(ms) || std::fabs(ms) > 8.64e15) return {};
  const auto t = static_cast<std::int64_t>(std::trunc(ms));
  constexpr std::int64_t kDay = 86400000;
  std::int64_t days = t / kDay;
  std::int64_t rem = t % kDay;
  if (rem < 0) {
    rem += kDay;
    --days;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  char buf[64];
  int n = 0;
  // toISOString: four digits for years 0..9999, else a sign and six digits.
  if (year >= 0 && year <= 9999) {
    n = std::snprintf(buf, sizeof buf, "%04d", static_cast<int>(year));
  } else {
    n = std::snprintf(buf, sizeof buf, "%c%06d", year < 0 ? '-' : '+',
                      static_cast<int>(year < 0 ? -year : year));
  }
  const auto ms_of_day = static_cast<int>(rem);
  std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "-%02d-%02dT%02d:%02d:%02d.%03dZ",
                static_cast<int>(month), static_cast<int>(day), ms_of_day / 3600000,
                ms_of_day / 60000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
  return buf;
}

}  // namespace rollcall::cluster
