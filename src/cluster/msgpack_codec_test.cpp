// The msgpack codec against bytes Node wrote (tests/cluster-fixtures: notepack.io
// 3, the codec of @socket.io/redis-adapter 8 and @socket.io/redis-emitter 5),
// its error paths, and the adapter message helpers on top.
#include "cluster/msgpack_codec.hpp"

#include "cluster/adapter_messages.hpp"
#include "common/encoding.hpp"
#include "socketio/packet.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall::cluster {
namespace {

namespace json = boost::json;

struct Fixture {
  const char* name;
  const char* bytes;  // hex
  const char* json;   // Node's view
  std::vector<const char*> attachments;  // hex
  const char* reencoded;                 // hex: notepack's bytes for Node's view
  bool exact;
};

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = {
#include "../../tests/cluster-fixtures/notepack_fixtures.inc"
  };
  return all;
}

const Fixture& fixture(std::string_view name) {
  for (const auto& f : fixtures()) {
    if (name == f.name) return f;
  }
  ADD_FAILURE() << "no fixture " << name;
  return fixtures().front();
}

// Hex with the generator's "(N*hh)" runs.
std::string unhex(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '(') {
      const std::size_t star = s.find('*', i);
      const std::size_t close = s.find(')', i);
      const std::size_t n = std::stoul(std::string(s.substr(i + 1, star - i - 1)));
      const char byte = static_cast<char>(hex_value(s[star + 1]) * 16 + hex_value(s[star + 2]));
      out.append(n, byte);
      i = close + 1;
      continue;
    }
    out.push_back(static_cast<char>(hex_value(s[i]) * 16 + hex_value(s[i + 1])));
    i += 2;
  }
  return out;
}

// JSON with the generator's "{{N*c}}" runs.
std::string expand_json(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "{{") == 0) {
      const std::size_t star = s.find('*', i);
      const std::size_t close = s.find("}}", i);
      out.append(std::stoul(std::string(s.substr(i + 2, star - i - 2))), s[star + 1]);
      i = close + 2;
      continue;
    }
    out.push_back(s[i++]);
  }
  return out;
}

json::value expected_json(const Fixture& f) { return json::parse(expand_json(f.json)); }

std::vector<Bytes> expected_attachments(const Fixture& f) {
  std::vector<Bytes> out;
  for (const char* a : f.attachments) out.push_back(std::make_shared<const std::string>(unhex(a)));
  return out;
}

double as_double(const json::value& v) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  return static_cast<double>(v.get_uint64());
}

bool beyond_2p53(const json::value& v) {
  return std::fabs(as_double(v)) >= 9007199254740992.0;
}

// Structural equality, objects in order. Numbers of different kinds, and
// integers beyond 2^53 (which Node's JSON rounds to a double), compare as
// doubles; a float64 that is integral (3.0) is written "3".
bool equivalent(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == b.kind() && !beyond_2p53(a) && !beyond_2p53(b)) return a == b;
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

std::vector<std::string> contents(const std::vector<Bytes>& v) {
  std::vector<std::string> out;
  for (const auto& b : v) out.push_back(b ? *b : std::string("<null>"));
  return out;
}

MsgpackValue decoded(std::string_view bytes, std::error_code* ec_out = nullptr) {
  MsgpackValue v;
  const auto ec = decode_msgpack(bytes, v);
  if (ec_out) {
    *ec_out = ec;
  } else {
    EXPECT_FALSE(ec) << ec.message();
  }
  return v;
}

std::string encoded(const json::value& v, const std::vector<Bytes>& attachments = {}) {
  std::string out;
  const auto ec = encode_msgpack(v, attachments, out);
  EXPECT_FALSE(ec) << ec.message();
  return out;
}

