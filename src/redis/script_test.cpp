// Script tests. ScriptServer.* need a real redis-server on
// 127.0.0.1:$REDIS_PORT and FAIL when there is none; they use database 5
// and keys of their own (SCRIPT FLUSH is global: harmless, EVALSHA users
// reload). ScriptFake.* use test_support.hpp's FakeRedis.
#include "redis/script.hpp"

#include "redis/test_support.hpp"
#include "run_until.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace rollcall::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_literals;
using Type = RedisValue::Type;
using testing::FakeRedis;

struct Result {
  bool done = false;
  std::error_code ec;
  RedisValue value;
};

class ScriptTest : public ::testing::Test {
 protected:
  bool wait(const std::function<bool()>& done) { return rollcall::testing::run_until(ioc_, done, 5000ms); }

  std::shared_ptr<Result> start(const Script& s, RedisClient& c, std::vector<std::string> keys,
                                std::vector<std::string> args) {
    auto r = std::make_shared<Result>();
    s.run(c, std::move(keys), std::move(args), [r](std::error_code ec, RedisValue v) {
      r->done = true;
      r->ec = ec;
      r->value = std::move(v);
    });
    return r;
  }

  Result run(const Script& s, RedisClient& c, std::vector<std::string> keys, std::vector<std::string> args) {
    auto r = start(s, c, std::move(keys), std::move(args));
    EXPECT_FALSE(r->done) << "callback ran inline";
    EXPECT_TRUE(wait([&] { return r->done; })) << "no completion";
    return *r;
  }

  Result command(RedisClient& c, std::vector<std::string> argv) {
    auto r = std::make_shared<Result>();
    c.command(std::move(argv), [r](std::error_code ec, RedisValue v) {
      r->done = true;
      r->ec = ec;
      r->value = std::move(v);
    });
    EXPECT_TRUE(wait([&] { return r->done; })) << "no reply";
    return *r;
  }

  asio::io_context ioc_;
};

TEST(ScriptSha1, ComputedLocally) {
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  const Script s("return 1");
  EXPECT_EQ(s.source(), "return 1");
  EXPECT_EQ(s.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  const Script copy = s;  // shares the source
  EXPECT_EQ(&copy.source(), &s.source());
}

class ScriptServer : public ScriptTest {
 protected:
  void SetUp() override {
    std::string error;
    cfg_.port = testing::redis_port(error);
    if (cfg_.port == 0) FAIL() << error;
    cfg_.db = 5;
    c_ = RedisClient::create(ioc_.get_executor(), cfg_);
    const Result r = command(*c_, {"PING"});
    if (r.ec || r.value.str != "PONG") {
      FAIL() << "no Redis answers on 127.0.0.1:" << cfg_.port << " ("
             << (r.ec ? r.ec.message() : r.value.str) << "): start Redis with scripts/services.sh";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = "rollcall:test:script:"s + info->name() + ":" + std::to_string(::getpid()) + ":" +
              std::to_string(std::random_device{}()) + ":";
  }

  void TearDown() override {
    if (c_ && !keys_.empty()) {
      std::vector<std::string> del{"DEL"};
      del.insert(del.end(), keys_.begin(), keys_.end());
      command(*c_, del);
    }
  }

  std::string key(const std::string& name) {
    keys_.push_back(prefix_ + name);
    return keys_.back();
  }

  RedisConfig cfg_;
  std::shared_ptr<RedisClient> c_;
  std::string prefix_;
  std::vector<std::string> keys_;
};

// A presence-like refcount: INCRBY a hash field, drop it at 0, return the new count.
const Script kRefcount(R"(
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2]))
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], 60000)
return {n, ARGV[1]}
)");

TEST_F(ScriptServer, ShaMatchesRedis) {
  const Result r = command(*c_, {"SCRIPT", "LOAD", kRefcount.source()});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.str, kRefcount.sha1());
  bool loaded = false;
  kRefcount.load(*c_, [&](std::error_code ec, RedisValue v) {
    loaded = true;
    EXPECT_FALSE(ec);
    EXPECT_EQ(v.str, kRefcount.sha1());
  });
  ASSERT_TRUE(wait([&] { return loaded; }));
}

