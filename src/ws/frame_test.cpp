#include "ws/frame.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace rollcall::ws {

// Readable gtest failure messages.
void PrintTo(Parser::Error e, std::ostream* os) { *os << Parser::to_string(e); }
void PrintTo(CloseCode c, std::ostream* os) { *os << static_cast<int>(c); }
void PrintTo(Opcode o, std::ostream* os) { *os << static_cast<int>(o); }

namespace {

using namespace std::string_literals;

constexpr std::uint8_t kFin = 0x80;

// Builds a client frame. `b0` = FIN/RSV/opcode byte. `len_override` lets a
// test declare a length different from the payload actually appended.
std::string client_frame(std::uint8_t b0, std::string_view payload, bool masked = true,
                         std::array<std::uint8_t, 4> mask = {0x37, 0xfa, 0x21, 0x3d},
                         std::optional<std::uint64_t> len_override = std::nullopt) {
  std::string f;
  f.push_back(static_cast<char>(b0));
  const std::uint64_t len = len_override.value_or(payload.size());
  const std::uint8_t m = masked ? 0x80 : 0x00;
  if (len < 126) {
    f.push_back(static_cast<char>(m | len));
  } else if (len <= 0xffff) {
    f.push_back(static_cast<char>(m | 126));
    f.push_back(static_cast<char>(len >> 8));
    f.push_back(static_cast<char>(len & 0xff));
  } else {
    f.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  }
  if (masked) {
    for (auto b : mask) f.push_back(static_cast<char>(b));
    for (std::size_t i = 0; i < payload.size(); ++i) {
      f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
    }
  } else {
    f.append(payload);
  }
  return f;
}

std::string text(std::string_view s, bool fin = true) {
  return client_frame((fin ? kFin : 0) | 0x1, s);
}
std::string binary(std::string_view s, bool fin = true) {
  return client_frame((fin ? kFin : 0) | 0x2, s);
}
std::string cont(std::string_view s, bool fin = true) {
  return client_frame((fin ? kFin : 0) | 0x0, s);
}
std::string close_frame(std::string_view payload) { return client_frame(kFin | 0x8, payload); }
std::string close_code(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return close_frame(p);
}

struct Recorder {
  struct Message {
    Opcode op;
    std::string payload;
  };
  std::vector<Message> messages;
  std::vector<std::string> pings;
  std::vector<std::string> pongs;
  std::vector<std::pair<std::uint16_t, std::string>> closes;

