#include "engineio/packet.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace rollcall::engineio {

// Readable gtest failure messages.
void PrintTo(DecodeError e, std::ostream* os) { *os << to_string(e); }

namespace {

using namespace std::string_literals;

TEST(EngineioTextPacket, DecodesEveryType) {
  for (char t = '0'; t <= '6'; ++t) {
    Packet p;
    ASSERT_EQ(decode_text_packet(std::string(1, t) + "data", p), DecodeError::none);
    EXPECT_EQ(static_cast<int>(p.type), t - '0');
    EXPECT_FALSE(p.binary);
    EXPECT_EQ(p.data, "data");
  }
}

TEST(EngineioTextPacket, ProbePingAndTypeOnly) {
  Packet p;
  ASSERT_EQ(decode_text_packet("2probe", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::ping);
  EXPECT_EQ(p.data, "probe");
  ASSERT_EQ(decode_text_packet("5", p), DecodeError::none);
  EXPECT_EQ(p.type, PacketType::upgrade);
  EXPECT_EQ(p.data, "");
}

TEST(EngineioTextPacket, EmptyIsEmptyPacket) {
  Packet p;
  EXPECT_EQ(decode_text_packet("", p), DecodeError::empty_packet);
}

TEST(EngineioTextPacket, UnknownTypeCharacters) {
  Packet p;
  EXPECT_EQ(decode_text_packet("abc", p), DecodeError::unknown_type);
  EXPECT_EQ(decode_text_packet("7", p), DecodeError::unknown_type);
  EXPECT_EQ(decode_text_packet("/", p), DecodeError::unknown_type);
  EXPECT_EQ(decode_text_packet("b", p), DecodeError::unknown_type);  // 'b' is polling-only
  EXPECT_EQ(decode_text_packet("\x1e", p), DecodeError::unknown_type);
}

TEST(EngineioPayload, DocExampleTextAndBinary) {
  std::vector<Packet> out;
  ASSERT_EQ(decode_payload("4hello\x1e" "bAQIDBA==", out), DecodeError::none);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].type, PacketType::message);
  EXPECT_FALSE(out[0].binary);
  EXPECT_EQ(out[0].data, "hello");
  EXPECT_EQ(out[1].type, PacketType::message);
  EXPECT_TRUE(out[1].binary);
  EXPECT_EQ(out[1].data, "\x01\x02\x03\x04"s);
}

TEST(EngineioPayload, SinglePacketAndAppendsToExisting) {
  std::vector<Packet> out(1);
  ASSERT_EQ(decode_payload("3", out), DecodeError::none);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type, PacketType::pong);
}

TEST(EngineioPayload, EmptyBinaryRecordIsEmptyMessage) {
  std::vector<Packet> out;
  ASSERT_EQ(decode_payload("b", out), DecodeError::none);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].binary);
  EXPECT_EQ(out[0].data, "");
}

TEST(EngineioPayload, EmptyRecordsAreErrors) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_payload("", out), DecodeError::empty_packet);
  EXPECT_EQ(decode_payload("4a\x1e", out), DecodeError::empty_packet);
  EXPECT_EQ(decode_payload("\x1e" "4a", out), DecodeError::empty_packet);
  EXPECT_EQ(decode_payload("4a\x1e\x1e" "4b", out), DecodeError::empty_packet);
}

TEST(EngineioPayload, UnknownTypeInRecord) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_payload("abc", out), DecodeError::unknown_type);
  EXPECT_EQ(decode_payload("4ok\x1e" "9", out), DecodeError::unknown_type);
}

TEST(EngineioPayload, BadBase64Record) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_payload("bAQIDB", out), DecodeError::bad_base64);  // bad length
  EXPECT_EQ(decode_payload("4x\x1e" "b!!!!", out), DecodeError::bad_base64);
}

TEST(EngineioPayload, ErrorLeavesOutputUntouched) {
  std::vector<Packet> out(2);
  EXPECT_EQ(decode_payload("4a\x1e" "4b\x1e" "x", out), DecodeError::unknown_type);
  EXPECT_EQ(out.size(), 2u);
}

TEST(EngineioPayload, MaxPacketsEnforced) {
  std::vector<Packet> out;
  EXPECT_EQ(decode_payload("4a\x1e" "4b\x1e" "4c", out, 3), DecodeError::none);
  EXPECT_EQ(out.size(), 3u);
  out.clear();
  EXPECT_EQ(decode_payload("4a\x1e" "4b\x1e" "4c\x1e" "4d", out, 3),
            DecodeError::too_many_packets);
  EXPECT_TRUE(out.empty());
  // A flood of tiny records stops at the limit.
  std::string flood;
  for (int i = 0; i < 100; ++i) append_payload_record(flood, PacketType::noop, "", false);
  EXPECT_EQ(decode_payload(flood, out, 10), DecodeError::too_many_packets);
  EXPECT_TRUE(out.empty());
}

TEST(EngineioPayload, AppendRecordRoundTrip) {
  std::string payload;
  append_payload_record(payload, PacketType::message, "hello", false);
  EXPECT_EQ(payload, "4hello");
  append_payload_record(payload, PacketType::message, "\x01\x02\x03\x04"s, true);
  EXPECT_EQ(payload, "4hello\x1e" "bAQIDBA==");
  append_payload_record(payload, PacketType::ping, "", false);
  append_payload_record(payload, PacketType::noop, "", false);
  EXPECT_EQ(payload, "4hello\x1e" "bAQIDBA==\x1e" "2\x1e" "6");

  std::vector<Packet> out;
  ASSERT_EQ(decode_payload(payload, out), DecodeError::none);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].data, "hello");
  EXPECT_EQ(out[1].data, "\x01\x02\x03\x04"s);
  EXPECT_TRUE(out[1].binary);
  EXPECT_EQ(out[2].type, PacketType::ping);
  EXPECT_EQ(out[3].type, PacketType::noop);
}

TEST(EngineioErrors, ToStringCoversEveryValue) {
  for (auto e : {DecodeError::none, DecodeError::empty_packet, DecodeError::unknown_type,
                 DecodeError::bad_base64, DecodeError::too_many_packets}) {
    EXPECT_STRNE(to_string(e), "unknown error");
  }
}

TEST(SessionId, FormatAndTag) {
  for (int tag : {0, 1, 7, 127, 128, 255}) {
    const std::string id = make_id(static_cast<std::uint8_t>(tag));
    ASSERT_EQ(id.size(), 20u);
    for (char c : id) {
      const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
      EXPECT_TRUE(ok) << id;
    }
    const auto t = id_tag(id);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(*t, tag);
  }
}

TEST(SessionId, Unique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(make_id(3));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(SessionId, IdTagRejectsMalformed) {
  EXPECT_FALSE(id_tag("").has_value());
  EXPECT_FALSE(id_tag("AAAAAAAAAAAAAAAAAAA").has_value());    // 19 chars
  EXPECT_FALSE(id_tag("AAAAAAAAAAAAAAAAAAAAA").has_value());  // 21 chars
  EXPECT_FALSE(id_tag("AAAAAAAAAAAAAAAAAAA+").has_value());   // standard alphabet char
  EXPECT_FALSE(id_tag("AAAAAAAAAAAAAAAAAA==").has_value());
  ASSERT_TRUE(id_tag("_wAAAAAAAAAAAAAAAAAA").has_value());
  EXPECT_EQ(*id_tag("_wAAAAAAAAAAAAAAAAAA"), 0xff);
  EXPECT_EQ(*id_tag("BAAAAAAAAAAAAAAAAAAA"), 0x04);
}

}  // namespace
}  // namespace rollcall::engineio