TEST_F(ScriptServer, NoscriptAfterFlushIsReloadedOnce) {
  const std::string k = key("counts");
  ASSERT_EQ(command(*c_, {"SCRIPT", "FLUSH"}).value.str, "OK");
  ASSERT_EQ(command(*c_, {"SCRIPT", "EXISTS", kRefcount.sha1()}).value.elements.at(0).integer, 0);

  Result r = run(kRefcount, *c_, {k}, {"user\0bin"s, "1"});
  ASSERT_FALSE(r.ec) << r.ec.message();
  ASSERT_EQ(r.value.type, Type::array) << r.value.str;
  EXPECT_EQ(r.value.elements.at(0).integer, 1);
  EXPECT_EQ(r.value.elements.at(1).str, "user\0bin"s);
  // The fallback cached it: the next EVALSHA works as is.
  EXPECT_EQ(command(*c_, {"SCRIPT", "EXISTS", kRefcount.sha1()}).value.elements.at(0).integer, 1);
  r = run(kRefcount, *c_, {k}, {"user\0bin"s, "1"});
  EXPECT_EQ(r.value.elements.at(0).integer, 2);

  // Pipelined runs all hitting NOSCRIPT each fall back once; the script ran
  // exactly once per call.
  ASSERT_EQ(command(*c_, {"SCRIPT", "FLUSH"}).value.str, "OK");
  std::vector<std::shared_ptr<Result>> rs;
  for (int i = 0; i < 20; ++i) rs.push_back(start(kRefcount, *c_, {k}, {"u2", "1"}));
  ASSERT_TRUE(wait([&] {
    for (auto& x : rs) {
      if (!x->done) return false;
    }
    return true;
  }));
  std::vector<long long> counts;
  for (auto& x : rs) {
    EXPECT_FALSE(x->ec);
    counts.push_back(x->value.elements.at(0).integer);
  }
  std::sort(counts.begin(), counts.end());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(counts[i], i + 1);
  EXPECT_EQ(command(*c_, {"HGET", k, "u2"}).value.str, "20");
}

TEST_F(ScriptServer, ErrorsAreValues) {
  const Script fails("return redis.error_reply('MYERR boom')");
  Result r = run(fails, *c_, {}, {});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::error);
  EXPECT_EQ(r.value.str, "MYERR boom");

  const Script broken("this is not lua");
  ASSERT_EQ(command(*c_, {"SCRIPT", "FLUSH"}).value.str, "OK");
  r = run(broken, *c_, {}, {});  // NOSCRIPT, then EVAL's compile error
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::error);
  EXPECT_NE(r.value.str.find("rror"), std::string::npos) << r.value.str;
}

TEST_F(ScriptTest, FallsBackOnceAndOnlyOnNoscript) {
  FakeRedis server(ioc_, [](std::size_t, const FakeRedis::Argv& argv) -> std::optional<std::string> {
    if (argv.at(0) == "EVALSHA" && argv.at(3) == "other") return "-ERR something else\r\n";
    return "-NOSCRIPT No matching script. Please use EVAL.\r\n";  // even to EVAL
  });
  RedisConfig cfg;
  cfg.port = server.port();
  auto c = RedisClient::create(ioc_.get_executor(), cfg);
  const Script s("return 1");
  Result r = run(s, *c, {"k"}, {"a", "b"});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::error);
  EXPECT_EQ(r.value.str.rfind("NOSCRIPT", 0), 0u);
  ASSERT_EQ(server.commands().size(), 2u);
  EXPECT_EQ(server.commands()[0].second,
            (std::vector<std::string>{"EVALSHA", s.sha1(), "1", "k", "a", "b"}));
  EXPECT_EQ(server.commands()[1].second, (std::vector<std::string>{"EVAL", "return 1", "1", "k", "a", "b"}));

  r = run(s, *c, {"other"}, {});  // any other error: no retry
  EXPECT_EQ(r.value.str, "ERR something else");
  EXPECT_EQ(server.commands().size(), 3u);
}

TEST_F(ScriptTest, TransportErrorsAreNotRetried) {
  RedisConfig cfg;
  cfg.port = testing::closed_port(ioc_);
  auto c = RedisClient::create(ioc_.get_executor(), cfg);
  const Result r = run(Script("return 1"), *c, {}, {});
  EXPECT_EQ(r.ec, std::errc::connection_refused) << r.ec.message();
  EXPECT_EQ(c->connect_attempts(), 1u);

  // The client is gone before the NOSCRIPT reply is handled: closed, no crash.
  FakeRedis server(ioc_, [](std::size_t, const FakeRedis::Argv&) -> std::optional<std::string> {
    return "-NOSCRIPT No matching script.\r\n";
  });
  cfg.port = server.port();
  auto d = RedisClient::create(ioc_.get_executor(), cfg);
  auto pending = start(Script("return 2"), *d, {}, {});
  ASSERT_TRUE(wait([&] { return server.commands().size() == 1; }));
  ASSERT_TRUE(wait([&] { return d->pending() == 0; }));  // the reply is posted
  d.reset();
  ASSERT_TRUE(wait([&] { return pending->done; }));
  EXPECT_EQ(pending->ec, RedisError::closed);
}

}  // namespace
}  // namespace rollcall::redis