  void on_message(Opcode op, std::string&& payload) {
    messages.push_back({op, std::move(payload)});
  }
  void on_ping(std::string_view p) { pings.emplace_back(p); }
  void on_pong(std::string_view p) { pongs.emplace_back(p); }
  void on_close(std::uint16_t code, std::string_view reason) {
    closes.emplace_back(code, std::string(reason));
  }
};

using Error = Parser::Error;

Error feed_all(Parser& p, Recorder& r, std::string_view data) { return p.feed(data, r); }

Error feed_bytewise(Parser& p, Recorder& r, std::string_view data) {
  for (std::size_t i = 0; i < data.size(); ++i) {
    const Error e = p.feed(data.substr(i, 1), r);
    if (e != Error::none) return e;
  }
  return Error::none;
}

// ---------------------------------------------------------------- server frames

TEST(WsWriteHeader, LengthEncodings) {
  std::uint8_t h[10];
  ASSERT_EQ(write_header(h, Opcode::text, 0), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 0x00);
  ASSERT_EQ(write_header(h, Opcode::binary, 125), 2u);
  EXPECT_EQ(h[0], 0x82);
  EXPECT_EQ(h[1], 125);
  ASSERT_EQ(write_header(h, Opcode::text, 126), 4u);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ(h[2], 0x00);
  EXPECT_EQ(h[3], 126);
  ASSERT_EQ(write_header(h, Opcode::text, 65535), 4u);
  EXPECT_EQ(h[2], 0xff);
  EXPECT_EQ(h[3], 0xff);
  ASSERT_EQ(write_header(h, Opcode::text, 65536), 10u);
  EXPECT_EQ(h[1], 127);
  const std::uint8_t expected[8] = {0, 0, 0, 0, 0, 1, 0, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(h[2 + i], expected[i]) << i;
  ASSERT_EQ(write_header(h, Opcode::text, 0x0102030405ULL), 10u);
  EXPECT_EQ(h[5], 0x01);
  EXPECT_EQ(h[9], 0x05);
}

TEST(WsWriteHeader, FinFlagAndNoMask) {
  std::uint8_t h[10];
  write_header(h, Opcode::continuation, 5, false);
  EXPECT_EQ(h[0], 0x00);
  EXPECT_EQ(h[1] & 0x80, 0);
  write_header(h, Opcode::ping, 5);
  EXPECT_EQ(h[0], 0x89);
}

TEST(WsMakeFrame, HeaderPlusPayload) {
  EXPECT_EQ(make_frame(Opcode::text, "hi"), "\x81\x02hi"s);
  const std::string big(300, 'x');
  const std::string f = make_frame(Opcode::binary, big);
  ASSERT_EQ(f.size(), 4u + 300u);
  EXPECT_EQ(f.substr(0, 4), "\x82\x7e\x01\x2c"s);
  EXPECT_EQ(f.substr(4), big);
}

TEST(WsMakeCloseFrame, CodeAndReason) {
  EXPECT_EQ(make_close_frame(CloseCode::normal), "\x88\x02\x03\xe8"s);
  EXPECT_EQ(make_close_frame(CloseCode::too_big, "big"), "\x88\x05\x03\xf1" "big"s);
}

TEST(WsMakeCloseFrame, ReasonTruncatedTo123Bytes) {
  const std::string f = make_close_frame(CloseCode::going_away, std::string(200, 'r'));
  ASSERT_EQ(f.size(), 2u + 125u);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 125);
  EXPECT_EQ(f.substr(4), std::string(123, 'r'));
}

TEST(WsMakeCloseFrame, TruncationKeepsUtf8Valid) {
  // 122 ASCII bytes then a 2-byte character straddling the 123-byte limit.
  const std::string reason = std::string(122, 'a') + "\xc3\xa9" + "tail";
  const std::string f = make_close_frame(CloseCode::normal, reason);
  const std::string sent = f.substr(4);
  EXPECT_EQ(sent, std::string(122, 'a'));
  EXPECT_TRUE(valid_utf8(sent));
}

TEST(WsMakeCloseFrame, ParsesBackThroughParserAsClientFrame) {
  // Re-mask our own close payload and feed it to a parser: code survives.
  const std::string f = make_close_frame(CloseCode::policy_violation, "bye");
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, close_frame(f.substr(2))), Error::none);
  ASSERT_EQ(r.closes.size(), 1u);
  EXPECT_EQ(r.closes[0].first, 1008);
  EXPECT_EQ(r.closes[0].second, "bye");
}

// ---------------------------------------------------------------- parser: basics

TEST(WsParser, MaskedTextMessage) {
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text("Hello")), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].op, Opcode::text);
  EXPECT_EQ(r.messages[0].payload, "Hello");
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(WsParser, Rfc6455MaskedHelloSample) {
  // RFC 6455 5.7: single-frame masked text "Hello".
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"s), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].payload, "Hello");
}

TEST(WsParser, BinaryMessageWithAllBytes) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, binary(bytes)), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].op, Opcode::binary);
  EXPECT_EQ(r.messages[0].payload, bytes);
}

TEST(WsParser, EmptyMessages) {
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text("") + binary("")), Error::none);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].payload, "");
  EXPECT_EQ(r.messages[1].op, Opcode::binary);
}

TEST(WsParser, SixteenAndSixtyFourBitLengths) {
  const std::string medium(300, 'm');
  const std::string large(70000, 'L');
  Parser p(100000);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text(medium) + binary(large)), Error::none);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].payload, medium);
  EXPECT_EQ(r.messages[1].payload, large);
}

TEST(WsParser, SeveralFramesInOneFeed) {
  Parser p(1024);
  Recorder r;
  const std::string data = text("a") + client_frame(kFin | 0x9, "p") + binary("b") +
                           client_frame(kFin | 0xA, "q") + text("c");
  ASSERT_EQ(feed_all(p, r, data), Error::none);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].payload, "a");
  EXPECT_EQ(r.messages[1].payload, "b");
  EXPECT_EQ(r.messages[2].payload, "c");
  ASSERT_EQ(r.pings.size(), 1u);
  EXPECT_EQ(r.pings[0], "p");
  ASSERT_EQ(r.pongs.size(), 1u);
  EXPECT_EQ(r.pongs[0], "q");
}

