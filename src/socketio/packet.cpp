#include "socketio/packet.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <system_error>

namespace rollcall::socketio {

namespace {

// Nesting limit for incoming JSON (Boost.JSON's default is 32; Node has no
// small limit, so allow a bit more while keeping recursion bounded).
constexpr std::size_t kMaxJsonDepth = 64;

constexpr std::array<std::string_view, 6> kReservedEvents = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

// Boost.JSON 1.81 converts decimal numbers with a fast but not correctly
// rounded algorithm (about 1 in 10 values like Math.random() output comes
// back one ulp off), which would make us echo numbers differently from Node.
// This handler is Boost's own value-building handler except that doubles are
// re-converted from their text with std::from_chars (correctly rounded).
class PreciseHandler {
 public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  PreciseHandler(unsigned char* temp, std::size_t temp_size)
      : st(boost::json::storage_ptr(), temp, temp_size) {}

  boost::json::value_stack st;

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }
  bool on_object_begin(boost::json::error_code&) { return true; }
  bool on_object_end(std::size_t n, boost::json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(boost::json::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(boost::json::string_view s, boost::json::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, boost::json::string_view, boost::json::error_code&) {
    number_.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, boost::json::string_view, boost::json::error_code&) {
    number_.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, boost::json::string_view s, boost::json::error_code& ec) {
    std::string_view text(s.data(), s.size());
    if (!number_.empty()) {
      number_.append(s.data(), s.size());
      text = number_;
    }
    double precise = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), precise);
    // Out of range (e.g. 1e-400): keep Boost's value.
    if (r.ec == std::errc() && r.ptr == text.data() + text.size()) d = precise;
    number_.clear();
    if (!std::isfinite(d)) {
      // 1e400 would be Infinity in JavaScript, which JSON.stringify turns
      // into null: such a value cannot round-trip, so reject it.
      ec = boost::json::error::exponent_overflow;
      return false;
    }
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, boost::json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(boost::json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

 private:
  std::string number_;  // earlier parts of a number split across buffers
};

// Parses exactly one JSON value (surrounding whitespace allowed); anything
// else, including trailing data, is an error. Never throws on bad input.
bool parse_json(std::string_view text, boost::json::value& out) {
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  boost::json::parse_options opt;
  opt.max_depth = kMaxJsonDepth;
  boost::json::basic_parser<PreciseHandler> parser(opt, temp, sizeof temp);
  parser.handler().st.reset();
  boost::json::error_code ec;
  const std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || n != text.size() || !parser.done()) return false;
  out = parser.handler().st.release();
  return true;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Namespaces are echoed back in text frames and used as map keys: require
// valid UTF-8 without control characters.
bool valid_namespace(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return false;
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    if (cp >= 0x80 && cp < 0xa0) return false;  // C1 controls
    i += len;
  }
  return true;
}

// Accumulates a decimal digit into `v`; false on uint64 overflow.
bool push_digit(std::uint64_t& v, char c) noexcept {
  const auto d = static_cast<std::uint64_t>(c - '0');
  if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
  v = v * 10 + d;
  return true;
}

bool is_reserved(std::string_view name) noexcept {
  return std::find(kReservedEvents.begin(), kReservedEvents.end(), name) != kReservedEvents.end();
}

template <class Int>
void append_integer(std::string& out, Int v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Number formatting of JavaScript's Number.prototype.toString (which
// JSON.stringify uses): shortest round-trip digits, fixed notation for
// exponents in [-7, 21), otherwise "d.ddde+N". Non-finite -> null, -0 -> 0.
void append_js_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  if (d == 0) {
    out.push_back('0');
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  if (s.front() == '-') {
    out.push_back('-');
    s.remove_prefix(1);
  }
  const std::size_t e_pos = s.find('e');
  std::string digits;
  for (const char c : s.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  std::string_view exp_text = s.substr(e_pos + 1);
  const bool exp_negative = exp_text.front() == '-';
  if (exp_text.front() == '-' || exp_text.front() == '+') exp_text.remove_prefix(1);
  int exp = 0;
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  if (exp_negative) exp = -exp;

  const int k = static_cast<int>(digits.size());
  const int n = exp + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out.append(digits);
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out.append("0.");
    out.append(static_cast<std::size_t>(-n), '0');
    out.append(digits);
  } else {
    const int e = n - 1;
    out.push_back(digits.front());
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(e < 0 ? '-' : '+');
    append_integer(out, e < 0 ? -e : e);
  }
}

void append_json_string(std::string& out, boost::json::string_view s) {
  // Boost.JSON escapes exactly like JSON.stringify: \" \\ \b \f \n \r \t and
  // \u00xx (lowercase) for the other control characters; '/' and DEL as-is.
  out.append(boost::json::serialize(s));
}

// Serializes like JSON.stringify (compact, insertion order, JS number format).
void append_json(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: out.append("null"); break;
    case boost::json::kind::bool_: out.append(v.get_bool() ? "true" : "false"); break;
    case boost::json::kind::int64: append_integer(out, v.get_int64()); break;
    case boost::json::kind::uint64: append_integer(out, v.get_uint64()); break;
    case boost::json::kind::double_: append_js_number(out, v.get_double()); break;
    case boost::json::kind::string: append_json_string(out, v.get_string()); break;
    case boost::json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(out, e);
      }
      out.push_back(']');
      break;
    }
    case boost::json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, kv.key());
        out.push_back(':');
        append_json(out, kv.value());
      }
      out.push_back('}');
      break;
    }
  }
}