std::error_code decode_error(std::string_view hex, const MsgpackLimits& limits = {}) {
  MsgpackValue v;
  v.json = 1;
  const auto ec = decode_msgpack(unhex(hex), v, limits);
  if (ec) {
    EXPECT_TRUE(v.json.is_null());
    EXPECT_TRUE(v.attachments.empty());
  }
  return ec;
}

// --- Node's bytes --------------------------------------------------------

TEST(ClusterMsgpackFixtures, DecodeAsNodeDoes) {
  ASSERT_GT(fixtures().size(), 50u);
  for (const auto& f : fixtures()) {
    SCOPED_TRACE(f.name);
    const MsgpackValue v = decoded(unhex(f.bytes));
    const json::value want = expected_json(f);
    EXPECT_TRUE(equivalent(v.json, want))
        << "got " << json::serialize(v.json).substr(0, 400) << "\nwant "
        << json::serialize(want).substr(0, 400);
    EXPECT_EQ(contents(v.attachments), contents(expected_attachments(f)));
  }
}

TEST(ClusterMsgpackFixtures, EncodeAsNotepackDoes) {
  int checked = 0;
  for (const auto& f : fixtures()) {
    if (!f.exact) continue;
    SCOPED_TRACE(f.name);
    EXPECT_EQ(hex_encode(encoded(expected_json(f), expected_attachments(f))),
              hex_encode(unhex(f.reencoded)));
    ++checked;
  }
  EXPECT_GT(checked, 60);
}