TEST(WsParser, PingWithMaxControlPayload) {
  Parser p(1024);
  Recorder r;
  const std::string payload(125, 'z');
  ASSERT_EQ(feed_all(p, r, client_frame(kFin | 0x9, payload)), Error::none);
  ASSERT_EQ(r.pings.size(), 1u);
  EXPECT_EQ(r.pings[0], payload);
}

TEST(WsParser, DifferentMasksPerFrame) {
  Parser p(1024);
  Recorder r;
  const std::string data = client_frame(kFin | 0x1, "first", true, {0, 0, 0, 0}) +
                           client_frame(kFin | 0x1, "second!!!", true, {0xff, 0x01, 0x80, 0x7f});
  ASSERT_EQ(feed_all(p, r, data), Error::none);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].payload, "first");
  EXPECT_EQ(r.messages[1].payload, "second!!!");
}

// ---------------------------------------------------------------- parser: splitting

TEST(WsParser, FramesFedOneByteAtATime) {
  const std::string large(70000, 'x');
  const std::string data = text("Hello") + client_frame(kFin | 0x9, "ping!") +
                           text(std::string(300, 'y')) + binary(large) + text("frag-", false) +
                           cont("ment") + close_code(1000, "done");
  Parser p(100000);
  Recorder r;
  ASSERT_EQ(feed_bytewise(p, r, data), Error::none);
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[0].payload, "Hello");
  EXPECT_EQ(r.messages[1].payload, std::string(300, 'y'));
  EXPECT_EQ(r.messages[2].payload, large);
  EXPECT_EQ(r.messages[3].payload, "frag-ment");
  ASSERT_EQ(r.pings.size(), 1u);
  EXPECT_EQ(r.pings[0], "ping!");
  ASSERT_EQ(r.closes.size(), 1u);
  EXPECT_EQ(r.closes[0].first, 1000);
  EXPECT_EQ(r.closes[0].second, "done");
  EXPECT_TRUE(p.closed());
}

TEST(WsParser, EverySplitPointGivesSameResult) {
  const std::string data = text("abc") + binary(std::string(200, 'b')) + text("de", false) +
                           client_frame(kFin | 0xA, "pong") + cont("f");
  for (std::size_t split = 0; split <= data.size(); ++split) {
    Parser p(1024);
    Recorder r;
    ASSERT_EQ(p.feed(std::string_view(data).substr(0, split), r), Error::none) << split;
    ASSERT_EQ(p.feed(std::string_view(data).substr(split), r), Error::none) << split;
    ASSERT_EQ(r.messages.size(), 3u) << split;
    EXPECT_EQ(r.messages[0].payload, "abc");
    EXPECT_EQ(r.messages[1].payload, std::string(200, 'b'));
    EXPECT_EQ(r.messages[2].payload, "def");
    EXPECT_EQ(r.pongs.size(), 1u);
    EXPECT_EQ(p.buffered(), 0u);
  }
}

TEST(WsParser, PartialFrameIsBufferedUntilComplete) {
  const std::string f = text("Hello") + text("World");
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(p.feed(std::string_view(f).substr(0, 9), r), Error::none);  // 2+4+3 bytes of frame 1
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(p.buffered(), 9u);
  // Rest of frame 1 plus 3 bytes of frame 2: only the tail stays buffered.
  ASSERT_EQ(p.feed(std::string_view(f).substr(9, 5), r), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(p.buffered(), 3u);
  ASSERT_EQ(p.feed(std::string_view(f).substr(14), r), Error::none);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].payload, "World");
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(WsParser, EmptyFeedIsNoop) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(p.feed("", r), Error::none);
  EXPECT_EQ(p.buffered(), 0u);
}

// ---------------------------------------------------------------- parser: fragmentation

