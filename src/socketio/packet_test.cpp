#include "socketio/packet.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>

namespace rollcall::socketio {

// Readable gtest failure messages.
void PrintTo(DecodeError e, std::ostream* os) { *os << to_string(e); }

namespace {

namespace json = boost::json;

json::value J(std::string_view s) { return json::parse(json::string_view(s.data(), s.size())); }

std::string enc(const Packet& p) {
  std::string out;
  encode(p, out);
  return out;
}

Packet make(PacketType t, std::string nsp, std::optional<std::uint64_t> id, json::value data,
            std::size_t attachments = 0) {
  Packet p;
  p.type = t;
  p.nsp = std::move(nsp);
  p.id = id;
  p.data = std::move(data);
  p.attachments = attachments;
  return p;
}

DecodeError dec(std::string_view in, std::size_t max_attachments = 10) {
  Packet p;
  return decode(in, p, max_attachments);
}

const std::string kPh0 = R"({"_placeholder":true,"num":0})";
const std::string kPh1 = R"({"_placeholder":true,"num":1})";

// ---------------------------------------------------------------- decoding

TEST(SocketioDecode, ConnectForms) {
  Packet p;
  ASSERT_EQ(decode("0", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::connect);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_TRUE(p.data.is_null());
  EXPECT_FALSE(p.id.has_value());

  ASSERT_EQ(decode(R"(0/admin,{"token":"123"})", p), DecodeError::none);
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.data, J(R"({"token":"123"})"));

  ASSERT_EQ(decode(R"(0{"sid":"wZX3oN0bSVIhsaknAAAI"})", p), DecodeError::none);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_EQ(p.data.at("sid"), "wZX3oN0bSVIhsaknAAAI");
}

TEST(SocketioDecode, NamespaceRunsToEndWithoutComma) {
  Packet p;
  ASSERT_EQ(decode("0/random", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::connect);
  EXPECT_EQ(p.nsp, "/random");
  EXPECT_TRUE(p.data.is_null());
}

TEST(SocketioDecode, DisconnectForms) {
  Packet p;
  ASSERT_EQ(decode("1", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::disconnect);
  EXPECT_EQ(p.nsp, "/");
  ASSERT_EQ(decode("1/admin,", p), DecodeError::none);
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_TRUE(p.data.is_null());
}

TEST(SocketioDecode, EventWithAndWithoutAck) {
  Packet p;
  ASSERT_EQ(decode(R"(2["hello","world"])", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::event);
  EXPECT_FALSE(p.id.has_value());
  EXPECT_EQ(p.data, J(R"(["hello","world"])"));

  ASSERT_EQ(decode(R"(2/admin,13["tellme"])", p), DecodeError::none);
  EXPECT_EQ(p.nsp, "/admin");
  ASSERT_TRUE(p.id.has_value());
  EXPECT_EQ(*p.id, 13u);
  EXPECT_EQ(p.data, J(R"(["tellme"])"));
}

TEST(SocketioDecode, SuiteMessageWithAck) {
  Packet p;
  ASSERT_EQ(decode(R"(2456["message-with-ack",1,"2",{"3":[false]}])", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::event);
  ASSERT_TRUE(p.id.has_value());
  EXPECT_EQ(*p.id, 456u);
  EXPECT_EQ(p.data, J(R"(["message-with-ack",1,"2",{"3":[false]}])"));
}

TEST(SocketioDecode, EventNameMayBeNumber) {
  EXPECT_EQ(dec("2[42]"), DecodeError::none);
  EXPECT_EQ(dec("2[4.5,\"x\"]"), DecodeError::none);
}

TEST(SocketioDecode, AckForms) {
  Packet p;
  ASSERT_EQ(decode(R"(313["bar"])", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::ack);
  EXPECT_EQ(*p.id, 13u);
  ASSERT_EQ(decode("3/admin,13[]", p), DecodeError::none);
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(*p.id, 13u);
  EXPECT_TRUE(p.data.is_array());
  EXPECT_TRUE(p.data.get_array().empty());
}

TEST(SocketioDecode, ConnectErrorObjectOrString) {
  Packet p;
  ASSERT_EQ(decode(R"(4/random,{"message":"Invalid namespace"})", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::connect_error);
  EXPECT_EQ(p.nsp, "/random");
  EXPECT_EQ(p.data.at("message"), "Invalid namespace");
  ASSERT_EQ(decode(R"(4"legacy error")", p), DecodeError::none);
  EXPECT_EQ(p.data, "legacy error");
}

TEST(SocketioDecode, BinaryEventWithPlaceholders) {
  Packet p;
  ASSERT_EQ(decode("52-[\"message\"," + kPh0 + "," + kPh1 + "]", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::binary_event);
  EXPECT_EQ(p.attachments, 2u);
  EXPECT_FALSE(p.id.has_value());
  EXPECT_TRUE(placeholders_valid(p.data, p.attachments));
}

TEST(SocketioDecode, BinaryAckWithIdAndNamespace) {
  Packet p;
  ASSERT_EQ(decode("61-15[\"bar\"," + kPh0 + "]", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::binary_ack);
  EXPECT_EQ(p.attachments, 1u);
  EXPECT_EQ(*p.id, 15u);
  ASSERT_EQ(decode("62-/custom,789[" + kPh0 + "," + kPh1 + "]", p), DecodeError::none);
  EXPECT_EQ(p.attachments, 2u);
  EXPECT_EQ(p.nsp, "/custom");
  EXPECT_EQ(*p.id, 789u);
}

TEST(SocketioDecode, ZeroAttachmentsAccepted) {
  Packet p;
  ASSERT_EQ(decode(R"(50-["x"])", p), DecodeError::none);
  EXPECT_EQ(p.attachments, 0u);
}

TEST(SocketioDecode, BigAckIds) {
  Packet p;
  ASSERT_EQ(decode(R"(218446744073709551615["x"])", p), DecodeError::none);
  EXPECT_EQ(*p.id, std::numeric_limits<std::uint64_t>::max());
  ASSERT_EQ(decode(R"(29007199254740993["x"])", p), DecodeError::none);  // > 2^53: exact
  EXPECT_EQ(*p.id, 9007199254740993u);
  ASSERT_EQ(decode("30000012[]", p), DecodeError::none);  // leading zeros
  EXPECT_EQ(*p.id, 12u);
}

TEST(SocketioDecode, AckIdWithoutPayloadOnAckIsBadPayload) {
  EXPECT_EQ(dec("313"), DecodeError::bad_payload);
}

TEST(SocketioDecode, ErrorResetsPacket) {
  Packet p;
  p.nsp = "/stale";
  p.id = 3;
  EXPECT_EQ(decode(R"(2/admin,5{})", p), DecodeError::bad_payload);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_FALSE(p.id.has_value());
  EXPECT_TRUE(p.data.is_null());
}

// ---------------------------------------------------------------- decode errors

TEST(SocketioDecodeError, Empty) { EXPECT_EQ(dec(""), DecodeError::empty); }

TEST(SocketioDecodeError, UnknownType) {
  EXPECT_EQ(dec("abc"), DecodeError::unknown_type);  // suite: "4abc"
  EXPECT_EQ(dec("7[\"x\"]"), DecodeError::unknown_type);
  EXPECT_EQ(dec("/admin,"), DecodeError::unknown_type);
}

TEST(SocketioDecodeError, BadAttachments) {
  EXPECT_EQ(dec(R"(5["x"])"), DecodeError::bad_attachments);      // missing count
  EXPECT_EQ(dec(R"(51["x"])"), DecodeError::bad_attachments);     // missing '-'
  EXPECT_EQ(dec(R"(5-["x"])"), DecodeError::bad_attachments);     // no digits
  EXPECT_EQ(dec(R"(5a-["x"])"), DecodeError::bad_attachments);    // non-numeric
  EXPECT_EQ(dec("51"), DecodeError::bad_attachments);             // ends after digits
  EXPECT_EQ(dec(R"(611-1[])"), DecodeError::bad_attachments);     // above the default 10
  EXPECT_EQ(dec(R"(599999999999999999999999-["x"])"), DecodeError::bad_attachments);
  EXPECT_EQ(dec("53-[\"x\"]", 2), DecodeError::bad_attachments);  // custom limit
  EXPECT_EQ(dec("52-[\"x\"]", 2), DecodeError::none);
  EXPECT_EQ(dec(R"(510-["x"])"), DecodeError::none);              // exactly the limit
}

TEST(SocketioDecodeError, AttachmentsOnlyForBinaryTypes) {
  // "1-" on an EVENT is not an attachment count: it reads as ack id 1 then junk.
  EXPECT_EQ(dec(R"(21-["x"])"), DecodeError::bad_json);
}

TEST(SocketioDecodeError, BadNamespace) {
  EXPECT_EQ(dec("0/ad\x01min,"), DecodeError::bad_namespace);
  EXPECT_EQ(dec("0/ad\x7fmin"), DecodeError::bad_namespace);
  EXPECT_EQ(dec("0/\xff\xfe,"), DecodeError::bad_namespace);
  EXPECT_EQ(dec("0/\xc3,"), DecodeError::bad_namespace);          // truncated sequence
  EXPECT_EQ(dec("0/\xed\xa0\x80,"), DecodeError::bad_namespace);  // surrogate
  EXPECT_EQ(dec("0/caf\xc3\xa9,"), DecodeError::none);            // "/café"
}

TEST(SocketioDecodeError, BadAckIdOverflow) {
  EXPECT_EQ(dec(R"(218446744073709551616["x"])"), DecodeError::bad_ack_id);
  EXPECT_EQ(dec(R"(2/admin,99999999999999999999999["x"])"), DecodeError::bad_ack_id);
}

TEST(SocketioDecodeError, BadJson) {
  EXPECT_EQ(dec(R"(2abc["message"])"), DecodeError::bad_json);  // suite: 42abc[...]
  EXPECT_EQ(dec(R"(2["a"]x)"), DecodeError::bad_json);           // trailing garbage
  EXPECT_EQ(dec(R"(2["a"]["b"])"), DecodeError::bad_json);       // two values
  EXPECT_EQ(dec(R"(2["a")"), DecodeError::bad_json);             // truncated
  EXPECT_EQ(dec("2[\"a\xff\"]"), DecodeError::bad_json);         // invalid UTF-8 in string
  EXPECT_EQ(dec(R"(2['a'])"), DecodeError::bad_json);
  EXPECT_EQ(dec("0 "), DecodeError::bad_json);
  EXPECT_EQ(dec(R"(2["x",1e400])"), DecodeError::bad_json);   // not finite: cannot round-trip
  EXPECT_EQ(dec(R"(2[-7.7e6864])"), DecodeError::bad_json);
  EXPECT_EQ(dec(R"(2["x",1e-400])"), DecodeError::none);      // underflows to 0, still finite
  std::string deep = "2[\"x\",";
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  deep += "]";
  EXPECT_EQ(dec(deep), DecodeError::bad_json);  // nesting limit
}

TEST(SocketioDecodeError, BadPayloadPerType) {
  EXPECT_EQ(dec("0[]"), DecodeError::bad_payload);
  EXPECT_EQ(dec(R"(0"auth")"), DecodeError::bad_payload);
  EXPECT_EQ(dec("0null"), DecodeError::bad_payload);
  EXPECT_EQ(dec("1{}"), DecodeError::bad_payload);
  EXPECT_EQ(dec("1/admin,[]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("2{}"), DecodeError::bad_payload);  // suite: 42{}
  EXPECT_EQ(dec("2[]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("2[null]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("2[{}]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("2[[\"x\"]]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("2\"x\""), DecodeError::bad_payload);
  EXPECT_EQ(dec("2"), DecodeError::bad_payload);
  EXPECT_EQ(dec("2/admin,"), DecodeError::bad_payload);
  EXPECT_EQ(dec("3{}"), DecodeError::bad_payload);
  EXPECT_EQ(dec("31"), DecodeError::bad_payload);
  EXPECT_EQ(dec("4[]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("4"), DecodeError::bad_payload);
  EXPECT_EQ(dec("4123"), DecodeError::bad_payload);
  EXPECT_EQ(dec("50-[]"), DecodeError::bad_payload);
  EXPECT_EQ(dec("50-{}"), DecodeError::bad_payload);
  EXPECT_EQ(dec("60-{}"), DecodeError::bad_payload);
  EXPECT_EQ(dec("61-"), DecodeError::bad_payload);
}

TEST(SocketioDecodeError, ReservedEventNames) {
  for (const char* name : {"connect", "connect_error", "disconnect", "disconnecting",
                           "newListener", "removeListener"}) {
    EXPECT_EQ(dec(std::string("2[\"") + name + "\"]"), DecodeError::reserved_event_name) << name;
    EXPECT_EQ(dec(std::string("51-[\"") + name + "\"," + kPh0 + "]"),
              DecodeError::reserved_event_name)
        << name;
  }
  // Only exact matches are reserved.
  EXPECT_EQ(dec(R"(2["Connect"])"), DecodeError::none);
  EXPECT_EQ(dec(R"(2["connected"])"), DecodeError::none);
  // An ACK whose first value happens to be a reserved name is fine.
  EXPECT_EQ(dec(R"(31["connect"])"), DecodeError::none);
}

TEST(SocketioDecodeError, ToStringCoversEveryValue) {
  for (auto e : {DecodeError::none, DecodeError::empty, DecodeError::unknown_type,
                 DecodeError::bad_attachments, DecodeError::bad_namespace, DecodeError::bad_ack_id,
                 DecodeError::bad_json, DecodeError::bad_payload,
                 DecodeError::reserved_event_name}) {
    EXPECT_STRNE(to_string(e), "unknown error");
  }
}

// ---------------------------------------------------------------- encoding

TEST(SocketioEncode, MatchesNodeOutput) {
  EXPECT_EQ(enc(make(PacketType::event, "/", {}, J(R"(["hello",1])"))), R"(2["hello",1])");
  EXPECT_EQ(enc(make(PacketType::ack, "/admin", 13, json::array{})), "3/admin,13[]");
  EXPECT_EQ(enc(make(PacketType::connect, "/", {}, J(R"({"sid":"x"})"))), R"(0{"sid":"x"})");
  EXPECT_EQ(enc(make(PacketType::binary_event, "/", {},
                     json::array{"baz", make_placeholder(0)}, 1)),
            R"(51-["baz",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(enc(make(PacketType::binary_ack, "/", 15, json::array{"bar", make_placeholder(0)}, 1)),
            R"(61-15["bar",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(enc(make(PacketType::disconnect, "/", {}, nullptr)), "1");
  EXPECT_EQ(enc(make(PacketType::disconnect, "/admin", {}, nullptr)), "1/admin,");
  EXPECT_EQ(enc(make(PacketType::connect_error, "/random", {},
                     J(R"({"message":"Invalid namespace"})"))),
            R"(4/random,{"message":"Invalid namespace"})");
  EXPECT_EQ(enc(make(PacketType::event, "/custom", 12, J(R"(["event"])"))),
            R"(2/custom,12["event"])");
  EXPECT_EQ(enc(make(PacketType::binary_event, "/", {},
                     json::array{"message-back", make_placeholder(0), make_placeholder(1)}, 2)),
            R"(52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(enc(make(PacketType::binary_ack, "/", 789,
                     json::array{make_placeholder(0), make_placeholder(1)}, 2)),
            R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
}

TEST(SocketioEncode, AppendsToExistingBuffer) {
  std::string out = "4";
  encode(make(PacketType::event, "/", {}, J(R"(["a"])")), out);
  EXPECT_EQ(out, R"(42["a"])");
}

TEST(SocketioEncode, EmptyNamespaceIsDefault) {
  EXPECT_EQ(enc(make(PacketType::event, "", {}, J(R"(["a"])"))), R"(2["a"])");
}

TEST(SocketioEncode, NumbersLikeJavaScript) {
  const std::pair<double, const char*> cases[] = {
      {1.5, "1.5"},
      {1.0, "1"},
      {-0.0, "0"},
      {100.0, "100"},
      {0.1, "0.1"},
      {123.456, "123.456"},
      {-2.5e-8, "-2.5e-8"},
      {1e-7, "1e-7"},
      {0.000001, "0.000001"},
      {1.5e-6, "0.0000015"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {123456789012345680000.0, "123456789012345680000"},
      {1.2345e22, "1.2345e+22"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {std::numeric_limits<double>::infinity(), "null"},
      {std::nan(""), "null"},
  };
  for (const auto& [d, expected] : cases) {
    EXPECT_EQ(enc(make(PacketType::ack, "/", {}, json::array{d})),
              std::string("3[") + expected + "]")
        << d;
  }
}

TEST(SocketioEncode, IntegersExact) {
  EXPECT_EQ(enc(make(PacketType::ack, "/", {},
                     json::array{std::int64_t{-5}, std::uint64_t{18446744073709551615u}})),
            "3[-5,18446744073709551615]");
}

TEST(SocketioEncode, StringEscapesLikeJsonStringify) {
  json::array a;
  a.emplace_back("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f" "caf\xc3\xa9");
  EXPECT_EQ(enc(make(PacketType::ack, "/", {}, a)),
            "3[\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f" "caf\xc3\xa9\"]");
  // Keys are escaped too, objects keep insertion order.
  EXPECT_EQ(enc(make(PacketType::connect, "/", {}, J(R"({"b\n":1,"a":[true,false,null]})"))),
            R"(0{"b\n":1,"a":[true,false,null]})");
}

TEST(SocketioRoundTrip, DecodeEncodeIsIdentity) {
  const std::string cases[] = {
      "0",
      R"(0/admin,{"token":"123"})",
      R"(0{"sid":"wZX3oN0bSVIhsaknAAAI","pid":"TcLUkeC2jxVOp6RfAAAB"})",
      "1",
      "1/admin,",
      R"(2["hello","world"])",
      R"(2/admin,13["tellme"])",
      R"(2456["message-with-ack",1,"2",{"3":[false]}])",
      R"(313["bar"])",
      "3/admin,13[]",
      R"(4/random,{"message":"Invalid namespace"})",
      "51-[\"baz\"," + kPh0 + "]",
      "61-15[\"bar\"," + kPh0 + "]",
      "52-[\"message\"," + kPh0 + "," + kPh1 + "]",
      R"(2["n",1.5,-3,0.001,1e+300,{"nested":{"deep":[[],{}]}}])",
      R"(218446744073709551615["x"])",
  };
  for (const auto& c : cases) {
    Packet p;
    ASSERT_EQ(decode(c, p), DecodeError::none) << c;
    EXPECT_EQ(enc(p), c);
  }
}

TEST(SocketioRoundTrip, DoublesAreCorrectlyRounded) {
  // Values that Boost.JSON 1.81's own parser converts one ulp off.
  const std::string cases[] = {
      "3[0.46476672843190436]",
      "3[1.3927926388013963e-143]",
      "3[5.409760742964738e+124]",
      "3[-2.128409656321987e-239]",
      "3[0.30000000000000004,0.1,0.2,0.3]",
  };
  for (const auto& c : cases) {
    Packet p;
    ASSERT_EQ(decode(c, p), DecodeError::none) << c;
    EXPECT_EQ(enc(p), c);
  }
  Packet p;
  ASSERT_EQ(decode("3[0.46476672843190436]", p), DecodeError::none);
  EXPECT_EQ(p.data.at(0).as_double(), 0.46476672843190436);
}

TEST(SocketioRoundTrip, WhitespaceAroundJsonIsAccepted) {
  // JSON.parse accepts surrounding whitespace; the encoder drops it.
  Packet p;
  ASSERT_EQ(decode("2 [\"a\", 1] \n", p), DecodeError::none);
  EXPECT_EQ(enc(p), R"(2["a",1])");
  ASSERT_EQ(decode("0/admin,\t{ }", p), DecodeError::none);
  EXPECT_EQ(enc(p), "0/admin,{}");
}

TEST(SocketioRoundTrip, EncodeDecodeKeepsFields) {
  const Packet orig = make(PacketType::binary_ack, "/chat", 99,
                           json::array{make_placeholder(1), "x", make_placeholder(0)}, 2);
  Packet back;
  ASSERT_EQ(decode(enc(orig), back), DecodeError::none);
  EXPECT_EQ(back.type, orig.type);
  EXPECT_EQ(back.nsp, orig.nsp);
  EXPECT_EQ(back.id, orig.id);
  EXPECT_EQ(back.data, orig.data);
  EXPECT_EQ(back.attachments, orig.attachments);
}

// ---------------------------------------------------------------- placeholders

TEST(SocketioPlaceholder, MakeAndRecognize) {
  const auto v = make_placeholder(3);
  EXPECT_EQ(json::serialize(v), R"({"_placeholder":true,"num":3})");
  std::size_t num = 99;
  EXPECT_TRUE(is_placeholder(v, &num));
  EXPECT_EQ(num, 3u);
  EXPECT_TRUE(is_placeholder(v));
  EXPECT_TRUE(is_placeholder(J(R"({"num":0,"_placeholder":true})")));
}

TEST(SocketioPlaceholder, RejectsLookalikes) {
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":false,"num":0})")));
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":"true","num":0})")));
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":1,"num":0})")));
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":true})")));
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":true,"num":-1})")));
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":true,"num":0.5})")));
  EXPECT_FALSE(is_placeholder(J(R"({"_placeholder":true,"num":"0"})")));
  EXPECT_FALSE(is_placeholder(J(R"([{"_placeholder":true,"num":0}])")));
  EXPECT_FALSE(is_placeholder(J("null")));
}

TEST(SocketioPlaceholder, ValidWhenEveryIndexUsed) {
  EXPECT_TRUE(placeholders_valid(J("[\"x\"," + kPh0 + "," + kPh1 + "]"), 2));
  EXPECT_TRUE(placeholders_valid(J("[\"x\",{\"a\":[" + kPh1 + "]}," + kPh0 + "]"), 2));
  EXPECT_TRUE(placeholders_valid(J("[" + kPh0 + "," + kPh0 + "]"), 1));  // reuse is allowed
  EXPECT_TRUE(placeholders_valid(J(R"(["x",{"y":1}])"), 0));
  EXPECT_TRUE(placeholders_valid(J("null"), 0));
}

TEST(SocketioPlaceholder, InvalidWhenIndexMissingOrOutOfRange) {
  EXPECT_FALSE(placeholders_valid(J("[\"x\"," + kPh0 + "]"), 2));          // 1 never used
  EXPECT_FALSE(placeholders_valid(J("[\"x\"," + kPh1 + "]"), 1));          // 1 >= 1
  EXPECT_FALSE(placeholders_valid(J("[\"x\"," + kPh0 + "]"), 0));          // none announced
  EXPECT_FALSE(placeholders_valid(J(R"(["x"])"), 1));                      // announced, unused
  EXPECT_FALSE(placeholders_valid(J(R"(["x",{"_placeholder":true,"num":-1}])"), 1));
  EXPECT_FALSE(placeholders_valid(J(R"(["x",{"_placeholder":true}])"), 1));
  EXPECT_FALSE(placeholders_valid(J(R"({"deep":[[{"_placeholder":true,"num":"0"}]]})"), 1));
}

}  // namespace
}  // namespace rollcall::socketio
