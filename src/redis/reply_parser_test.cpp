#include "redis/reply_parser.hpp"

#include "redis/error.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace rollcall::redis {
namespace {

using namespace std::string_literals;
using Type = RedisValue::Type;

// Feeds `input` in chunks of `chunk` bytes; returns the replies, and the
// first error in `ec`.
std::vector<RedisValue> parse(std::string_view input, std::error_code& ec, std::size_t chunk = 0,
                              std::size_t max_bytes = ReplyParser::kDefaultMaxReplyBytes) {
  ReplyParser parser(max_bytes);
  std::vector<RedisValue> out;
  ec = {};
  if (chunk == 0) chunk = input.size() + 1;
  for (std::size_t pos = 0; pos < input.size() && !ec; pos += chunk) {
    ec = parser.feed(input.substr(pos, chunk));
    RedisValue v;
    while (!ec && parser.next(v, ec)) out.push_back(std::move(v));
  }
  return out;
}

std::vector<RedisValue> parse_ok(std::string_view input, std::size_t chunk = 0) {
  std::error_code ec;
  auto out = parse(input, ec, chunk);
  EXPECT_FALSE(ec) << ec.message();
  return out;
}

bool same(const RedisValue& a, const RedisValue& b) {
  if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
      a.elements.size() != b.elements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

TEST(RedisEncode, BinarySafeArgv) {
  std::string out = "prefix";
  ASSERT_TRUE(encode_command({"SET", "k", "a\0b\r\n"s}, out));
  EXPECT_EQ(out, "prefix*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n"s);
  ASSERT_TRUE(encode_command({"PING"}, out));
  EXPECT_EQ(out.substr(out.size() - 14), "*1\r\n$4\r\nPING\r\n");
  std::string untouched = "x";
  EXPECT_FALSE(encode_command({}, untouched));
  EXPECT_EQ(untouched, "x");
}

TEST(RedisReplyParser, AllTypes) {
  const std::string stream =
      "+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\na\0b\r\n\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
      "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$-1\r\n+s\r\n"s;
  const auto v = parse_ok(stream);
  ASSERT_EQ(v.size(), 9u);
  EXPECT_EQ(v[0].type, Type::status);
  EXPECT_EQ(v[0].str, "OK");
  EXPECT_EQ(v[1].type, Type::error);
  EXPECT_EQ(v[1].str, "ERR wrong");
  EXPECT_EQ(v[2].type, Type::integer);
  EXPECT_EQ(v[2].integer, -42);
  EXPECT_EQ(v[3].type, Type::string);
  EXPECT_EQ(v[3].str, "a\0b\r\n"s);
  EXPECT_EQ(v[4].type, Type::string);
  EXPECT_EQ(v[4].str, "");
  EXPECT_EQ(v[5].type, Type::nil);
  EXPECT_EQ(v[6].type, Type::nil);
  EXPECT_EQ(v[7].type, Type::array);
  EXPECT_TRUE(v[7].elements.empty());
  ASSERT_EQ(v[8].type, Type::array);
  ASSERT_EQ(v[8].elements.size(), 3u);
  EXPECT_EQ(v[8].elements[0].integer, 1);
  ASSERT_EQ(v[8].elements[1].elements.size(), 2u);
  EXPECT_EQ(v[8].elements[1].elements[0].str, "x");
  EXPECT_EQ(v[8].elements[1].elements[1].type, Type::nil);
  EXPECT_EQ(v[8].elements[2].type, Type::status);

  // Byte by byte and in odd chunks: same replies.
  for (std::size_t chunk : {1u, 2u, 3u, 7u}) {
    const auto w = parse_ok(stream, chunk);
    ASSERT_EQ(w.size(), v.size()) << chunk;
    for (std::size_t i = 0; i < v.size(); ++i) EXPECT_TRUE(same(v[i], w[i])) << chunk << " " << i;
  }
}

TEST(RedisReplyParser, IncompleteWaits) {
  ReplyParser p;
  RedisValue v;
  std::error_code ec;
  ASSERT_FALSE(p.feed("*2\r\n$3\r\nfo"));
  EXPECT_FALSE(p.next(v, ec));
  EXPECT_FALSE(ec);
  ASSERT_FALSE(p.feed("o\r\n:7\r"));
  EXPECT_FALSE(p.next(v, ec));
  EXPECT_FALSE(ec);
  ASSERT_FALSE(p.feed("\n"));
  ASSERT_TRUE(p.next(v, ec));
  EXPECT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(RedisReplyParser, MalformedIsAProtocolErrorAndSticky) {
  std::error_code ec;
  for (const std::string bad : {"?what\r\n", "*-5\r\n", "*-2147483648\r\n", "\r\n", "hello\r\n",
                                "*1\r\n!x\r\n", "$3\r\nabcX\r\n"}) {
    parse(bad, ec);
    EXPECT_EQ(ec, RedisError::protocol_error) << bad;
  }
  ReplyParser p;
  RedisValue v;
  ASSERT_FALSE(p.feed("?x\r\n"));
  EXPECT_FALSE(p.next(v, ec));
  EXPECT_EQ(ec, RedisError::protocol_error);
  EXPECT_EQ(p.feed("+OK\r\n"), RedisError::protocol_error);
  EXPECT_FALSE(p.next(v, ec));
  EXPECT_EQ(ec, RedisError::protocol_error);
}

TEST(RedisReplyParser, DeepNestingIsRejected) {
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  std::error_code ec;
  parse(deep, ec);
  EXPECT_EQ(ec, RedisError::protocol_error);
  // Three levels are fine.
  const auto v = parse_ok("*1\r\n*1\r\n*1\r\n:5\r\n");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].elements[0].elements[0].elements[0].integer, 5);
}

TEST(RedisReplyParser, HugeDeclaredSizesDoNotAllocate) {
  ReplyParser p(1024);
  RedisValue v;
  std::error_code ec;
  ASSERT_FALSE(p.feed("*2147483647\r\n:1\r\n:2\r\n"));  // claims 2^31-1 elements
  EXPECT_FALSE(p.next(v, ec));
  EXPECT_FALSE(ec);
  ReplyParser q(1024);
  ASSERT_FALSE(q.feed("$9223372036854775807\r\nabc"));
  EXPECT_FALSE(q.next(v, ec));
  EXPECT_FALSE(ec);
}

TEST(RedisReplyParser, ReplyTooLarge) {
  std::error_code ec;
  // Unparsed bulk bytes beyond the limit.
  parse("$5000\r\n" + std::string(2000, 'x'), ec, 0, 1024);
  EXPECT_EQ(ec, RedisError::reply_too_large);
  // Many small elements: the assembled reply exceeds the limit.
  std::string many = "*1000\r\n";
  for (int i = 0; i < 1000; ++i) many += ":1\r\n";
  parse(many, ec, 100, 4096);
  EXPECT_EQ(ec, RedisError::reply_too_large);
  // The same reply fits a larger limit, and the budget is per reply.
  const auto v = parse(many + many, ec, 100, 256 * 1024);
  EXPECT_FALSE(ec);
  EXPECT_EQ(v.size(), 2u);
}

// Random garbage and randomly mutated valid streams: never crash, never hang;
// either replies or a protocol/size error.
TEST(RedisReplyParser, RandomInputNeverCrashes) {
  std::mt19937 rng(12345);
  const std::vector<std::string> tokens = {
      "+", "-", ":", "$", "*", "\r\n", "\r", "\n", "0", "1", "-1", "2", "3", "9", "99999999999",
      "2147483647", "-2147483649", "18446744073709551616", "OK", "x", std::string(1, '\0'), "\xff", "*1\r\n",
      "$3\r\nabc\r\n", ":5\r\n", "*-1\r\n", "$-1\r\n"};
  std::size_t replies = 0, errors = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string input;
    const int n = std::uniform_int_distribution<int>(1, 40)(rng);
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) {
        input += static_cast<char>(rng() & 0xFF);
      } else {
        input += tokens[rng() % tokens.size()];
      }
    }
    std::error_code ec;
    const auto v = parse(input, ec, 1 + rng() % 8, 64 * 1024);
    replies += v.size();
    if (ec) {
      ++errors;
      EXPECT_TRUE(ec == RedisError::protocol_error || ec == RedisError::reply_too_large) << ec.message();
    }
  }
  EXPECT_GT(replies, 0u);
  EXPECT_GT(errors, 0u);
}

}  // namespace
}  // namespace rollcall::redis
