// The backoff policy, and RedisClient's use of it without a Redis (a closed
// port, FakeRedis).
#include "common/backoff.hpp"

#include "redis/redis_client.hpp"
#include "redis/test_support.hpp"
#include "run_until.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace rollcall::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testing::FakeRedis;

TEST(RedisBackoff, DoublesUpToTheCapWithJitter) {
  Backoff b(100ms, 5000ms, /*seed=*/7);
  const std::vector<std::chrono::milliseconds> bases = {0ms,    100ms,  200ms,  400ms,  800ms,
                                                        1600ms, 3200ms, 5000ms, 5000ms, 5000ms};
  for (unsigned n = 0; n < bases.size(); ++n) EXPECT_EQ(b.base(n), bases[n]) << n;
  EXPECT_EQ(b.base(1000000), 5000ms);  // no overflow
  std::set<std::int64_t> seen;
  for (int i = 0; i < 200; ++i) {
    const auto d = b.delay(3);
    EXPECT_GE(d, 320ms);
    EXPECT_LE(d, 480ms);
    seen.insert(d.count());
  }
  EXPECT_GT(seen.size(), 20u);  // actually jittered
  EXPECT_EQ(b.delay(0), 0ms);
  const auto capped = b.delay(50);
  EXPECT_GE(capped, 4000ms);
  EXPECT_LE(capped, 6000ms);
}

TEST(RedisBackoff, ZeroInitialTurnsItOff) {
  Backoff b(0ms, 5000ms);
  EXPECT_EQ(b.delay(1), 0ms);
  EXPECT_EQ(b.delay(10), 0ms);
}

class RedisClientBackoff : public ::testing::Test {
 protected:
  struct Result {
    bool done = false;
    std::error_code ec;
    RedisValue value;
  };

  Result call(RedisClient& c, std::vector<std::string> argv) {
    Result r;
    c.command(std::move(argv), [&](std::error_code ec, RedisValue v) {
      r.done = true;
      r.ec = ec;
      r.value = std::move(v);
    });
    EXPECT_FALSE(r.done) << "callback ran inline";
    EXPECT_TRUE(rollcall::testing::run_until(ioc_, [&] { return r.done; }, 5000ms)) << "no completion";
    return r;
  }

  asio::io_context ioc_;
};

// A dead Redis is not dialled by every command: after the second failed
// attempt in a row, commands fail fast with `unavailable` until the backoff
// has passed, and each attempt waits longer.
TEST_F(RedisClientBackoff, UnreachableRedisIsNotDialledByEveryCommand) {
  RedisConfig cfg;
  cfg.port = testing::closed_port(ioc_);
  cfg.reconnect_backoff_initial = 100ms;
  cfg.reconnect_backoff_max = 400ms;
  cfg.connect_timeout = 2000ms;
  cfg.command_timeout = 2000ms;
  auto c = RedisClient::create(ioc_.get_executor(), cfg);

  // As before the backoff existed: a failure, then the next command tries again.
  EXPECT_EQ(call(*c, {"PING"}).ec, std::errc::connection_refused);
  const auto start = Clock::now();  // before the second failure, which starts the backoff
  EXPECT_EQ(call(*c, {"PING"}).ec, std::errc::connection_refused);
  EXPECT_EQ(c->connect_attempts(), 2u);

  // Then one command after another for 800 ms.
  std::vector<Clock::duration> attempt_at;  // since start
  int commands = 0, unavailable = 0;
  Clock::duration slowest_fast_fail{};
  while (Clock::now() - start < 800ms) {
    const auto before_attempts = c->connect_attempts();
    const auto t0 = Clock::now();
    const Result r = call(*c, {"PING"});
    ++commands;
    if (c->connect_attempts() != before_attempts) {
      EXPECT_EQ(r.ec, std::errc::connection_refused) << r.ec.message();
      attempt_at.push_back(t0 - start);
    } else {
      EXPECT_EQ(r.ec, RedisError::unavailable) << r.ec.message();
      ++unavailable;
      slowest_fast_fail = std::max(slowest_fast_fail, Clock::now() - t0);
    }
    if (HasFailure()) break;
  }
  // Attempts 3, 4, 5 after 100, +200, +400 ms (±20 %): 2 or 3 in the window.
  EXPECT_GE(attempt_at.size(), 2u);
  EXPECT_LE(attempt_at.size(), 3u);
  if (attempt_at.size() >= 2) {
    EXPECT_GE(attempt_at[0], 80ms);
    EXPECT_LE(attempt_at[0], 300ms);
    EXPECT_GE(attempt_at[1] - attempt_at[0], 150ms);  // 160 ms, less the clock reads' slack
  }
  EXPECT_GT(unavailable, 100);  // thousands in practice
  EXPECT_EQ(commands, unavailable + static_cast<int>(attempt_at.size()));
  // Far below what waiting for anything would take (a busy machine may
  // still stall the test for tens of milliseconds).
  EXPECT_LT(slowest_fast_fail, 250ms);
  EXPECT_FALSE(c->connected());
}

// The cap holds, and a command that gets its reply ends the streak: losing
// a connection that worked is not a failed attempt.
TEST_F(RedisClientBackoff, SuccessEndsTheStreak) {
  bool up = false;
  FakeRedis server(ioc_, [&](std::size_t, const FakeRedis::Argv&) -> std::optional<std::string> {
    if (!up) return std::nullopt;  // accepts, then closes: a broken Redis
    return "+PONG\r\n";
  });
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.reconnect_backoff_initial = 50ms;
  cfg.reconnect_backoff_max = 100ms;
  auto c = RedisClient::create(ioc_.get_executor(), cfg);
  EXPECT_EQ(call(*c, {"PING"}).ec, RedisError::connection_lost);
  EXPECT_EQ(call(*c, {"PING"}).ec, RedisError::connection_lost);
  EXPECT_EQ(call(*c, {"PING"}).ec, RedisError::unavailable);
  EXPECT_EQ(server.accepted(), 2u);

  // Capped at 100 ms (+20 %): however many failures, the next attempt
  // comes within the cap. Commands meanwhile fail fast.
  for (int i = 0; i < 6; ++i) {
    const auto n = c->connect_attempts();
    const auto t0 = Clock::now();
    while (c->connect_attempts() == n && Clock::now() - t0 < 2000ms) call(*c, {"PING"});
    EXPECT_LT(Clock::now() - t0, 1000ms) << i;  // uncapped, the 6th would wait 6.4 s
  }

  up = true;
  Result r;
  const auto t0 = Clock::now();
  do {
    r = call(*c, {"PING"});
  } while (r.ec && Clock::now() - t0 < 2000ms);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.value.str, "PONG");
  const auto attempts = c->connect_attempts();

  server.close_all();
  ASSERT_TRUE(rollcall::testing::run_until(ioc_, [&] { return !c->connected(); }, 2000ms));
  r = call(*c, {"PING"});  // reconnects at once
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(c->connect_attempts(), attempts + 1);
}

}  // namespace
}  // namespace rollcall::redis