TEST(WsParser, FragmentedTextMessage) {
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text("Hel", false) + cont("lo ", false) + cont("world")), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].op, Opcode::text);
  EXPECT_EQ(r.messages[0].payload, "Hello world");
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(WsParser, FragmentedBinaryWithInterleavedControlFrames) {
  Parser p(1024);
  Recorder r;
  const std::string data = binary("ab", false) + client_frame(kFin | 0x9, "p1") +
                           cont("cd", false) + client_frame(kFin | 0xA, "p2") + cont("ef");
  ASSERT_EQ(feed_all(p, r, data), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].op, Opcode::binary);
  EXPECT_EQ(r.messages[0].payload, "abcdef");
  EXPECT_EQ(r.pings.size(), 1u);
  EXPECT_EQ(r.pongs.size(), 1u);
}

TEST(WsParser, FragmentedMessageCountsInBuffered) {
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text("12345", false)), Error::none);
  EXPECT_EQ(p.buffered(), 5u);
  ASSERT_EQ(feed_all(p, r, cont("6")), Error::none);
  EXPECT_EQ(p.buffered(), 0u);
  ASSERT_EQ(r.messages.size(), 1u);
}

TEST(WsParser, Utf8SplitAcrossFragmentsIsValid) {
  // "é" = C3 A9 split between two fragments: only the whole message is checked.
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text("caf\xc3", false) + cont("\xa9")), Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].payload, "caf\xc3\xa9");
}

TEST(WsParser, ContinuationWithoutStartIsBadContinuation) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, cont("x")), Error::bad_continuation);
}

TEST(WsParser, NewMessageMidFragmentIsBadContinuation) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, text("a", false) + text("b")), Error::bad_continuation);
  Parser p2(1024);
  EXPECT_EQ(feed_all(p2, r, binary("a", false) + binary("b", false)), Error::bad_continuation);
  EXPECT_TRUE(r.messages.empty());
}

// ---------------------------------------------------------------- parser: violations

TEST(WsParser, UnmaskedFrameIsNotMasked) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, client_frame(kFin | 0x1, "hi", false)), Error::not_masked);
  EXPECT_TRUE(r.messages.empty());
}

TEST(WsParser, UnmaskedDetectedFromHeaderAlone) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, "\x81\x05"s), Error::not_masked);
}

TEST(WsParser, ReservedBitsRejected) {
  for (std::uint8_t rsv : {0x40, 0x20, 0x10}) {
    Parser p(1024);
    Recorder r;
    EXPECT_EQ(feed_all(p, r, client_frame(kFin | rsv | 0x1, "x")), Error::reserved_bits) << +rsv;
  }
}

TEST(WsParser, UnknownOpcodesRejected) {
  for (std::uint8_t op : {0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    Parser p(1024);
    Recorder r;
    EXPECT_EQ(feed_all(p, r, client_frame(kFin | op, "x")), Error::bad_opcode) << +op;
  }
}

TEST(WsParser, FragmentedControlFrameRejected) {
  for (std::uint8_t op : {0x8, 0x9, 0xA}) {
    Parser p(1024);
    Recorder r;
    EXPECT_EQ(feed_all(p, r, client_frame(op, "x")), Error::bad_control_frame) << +op;
  }
}

TEST(WsParser, OversizedControlFrameRejected) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, client_frame(kFin | 0x9, std::string(126, 'p'))),
            Error::bad_control_frame);
  EXPECT_TRUE(r.pings.empty());
}

TEST(WsParser, SingleFrameTooBig) {
  Parser p(10);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, text(std::string(10, 'a'))), Error::none);
  EXPECT_EQ(feed_all(p, r, text(std::string(11, 'a'))), Error::too_big);
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(WsParser, FragmentedMessageTooBig) {
  Parser p(10);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, binary("123456", false) + cont("12345")), Error::too_big);
  EXPECT_TRUE(r.messages.empty());
}