DecodeError check_payload(PacketType type, bool present, const boost::json::value& data) {
  switch (type) {
    case PacketType::connect:
      return !present || data.is_object() ? DecodeError::none : DecodeError::bad_payload;
    case PacketType::disconnect:
      return present ? DecodeError::bad_payload : DecodeError::none;
    case PacketType::event:
    case PacketType::binary_event: {
      if (!present || !data.is_array() || data.get_array().empty()) return DecodeError::bad_payload;
      const auto& name = data.get_array().front();
      if (name.is_string()) {
        const auto& s = name.get_string();
        return is_reserved(std::string_view(s.data(), s.size())) ? DecodeError::reserved_event_name
                                                                 : DecodeError::none;
      }
      return name.is_number() ? DecodeError::none : DecodeError::bad_payload;
    }
    case PacketType::ack:
    case PacketType::binary_ack:
      return present && data.is_array() ? DecodeError::none : DecodeError::bad_payload;
    case PacketType::connect_error:
      return present && (data.is_object() || data.is_string()) ? DecodeError::none
                                                                : DecodeError::bad_payload;
  }
  return DecodeError::bad_payload;
}

}  // namespace

const char* to_string(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::none: return "none";
    case DecodeError::empty: return "empty packet";
    case DecodeError::unknown_type: return "unknown packet type";
    case DecodeError::bad_attachments: return "bad attachment count";
    case DecodeError::bad_namespace: return "bad namespace";
    case DecodeError::bad_ack_id: return "bad ack id";
    case DecodeError::bad_json: return "bad JSON";
    case DecodeError::bad_payload: return "invalid payload";
    case DecodeError::reserved_event_name: return "reserved event name";
  }
  return "unknown error";
}