// Where Node's own bytes are notepack's bytes for Node's view of them (no
// Date, undefined, non-canonical form...), decode then encode gives them back.
TEST(ClusterMsgpackFixtures, DecodeThenEncodeGivesNodesBytes) {
  int checked = 0;
  for (const auto& f : fixtures()) {
    if (!f.exact || std::string_view(f.bytes) != f.reencoded) continue;
    SCOPED_TRACE(f.name);
    const MsgpackValue v = decoded(unhex(f.bytes));
    EXPECT_EQ(hex_encode(encoded(v.json, v.attachments)), hex_encode(unhex(f.bytes)));
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

// Integers beyond 2^53: rollcall keeps them exact, so compare the values.
TEST(ClusterMsgpackFixtures, InexactFixturesRoundTrip) {
  for (const auto& f : fixtures()) {
    SCOPED_TRACE(f.name);
    const MsgpackValue v = decoded(unhex(f.bytes));
    const MsgpackValue again = decoded(encoded(v.json, v.attachments));
    EXPECT_TRUE(equivalent(v.json, again.json));
    EXPECT_EQ(contents(v.attachments), contents(again.attachments));
  }
}

TEST(ClusterMsgpackFixtures, BigIntegersStayExact) {
  EXPECT_EQ(decoded(unhex(fixture("raw.uint64_max").bytes)).json,
            json::value(std::numeric_limits<std::uint64_t>::max()));
  EXPECT_EQ(decoded(unhex(fixture("raw.int64_min").bytes)).json,
            json::value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(decoded(unhex(fixture("raw.uint64_2p53_plus_1").bytes)).json,
            json::value(std::int64_t{9007199254740993}));
  EXPECT_EQ(hex_encode(encoded(json::value(std::numeric_limits<std::uint64_t>::max()))),
            "cfffffffffffffffff");
  EXPECT_EQ(hex_encode(encoded(json::value(std::numeric_limits<std::int64_t>::min()))),
            "d38000000000000000");
}

// --- decoding details ---------------------------------------------------

TEST(ClusterMsgpackDecode, BinaryBecomesPlaceholders) {
  const MsgpackValue v = decoded(unhex("93c40101c400c70100ff"));  // [bin, bin, ext8 type 0]
  ASSERT_EQ(v.attachments.size(), 3u);
  std::size_t num = 9;
  ASSERT_TRUE(socketio::is_placeholder(v.json.get_array()[2], &num));
  EXPECT_EQ(num, 2u);
  EXPECT_EQ(*v.attachments[2], std::string(1, '\xff'));
  EXPECT_TRUE(socketio::placeholders_valid(v.json, v.attachments.size()));
}

TEST(ClusterMsgpackDecode, UndefinedAndFixext) {
  // fixext 1 type 0 is undefined; ext 8 of length 1 type 0 is an ArrayBuffer.
  EXPECT_EQ(decoded(unhex("92d40000c7010007")).json.get_array()[0], json::value(nullptr));
  EXPECT_EQ(decoded(unhex("92d40000c7010007")).attachments.size(), 1u);
  EXPECT_EQ(json::serialize(decoded(unhex("83a161d40000a16201a161c3")).json), R"({"a":true,"b":1})");
}

TEST(ClusterMsgpackDecode, NonFiniteIsNull) {
  EXPECT_TRUE(decoded(unhex("cb7ff0000000000000")).json.is_null());
  EXPECT_TRUE(decoded(unhex("cbfff0000000000000")).json.is_null());
  EXPECT_TRUE(decoded(unhex("ca7fc00000")).json.is_null());
  EXPECT_EQ(decoded(unhex("cb4008000000000000")).json, json::value(3.0));
}

TEST(ClusterMsgpackDecode, Errors) {
  using E = MsgpackError;
  EXPECT_EQ(decode_error(""), E::truncated);
  EXPECT_EQ(decode_error("a36162"), E::truncated);
  EXPECT_EQ(decode_error("92c0"), E::too_many_elements);  // 2 announced, 1 byte left
  EXPECT_EQ(decode_error("a3616263ff"), E::trailing_bytes);
  EXPECT_EQ(decode_error("c0c0"), E::trailing_bytes);
  EXPECT_EQ(decode_error("c1"), E::invalid_byte);
  EXPECT_EQ(decode_error("92c0c1"), E::invalid_byte);
  // Element budget: announced elements beyond what the input can hold.
  EXPECT_EQ(decode_error("ddffffffff"), E::too_many_elements);
  EXPECT_EQ(decode_error("dfffffffff"), E::too_many_elements);
  EXPECT_EQ(decode_error("9fc0c0"), E::too_many_elements);
  EXPECT_EQ(decode_error("8201c0"), E::too_many_elements);
  EXPECT_EQ(decode_error("92ddffffffffc0"), E::too_many_elements);
  // Large str/bin that the input does not hold: truncated, nothing allocated.
  EXPECT_EQ(decode_error("dbffffffff61"), E::truncated);
  EXPECT_EQ(decode_error("c6ffffffff01"), E::truncated);
  EXPECT_EQ(decode_error("c9ffffffff0001"), E::truncated);
  // Keys.
  EXPECT_EQ(decode_error("810102"), E::non_string_key);
  EXPECT_EQ(decode_error("81c001"), E::non_string_key);
  EXPECT_EQ(decode_error("81910102"), E::non_string_key);
  EXPECT_EQ(decode_error("818001"), E::non_string_key);
  EXPECT_EQ(decode_error("81c4010001"), E::non_string_key);
  EXPECT_EQ(decode_error("81d4000001"), E::non_string_key);
  EXPECT_EQ(decode_error("81cb3ff800000000000001"), E::non_string_key);
  // Ext types notepack does not write as values.
  EXPECT_EQ(decode_error("d40100"), E::unknown_ext);
  EXPECT_EQ(decode_error("d5000102"), E::unknown_ext);
  EXPECT_EQ(decode_error("d60001020304"), E::unknown_ext);
  EXPECT_EQ(decode_error("d805" + std::string(32, '0')), E::unknown_ext);
  EXPECT_EQ(decode_error("c7020501"), E::truncated);
  EXPECT_EQ(decode_error("c702050102"), E::unknown_ext);
  EXPECT_EQ(decode_error("d4ff00"), E::bad_timestamp);
  EXPECT_EQ(decode_error("d8ff" + std::string(32, '0')), E::bad_timestamp);
  EXPECT_EQ(decode_error("c708ff0000000000000000"), E::bad_timestamp);
  EXPECT_EQ(decode_error("c8000cff" + std::string(24, '0')), E::bad_timestamp);
  // Binary that Node would silently discard.
  EXPECT_EQ(decode_error("82a161c40100a16101"), E::dropped_binary);
  EXPECT_EQ(decode_error("82a161c40100a161d40000"), E::dropped_binary);
  EXPECT_EQ(decode_error("81a95f5f70726f746f5f5fc40100"), E::dropped_binary);
  EXPECT_EQ(decode_error("81a95f5f70726f746f5f5f91c40100"), E::dropped_binary);
}

TEST(ClusterMsgpackDecode, EveryPrefixIsIncomplete) {
  for (const auto& f : fixtures()) {
    const std::string bytes = unhex(f.bytes);
    if (bytes.size() > 600) continue;
    SCOPED_TRACE(f.name);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      MsgpackValue v;
      const auto ec = decode_msgpack(std::string_view(bytes).substr(0, n), v);
      EXPECT_TRUE(ec == MsgpackError::truncated || ec == MsgpackError::too_many_elements)
          << n << ": " << ec.message();
    }
  }
}

std::string nested_arrays(std::size_t depth) {
  return std::string(depth, '\x91') + '\xc0';
}

TEST(ClusterMsgpackDecode, DepthLimit) {
  MsgpackValue v;
  EXPECT_FALSE(decode_msgpack(nested_arrays(64), v));
  EXPECT_EQ(decode_msgpack(nested_arrays(65), v), MsgpackError::too_deep);
  EXPECT_EQ(decode_msgpack(std::string(100000, '\x91'), v), MsgpackError::too_deep);
  std::string maps;
  for (int i = 0; i < 65; ++i) maps += "\x81\xa1k";
  maps += '\xc0';
  EXPECT_EQ(decode_msgpack(maps, v), MsgpackError::too_deep);
  EXPECT_FALSE(decode_msgpack(maps.substr(3), v));
  MsgpackLimits shallow;
  shallow.max_depth = 2;
  EXPECT_EQ(decode_msgpack(nested_arrays(3), v, shallow), MsgpackError::too_deep);
  EXPECT_FALSE(decode_msgpack(nested_arrays(2), v, shallow));

  // The encoder has the same limit.
  const json::value deep = decoded(nested_arrays(64)).json;
  json::value deeper = json::array{deep};
  std::string out = "keep";
  EXPECT_FALSE(encode_msgpack(deep, {}, out));
  out = "keep";
  EXPECT_EQ(encode_msgpack(deeper, {}, out), MsgpackError::too_deep);
  EXPECT_EQ(out, "keep");
}

TEST(ClusterMsgpackDecode, AttachmentLimit) {
  MsgpackLimits limits;
  limits.max_attachments = 2;
  EXPECT_EQ(decode_error("93c400c400c400", limits), MsgpackError::too_many_attachments);
  EXPECT_FALSE(decode_error("92c400c400", limits));
}

TEST(ClusterMsgpackDecode, Utf8AsNode) {
  // The WHATWG decoder: each maximal invalid subpart is one U+FFFD.
  const auto str = [](std::string_view bytes) {
    std::string m = "\xd9";
    m.push_back(static_cast<char>(bytes.size()));
    m.append(bytes);
    return std::string(decoded(m).json.get_string());
  };
  EXPECT_EQ(str("h\xc3\xa9llo \xf0\x9d\x84\x9e"), "h\xc3\xa9llo \xf0\x9d\x84\x9e");
  EXPECT_EQ(str("\xc3"), "\xef\xbf\xbd");
  EXPECT_EQ(str("\xe2\x82"), "\xef\xbf\xbd");
  EXPECT_EQ(str("\xe2\x82x"), "\xef\xbf\xbdx");
  EXPECT_EQ(str("\x80\x80"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(str("\xf5\x80"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(str("a\xed\x9f\xbf" "b"), "a\xed\x9f\xbf" "b");  // U+D7FF is fine
  EXPECT_EQ(str("\xef\xbf\xbf"), "\xef\xbf\xbf");              // U+FFFF too
  EXPECT_EQ(str("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");      // U+10FFFF
}

TEST(ClusterMsgpackDecode, JsDates) {
  EXPECT_EQ(js_date_iso_string(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(-0.5), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(1.9), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(js_date_iso_string(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(js_date_iso_string(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(8.64e15), "+275760-09-13T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(-8.64e15), "-271821-04-20T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(-62167219200000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(253402300800000), "+010000-01-01T00:00:00.000Z");
  EXPECT_EQ(js_date_iso_string(8.64e15 + 1), "");
  EXPECT_EQ(js_date_iso_string(std::nan("")), "");
  EXPECT_EQ(js_date_iso_string(std::numeric_limits<double>::infinity()), "");
}

// --- encoding details ---------------------------------------------------

TEST(ClusterMsgpackEncode, NumbersAsNotepack) {
  const auto hex = [](double d) { return hex_encode(encoded(json::value(d))); };
  EXPECT_EQ(hex(3.0), "03");
  EXPECT_EQ(hex(-0.0), "00");
  EXPECT_EQ(hex(-33.0), "d0df");
  EXPECT_EQ(hex(9007199254740992.0), "cf0020000000000000");
  EXPECT_EQ(hex(9223372036854775808.0), "cf8000000000000000");    // 2^63, as notepack
  EXPECT_EQ(hex(-9223372036854775808.0), "d38000000000000000");   // -2^63, as notepack
  EXPECT_EQ(hex(1.5), "cb3ff8000000000000");
  EXPECT_EQ(hex(std::numeric_limits<double>::infinity()), "cb7ff0000000000000");
  EXPECT_EQ(hex(-std::numeric_limits<double>::infinity()), "cbfff0000000000000");
  EXPECT_EQ(hex(std::nan("")), "cb7ff8000000000000");
  EXPECT_EQ(hex(-std::nan("")), "cb7ff8000000000000");
  // Deliberately not notepack (it writes these modulo 2^64: 0 and garbage).
  EXPECT_EQ(hex(18446744073709551616.0), "cb43f0000000000000");
  EXPECT_EQ(hex(1e300), "cb7e37e43c8800759c");
  EXPECT_EQ(hex(-1e19), "cbc3e158e460913d00");
  EXPECT_EQ(hex_encode(encoded(json::value(std::int64_t{-1}))), "ff");
  EXPECT_EQ(hex_encode(encoded(json::value(std::uint64_t{200}))), "ccc8");
}

TEST(ClusterMsgpackEncode, SizeClasses) {
  json::array big(65536);
  const std::string a = encoded(big);
  EXPECT_EQ(hex_encode(a.substr(0, 5)), "dd00010000");
  EXPECT_EQ(a.size(), 5u + 65536u);
  json::object m;
  for (int i = 0; i < 65536; ++i) m.emplace("k" + std::to_string(i), i);
  EXPECT_EQ(hex_encode(encoded(m).substr(0, 5)), "df00010000");
  json::object m16;
  for (int i = 0; i < 65535; ++i) m16.emplace("k" + std::to_string(i), 0);
  EXPECT_EQ(hex_encode(encoded(m16).substr(0, 3)), "deffff");
}

TEST(ClusterMsgpackEncode, KeysInJavaScriptOrder) {
  EXPECT_EQ(hex_encode(encoded(json::parse(R"({"b":1,"2":2,"a":3,"1":4})"))),
            fixture("raw.integer_keys").reencoded);
  // Only canonical indexes below 2^32-1 move to the front.
  EXPECT_EQ(hex_encode(encoded(json::parse(R"({"01":1,"4294967295":2,"4294967294":3,"-1":4})"))),
            "84aa3432393439363732393403a23031" "01aa3432393439363732393502a22d3104");
}

TEST(ClusterMsgpackEncode, Placeholders) {
  std::vector<Bytes> atts{std::make_shared<const std::string>("\x01\x02", 2)};
  EXPECT_EQ(hex_encode(encoded(json::array{socketio::make_placeholder(0), 1}, atts)), "92c402010201");
  std::string out = "x";
  EXPECT_EQ(encode_msgpack(json::array{socketio::make_placeholder(1)}, atts, out),
            MsgpackError::bad_placeholder);
  EXPECT_EQ(out, "x");
  std::vector<Bytes> null_att{nullptr};
  EXPECT_EQ(encode_msgpack(socketio::make_placeholder(0), null_att, out), MsgpackError::bad_placeholder);
  EXPECT_EQ(out, "x");
  // Not a placeholder: an ordinary map.
  EXPECT_EQ(hex_encode(encoded(json::parse(R"({"_placeholder":false,"num":0})"))),
            "82ac5f706c616365686f6c646572c2a36e756d00");
}

TEST(ClusterMsgpackEncode, Writer) {
  std::string out;
  MsgpackWriter w(out);
  w.array_header(4);
  w.string("a");
  w.integer(-1);
  w.unsigned_integer(300);
  w.nil();
  EXPECT_FALSE(w.error());
  EXPECT_EQ(hex_encode(out), "94a161ffcd012cc0");
}

// --- adapter messages ---------------------------------------------------

BroadcastMessage broadcast(std::string_view name) {
  BroadcastMessage m;
  const auto ec = decode_broadcast(unhex(fixture(name).bytes), m);
  EXPECT_FALSE(ec) << name << ": " << ec.message();
  return m;
}

std::string hex_of(const BroadcastMessage& m) {
  std::string out;
  EXPECT_FALSE(encode_broadcast(m, out));
  return hex_encode(out);
}

TEST(ClusterAdapterMessages, Broadcast) {
  const BroadcastMessage m = broadcast("msg.broadcast");
  EXPECT_EQ(m.uid, "RFZnLa");
  EXPECT_EQ(m.packet.type, 2);
  EXPECT_EQ(m.packet.nsp, "/");
  EXPECT_EQ(m.packet.data, json::parse(R"(["hello","world"])"));
  EXPECT_TRUE(m.packet.attachments.empty());
  EXPECT_FALSE(m.packet.id);
  EXPECT_TRUE(m.opts.rooms.empty());
  EXPECT_TRUE(m.opts.except.empty());
  EXPECT_FALSE(m.opts.flags.is_volatile);
  EXPECT_FALSE(m.opts.flags.compress);
  EXPECT_EQ(hex_of(m), fixture("msg.broadcast").bytes);
}

TEST(ClusterAdapterMessages, BroadcastWithBinary) {
  const BroadcastMessage m = broadcast("msg.broadcast_binary");
  EXPECT_EQ(m.packet.nsp, "/chat");
  EXPECT_EQ(contents(m.packet.attachments), (std::vector<std::string>{"\x01\x02\x03", std::string("\xff\x00", 2), ""}));
  EXPECT_TRUE(socketio::placeholders_valid(m.packet.data, m.packet.attachments.size()));
  EXPECT_EQ(m.opts.rooms, (std::vector<std::string>{"room1", "room2"}));
  EXPECT_EQ(m.opts.except, (std::vector<std::string>{"GH2kWVN8aL9n6n0tAAAB"}));
  EXPECT_TRUE(m.opts.flags.is_volatile);
  EXPECT_EQ(hex_of(m), fixture("msg.broadcast_binary").bytes);
}

TEST(ClusterAdapterMessages, Flags) {
  const BroadcastMessage m = broadcast("msg.broadcast_flags");
  const auto& f = m.opts.flags;
  EXPECT_TRUE(f.is_volatile);
  EXPECT_EQ(f.compress, false);
  EXPECT_TRUE(f.local);
  EXPECT_TRUE(f.broadcast);
  EXPECT_TRUE(f.binary);
  EXPECT_EQ(f.timeout, 5000u);
  EXPECT_TRUE(f.expect_single_response);
  EXPECT_TRUE(f.other.empty());
  EXPECT_EQ(hex_of(m), fixture("msg.broadcast_flags").bytes);

  // Other flags are kept; the order of the known ones is ours.
  const BroadcastMessage o = broadcast("msg.broadcast_flags_other_order");
  EXPECT_EQ(o.opts.flags.compress, true);
  EXPECT_EQ(o.opts.flags.timeout, 250u);
  EXPECT_TRUE(o.opts.flags.is_volatile);
  EXPECT_EQ(json::value(o.opts.flags.other), json::parse(R"({"custom":"kept"})"));
  BroadcastMessage again;
  std::string bytes;
  ASSERT_FALSE(encode_broadcast(o, bytes));
  ASSERT_FALSE(decode_broadcast(bytes, again));
  EXPECT_EQ(again.opts.flags.compress, true);
  EXPECT_EQ(again.opts.flags.timeout, 250u);
  EXPECT_EQ(again.opts.flags.other, o.opts.flags.other);
  EXPECT_EQ(again.opts.except, (std::vector<std::string>{"b"}));
}

TEST(ClusterAdapterMessages, VariantsNodeSends) {
  // No flags (Node's opts.flags undefined): defaults, written back as {}.
  const BroadcastMessage no_flags = broadcast("msg.broadcast_no_flags");
  EXPECT_FALSE(no_flags.opts.flags.is_volatile);
  EXPECT_FALSE(no_flags.opts.flags.timeout);
  const std::string h = hex_of(no_flags);
  EXPECT_EQ(h.substr(h.size() - 14), "a5666c61677380");
  EXPECT_EQ(broadcast("msg.broadcast_no_nsp").packet.nsp, "/");
  const BroadcastMessage numeric = broadcast("msg.broadcast_numeric_room");
  EXPECT_EQ(numeric.opts.rooms, (std::vector<std::string>{"42", "r"}));
  EXPECT_EQ(numeric.opts.except, (std::vector<std::string>{"7"}));
  const BroadcastMessage with_id = broadcast("msg.broadcast_with_id");
  EXPECT_EQ(with_id.packet.id, 12u);
  EXPECT_EQ(hex_of(with_id), fixture("msg.broadcast_with_id").bytes);
  const BroadcastMessage emitter = broadcast("msg.emitter");
  EXPECT_EQ(emitter.uid, "emitter");
  EXPECT_EQ(emitter.opts.rooms, (std::vector<std::string>{"room42"}));
  EXPECT_EQ(emitter.packet.data, json::parse(R"(["time","2026-12-03"])"));
}

TEST(ClusterAdapterMessages, RequestAndAck) {
  BroadcastRequest r;
  ASSERT_FALSE(decode_broadcast_request(unhex(fixture("msg.request7").bytes), r));
  EXPECT_EQ(r.uid, "RFZnLa");
  EXPECT_EQ(r.request_id, "Xy12Ab");
  EXPECT_EQ(r.packet.type, 2);
  EXPECT_EQ(contents(r.packet.attachments), (std::vector<std::string>{"\x09\x08\x07"}));
  EXPECT_EQ(r.opts.rooms, (std::vector<std::string>{"room1"}));
  EXPECT_EQ(r.opts.flags.timeout, 5000u);
  std::string out;
  ASSERT_FALSE(encode_broadcast_request(r, out));
  EXPECT_EQ(hex_encode(out), fixture("msg.request7").bytes);

  for (const char* name : {"msg.response9", "msg.response9_binary", "msg.response9_undefined",
                           "msg.response9_null"}) {
    SCOPED_TRACE(name);
    BroadcastAck a;
    ASSERT_FALSE(decode_broadcast_ack(unhex(fixture(name).bytes), a));
    EXPECT_EQ(a.request_id, "Xy12Ab");
    std::string bytes;
    ASSERT_FALSE(encode_broadcast_ack(a, bytes));
    EXPECT_EQ(hex_encode(bytes), fixture(name).bytes);
  }
  BroadcastAck a;
  ASSERT_FALSE(decode_broadcast_ack(unhex(fixture("msg.response9_binary").bytes), a));
  ASSERT_TRUE(a.arg);
  EXPECT_EQ(contents(a.attachments), (std::vector<std::string>{"hi"}));
  ASSERT_FALSE(decode_broadcast_ack(unhex(fixture("msg.response9_undefined").bytes), a));
  EXPECT_FALSE(a.arg);
  ASSERT_FALSE(decode_broadcast_ack(unhex(fixture("msg.response9_null").bytes), a));
  ASSERT_TRUE(a.arg);
  EXPECT_TRUE(a.arg->is_null());
}

TEST(ClusterAdapterMessages, WrongShapes) {
  const auto bytes_of = [](std::string_view json_text, std::vector<Bytes> atts = {}) {
    std::string out;
    EXPECT_FALSE(encode_msgpack(json::parse(json_text), atts, out));
    return out;
  };
  BroadcastMessage m;
  EXPECT_EQ(decode_broadcast(unhex(fixture("msg.request7").bytes), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2},{}])"), m), std::error_code{});
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2},{},1])"), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"([1,{"type":2},{}])"), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":7},{}])"), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2,"nsp":1},{}])"), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2,"id":-1},{}])"), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2},{"rooms":[1.5]}])"), m), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2},{"flags":{"volatile":1}}])"), m),
            MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(R"(["u",{"type":2},{"flags":{"timeout":-5}}])"), m),
            MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast("\xc1", m), MsgpackError::invalid_byte);
  // Binary anywhere but the packet's data.
  const std::vector<Bytes> one{std::make_shared<const std::string>("z")};
  const char* ph = R"({"_placeholder":true,"num":0})";
  EXPECT_EQ(decode_broadcast(bytes_of(std::string(R"(["u",{"type":2},{"flags":{"x":)") + ph + "}}]", one), m),
            MsgpackError::bad_message);
  EXPECT_TRUE(m.packet.attachments.empty());
  EXPECT_EQ(decode_broadcast(bytes_of(std::string(R"(["u",{"type":2,"extra":)") + ph + "},{}]", one), m),
            MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast(bytes_of(std::string(R"(["u",{"type":2,"data":[)") + ph + "]},{}]", one), m),
            std::error_code{});
  EXPECT_EQ(m.packet.attachments.size(), 1u);

  BroadcastRequest r;
  EXPECT_EQ(decode_broadcast_request(unhex(fixture("msg.broadcast").bytes), r), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast_request(bytes_of(R"({"uid":"u","requestId":"r","type":7})"), r),
            MsgpackError::bad_message);
  BroadcastAck a;
  EXPECT_EQ(decode_broadcast_ack(unhex(fixture("msg.request7").bytes), a), MsgpackError::bad_message);
  EXPECT_EQ(decode_broadcast_ack(bytes_of(R"({"type":9})"), a), MsgpackError::bad_message);

  // Encoding: a placeholder without its attachment.
  BroadcastMessage b;
  b.uid = "u";
  b.packet.data = json::array{"ev", socketio::make_placeholder(0)};
  std::string out = "keep";
  EXPECT_EQ(encode_broadcast(b, out), MsgpackError::bad_placeholder);
  EXPECT_EQ(out, "keep");
}

}  // namespace
}  // namespace rollcall::cluster