TEST(WsParser, HugeDeclaredLengthFailsFast) {
  // Only the 14-byte header of a 2^62-byte frame: rejected before any payload arrives.
  Parser p(1 << 20);
  Recorder r;
  const std::string f = client_frame(kFin | 0x2, "", true, {1, 2, 3, 4}, 1ULL << 62);
  ASSERT_EQ(f.size(), 14u);
  EXPECT_EQ(feed_all(p, r, f), Error::too_big);
  EXPECT_EQ(p.buffered(), 0u);

  // The 10 bytes up to the length are enough, the mask is not needed.
  Parser p1(1 << 20);
  EXPECT_EQ(feed_all(p1, r, f.substr(0, 9)), Error::none);
  EXPECT_EQ(feed_all(p1, r, f.substr(9, 1)), Error::too_big);

  // Same with a 16-bit length just over the limit, fed byte by byte.
  Parser p2(1000);
  const std::string f2 = client_frame(kFin | 0x1, "", true, {1, 2, 3, 4}, 1001);
  EXPECT_EQ(feed_bytewise(p2, r, f2), Error::too_big);
}

TEST(WsParser, SixtyFourBitLengthWithTopBitSetRejected) {
  Parser p(std::numeric_limits<std::size_t>::max());
  Recorder r;
  const std::string f = client_frame(kFin | 0x2, "", true, {1, 2, 3, 4}, 1ULL << 63);
  EXPECT_EQ(feed_all(p, r, f), Error::too_big);
}

TEST(WsParser, InvalidUtf8TextRejected) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, text("bad \xff byte")), Error::bad_utf8);
  EXPECT_TRUE(r.messages.empty());
}

TEST(WsParser, InvalidUtf8AfterReassemblyRejected) {
  Parser p(1024);
  Recorder r;
  // Truncated sequence at the end of the last fragment.
  EXPECT_EQ(feed_all(p, r, text("ok", false) + cont("\xe2\x82")), Error::bad_utf8);
  EXPECT_TRUE(r.messages.empty());
}

TEST(WsParser, InvalidUtf8InBinaryIsFine) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, binary("\xff\xfe")), Error::none);
  EXPECT_EQ(r.messages.size(), 1u);
}

TEST(WsParser, VerdictDoesNotDependOnSegmentation) {
  // Mid-message unmasked text frame: both bad_continuation and not_masked
  // apply; the first rule in header order (continuation, byte 0) wins
  // whether the header arrives whole or byte by byte.
  const std::string data = text("a", false) + client_frame(kFin | 0x1, "b", false);
  Parser whole(1024);
  Recorder r;
  EXPECT_EQ(feed_all(whole, r, data), Error::bad_continuation);
  Parser bytewise(1024);
  EXPECT_EQ(feed_bytewise(bytewise, r, data), Error::bad_continuation);
}

// ---------------------------------------------------------------- parser: close

TEST(WsParserClose, EmptyPayloadIs1005) {
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, close_frame("")), Error::none);
  ASSERT_EQ(r.closes.size(), 1u);
  EXPECT_EQ(r.closes[0].first, 1005);
  EXPECT_EQ(r.closes[0].second, "");
  EXPECT_TRUE(p.closed());
}

TEST(WsParserClose, OneBytePayloadRejected) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, close_frame("\x03")), Error::bad_close_payload);
  EXPECT_TRUE(r.closes.empty());
  EXPECT_FALSE(p.closed());
}

TEST(WsParserClose, ValidCodesAccepted) {
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999,
                             4000, 4999}) {
    Parser p(1024);
    Recorder r;
    ASSERT_EQ(feed_all(p, r, close_code(code, "why")), Error::none) << code;
    ASSERT_EQ(r.closes.size(), 1u);
    EXPECT_EQ(r.closes[0].first, code);
    EXPECT_EQ(r.closes[0].second, "why");
  }
}

TEST(WsParserClose, InvalidCodesRejected) {
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000,
                             65535}) {
    Parser p(1024);
    Recorder r;
    EXPECT_EQ(feed_all(p, r, close_code(code)), Error::bad_close_payload) << code;
    EXPECT_TRUE(r.closes.empty());
  }
}

TEST(WsParserClose, InvalidUtf8ReasonRejected) {
  Parser p(1024);
  Recorder r;
  EXPECT_EQ(feed_all(p, r, close_code(1000, "\xc0\xaf")), Error::bad_close_payload);
}