DecodeError decode(std::string_view in, Packet& out, std::size_t max_attachments) {
  out = Packet{};
  auto fail = [&out](DecodeError e) {
    out = Packet{};
    return e;
  };
  if (in.empty()) return DecodeError::empty;
  const char t = in.front();
  if (t < '0' || t > '6') return DecodeError::unknown_type;
  out.type = static_cast<PacketType>(t - '0');
  std::size_t pos = 1;
  const std::size_t size = in.size();

  // "<N>-" for binary packets (mandatory there, as in Node's parser).
  if (out.type == PacketType::binary_event || out.type == PacketType::binary_ack) {
    const std::size_t start = pos;
    std::uint64_t n = 0;
    bool overflow = false;
    while (pos < size && is_digit(in[pos])) {
      if (!overflow && (!push_digit(n, in[pos]) || n > max_attachments)) overflow = true;
      ++pos;
    }
    if (pos == start || pos == size || in[pos] != '-' || overflow) {
      return fail(DecodeError::bad_attachments);
    }
    ++pos;
    out.attachments = static_cast<std::size_t>(n);
  }

  // Namespace: '/' up to the first ',' or the end of the string.
  if (pos < size && in[pos] == '/') {
    const std::size_t comma = in.find(',', pos);
    const std::size_t end = comma == std::string_view::npos ? size : comma;
    const std::string_view nsp = in.substr(pos, end - pos);
    if (!valid_namespace(nsp)) return fail(DecodeError::bad_namespace);
    out.nsp.assign(nsp.data(), nsp.size());
    pos = comma == std::string_view::npos ? size : comma + 1;
  }

  // Ack id: a run of digits.
  if (pos < size && is_digit(in[pos])) {
    std::uint64_t id = 0;
    while (pos < size && is_digit(in[pos])) {
      if (!push_digit(id, in[pos])) return fail(DecodeError::bad_ack_id);
      ++pos;
    }
    out.id = id;
  }

  // Payload: the rest must be one JSON value (or nothing).
  const std::string_view rest = in.substr(pos);
  const bool present = !rest.empty();
  if (present) {
    if (!parse_json(rest, out.data)) return fail(DecodeError::bad_json);
  }
  const DecodeError e = check_payload(out.type, present, out.data);
  if (e != DecodeError::none) return fail(e);
  return DecodeError::none;
}

void encode(const Packet& p, std::string& out) {
  out.push_back(static_cast<char>('0' + static_cast<int>(p.type)));
  if (p.type == PacketType::binary_event || p.type == PacketType::binary_ack) {
    append_integer(out, p.attachments);
    out.push_back('-');
  }
  if (!p.nsp.empty() && p.nsp != "/") {
    out.append(p.nsp);
    out.push_back(',');
  }
  if (p.id) append_integer(out, *p.id);
  if (!p.data.is_null()) append_json(out, p.data);
}

boost::json::value make_placeholder(std::size_t num) {
  boost::json::object o;
  o.emplace("_placeholder", true);
  if (num <= static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
    o.emplace("num", static_cast<std::int64_t>(num));
  } else {
    o.emplace("num", static_cast<std::uint64_t>(num));
  }
  return o;
}

bool is_placeholder(const boost::json::value& v, std::size_t* num) {
  const auto* o = v.if_object();
  if (!o) return false;
  const auto* flag = o->if_contains("_placeholder");
  if (!flag || !flag->is_bool() || !flag->get_bool()) return false;
  const auto* n = o->if_contains("num");
  if (!n) return false;
  std::uint64_t value = 0;
  if (n->is_int64()) {
    if (n->get_int64() < 0) return false;
    value = static_cast<std::uint64_t>(n->get_int64());
  } else if (n->is_uint64()) {
    value = n->get_uint64();
  } else {
    return false;
  }
  if (value > std::numeric_limits<std::size_t>::max()) return false;
  if (num) *num = static_cast<std::size_t>(value);
  return true;
}

bool placeholders_valid(const boost::json::value& v, std::size_t attachments) {
  // Iterative walk (no recursion on attacker-controlled depth). Any object
  // flagged "_placeholder": true must be a well-formed placeholder in range,
  // as Node's reconstructPacket throws on anything else.
  std::vector<std::size_t> used;
  std::vector<const boost::json::value*> stack{&v};
  while (!stack.empty()) {
    const boost::json::value* cur = stack.back();
    stack.pop_back();
    if (const auto* a = cur->if_array()) {
      for (const auto& e : *a) stack.push_back(&e);
    } else if (const auto* o = cur->if_object()) {
      if (const auto* flag = o->if_contains("_placeholder");
          flag && flag->is_bool() && flag->get_bool()) {
        std::size_t num = 0;
        if (!is_placeholder(*cur, &num) || num >= attachments) return false;
        used.push_back(num);
        continue;
      }
      for (const auto& kv : *o) stack.push_back(&kv.value());
    }
  }
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  return used.size() == attachments;
}

}  // namespace rollcall::socketio