TEST(WsParserClose, StopsAfterClose) {
  Parser p(1024);
  Recorder r;
  // Everything after the close frame, even garbage, is ignored.
  ASSERT_EQ(feed_all(p, r, text("before") + close_code(1001) + text("after") + "\xff\xff"s),
            Error::none);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].payload, "before");
  ASSERT_EQ(r.closes.size(), 1u);
  EXPECT_EQ(r.closes[0].first, 1001);
  EXPECT_TRUE(p.closed());
  EXPECT_EQ(feed_all(p, r, text("later")), Error::none);
  EXPECT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(WsParserClose, CloseDuringFragmentedMessageIsAllowed) {
  Parser p(1024);
  Recorder r;
  ASSERT_EQ(feed_all(p, r, text("part", false) + close_code(1000)), Error::none);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.closes.size(), 1u);
  EXPECT_EQ(p.buffered(), 0u);
}

// ---------------------------------------------------------------- error mapping

TEST(WsParserErrors, CloseCodes) {
  EXPECT_EQ(Parser::close_code_for(Error::not_masked), CloseCode::protocol_error);
  EXPECT_EQ(Parser::close_code_for(Error::reserved_bits), CloseCode::protocol_error);
  EXPECT_EQ(Parser::close_code_for(Error::bad_opcode), CloseCode::protocol_error);
  EXPECT_EQ(Parser::close_code_for(Error::bad_control_frame), CloseCode::protocol_error);
  EXPECT_EQ(Parser::close_code_for(Error::bad_continuation), CloseCode::protocol_error);
  EXPECT_EQ(Parser::close_code_for(Error::bad_close_payload), CloseCode::protocol_error);
  EXPECT_EQ(Parser::close_code_for(Error::too_big), CloseCode::too_big);
  EXPECT_EQ(Parser::close_code_for(Error::bad_utf8), CloseCode::invalid_payload);
}

TEST(WsParserErrors, ToStringCoversEveryValue) {
  for (auto e : {Error::none, Error::not_masked, Error::reserved_bits, Error::bad_opcode,
                 Error::bad_control_frame, Error::bad_continuation, Error::too_big,
                 Error::bad_utf8, Error::bad_close_payload}) {
    EXPECT_STRNE(Parser::to_string(e), "unknown error");
  }
}

// ---------------------------------------------------------------- UTF-8

TEST(WsUtf8, ValidSequences) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(valid_utf8("\xc2\x80"));               // U+0080
  EXPECT_TRUE(valid_utf8("\xdf\xbf"));               // U+07FF
  EXPECT_TRUE(valid_utf8("\xe0\xa0\x80"));           // U+0800
  EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));           // U+D7FF
  EXPECT_TRUE(valid_utf8("\xee\x80\x80"));           // U+E000
  EXPECT_TRUE(valid_utf8("\xef\xbf\xbf"));           // U+FFFF
  EXPECT_TRUE(valid_utf8("\xf0\x90\x80\x80"));       // U+10000
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));       // U+10FFFF
  EXPECT_TRUE(valid_utf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // "kosme"
  EXPECT_TRUE(valid_utf8(std::string_view("a\0b", 3)));
}

TEST(WsUtf8, Overlongs) {
  EXPECT_FALSE(valid_utf8("\xc0\x80"));
  EXPECT_FALSE(valid_utf8("\xc1\xbf"));
  EXPECT_FALSE(valid_utf8("\xe0\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xe0\x9f\xbf"));
  EXPECT_FALSE(valid_utf8("\xf0\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));
}

TEST(WsUtf8, SurrogatesAndOutOfRange) {
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));  // U+D800
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));  // U+DFFF
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(valid_utf8("\xff"));
}

TEST(WsUtf8, TruncatedAndStrayBytes) {
  EXPECT_FALSE(valid_utf8("\xc3"));
  EXPECT_FALSE(valid_utf8("\xe2\x82"));
  EXPECT_FALSE(valid_utf8("\xf0\x9f\x98"));
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("\xc3\x28"));
  EXPECT_FALSE(valid_utf8("\xe2\x28\xa1"));
  // Bad byte after the 8-byte ASCII fast path.
  EXPECT_FALSE(valid_utf8("0123456789abcdef\x80xyz"));
  EXPECT_FALSE(valid_utf8("0123456789abcdef\xe2\x82"));
}

// ---------------------------------------------------------------- handshake

TEST(WsAcceptKey, Rfc6455Sample) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
}  // namespace rollcall::ws
