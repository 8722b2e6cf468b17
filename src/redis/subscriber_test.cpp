// Subscriber tests. SubscriberServer.* need a real redis-server on
// 127.0.0.1:$REDIS_PORT and FAIL when there is none; SubscriberFake.* use
// test_support.hpp's FakeRedis or a closed port. Channel names carry the test
// name, the pid and a random number: tests run in parallel on one Redis.
#include "redis/subscriber.hpp"

#include "redis/redis_client.hpp"
#include "redis/test_support.hpp"
#include "run_until.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace rollcall::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace std::string_literals;
using Clock = std::chrono::steady_clock;
using Type = RedisValue::Type;
using testing::FakeRedis;

struct Msg {
  std::string channel;
  std::string pattern;
  std::string payload;
  bool operator==(const Msg&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Msg& m) {
  return os << "{" << m.channel << ", " << m.pattern << ", " << m.payload.size() << " bytes}";
}

struct Done {
  bool done = false;
  std::error_code ec;
  RedisValue value;
};

// A subscriber with everything it reports recorded.
struct Probe {
  std::shared_ptr<Subscriber> sub;
  std::vector<Msg> msgs;
  std::vector<bool> states;

  Probe(asio::io_context& ioc, const RedisConfig& cfg) : sub(Subscriber::create(ioc.get_executor(), cfg)) {
    sub->on_message([this](std::string_view ch, std::string_view pat, std::string_view payload) {
      msgs.push_back({std::string(ch), std::string(pat), std::string(payload)});
    });
    sub->on_state([this](bool up) { states.push_back(up); });
  }
};

std::shared_ptr<Done> track(Subscriber::Callback& cb) {
  auto d = std::make_shared<Done>();
  cb = [d](std::error_code ec, RedisValue v) {
    d->done = true;
    d->ec = ec;
    d->value = std::move(v);
  };
  return d;
}

class SubscriberTest : public ::testing::Test {
 protected:
  bool wait(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    return rollcall::testing::run_until(ioc_, done, limit);
  }

  // Runs op(cb) and waits for cb; checks that it was not called inline.
  Done call(const std::function<void(Subscriber::Callback)>& op) {
    Subscriber::Callback cb;
    auto d = track(cb);
    op(std::move(cb));
    EXPECT_FALSE(d->done) << "callback ran inline";
    EXPECT_TRUE(wait([&] { return d->done; })) << "no completion";
    return *d;
  }

  Done command(RedisClient& c, std::vector<std::string> argv) {
    Done d;
    bool finished = false;
    c.command(std::move(argv), [&](std::error_code ec, RedisValue v) {
      finished = true;
      d.ec = ec;
      d.value = std::move(v);
    });
    EXPECT_TRUE(wait([&] { return finished; })) << "no reply";
    d.done = finished;
    return d;
  }

  asio::io_context ioc_;
};

// ---------------------------------------------------------------------------
// Against a real Redis.

class SubscriberServer : public SubscriberTest {
 protected:
  void SetUp() override {
    std::string error;
    cfg_.port = testing::redis_port(error);
    if (cfg_.port == 0) FAIL() << error;
    pub_ = RedisClient::create(ioc_.get_executor(), cfg_);
    const Done r = command(*pub_, {"PING"});
    if (r.ec || r.value.str != "PONG") {
      FAIL() << "no Redis answers on 127.0.0.1:" << cfg_.port << " ("
             << (r.ec ? r.ec.message() : r.value.str) << "): start Redis with scripts/services.sh";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = "rollcall:test:sub:"s + info->name() + ":" + std::to_string(::getpid()) + ":" +
              std::to_string(std::random_device{}()) + ":";
  }

  long long publish(const std::string& channel, const std::string& payload) {
    const Done r = command(*pub_, {"PUBLISH", channel, payload});
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.value.type, Type::integer) << r.value.str;
    return r.value.integer;
  }

  RedisConfig cfg_;
  std::shared_ptr<RedisClient> pub_;
  std::string prefix_;
};

TEST_F(SubscriberServer, SubscribeReceivesBinaryPayloads) {
  Probe p(ioc_, cfg_);
  const std::string ch = prefix_ + "bin\0ch"s;
  const Done d = call([&](auto cb) { p.sub->subscribe({ch}, std::move(cb)); });
  ASSERT_FALSE(d.ec) << d.ec.message();
  EXPECT_EQ(d.value.type, Type::nil);  // confirmed with the new connection's restore
  EXPECT_TRUE(p.sub->connected());
  // Once connected, a call gets its own confirmation.
  const Done again = call([&](auto cb) { p.sub->subscribe({ch, ch + "2"}, std::move(cb)); });
  ASSERT_FALSE(again.ec);
  ASSERT_EQ(again.value.type, Type::array);
  ASSERT_EQ(again.value.elements.size(), 3u);
  EXPECT_EQ(again.value.elements[0].str, "subscribe");
  EXPECT_EQ(again.value.elements[1].str, ch + "2");
  EXPECT_EQ(again.value.elements[2].integer, 2);
  EXPECT_NE(p.sub->client_id(), 0);
  EXPECT_EQ(p.states, std::vector<bool>{true});

  std::string big(300 * 1024, '\0');  // larger than one read of the subscriber
  std::mt19937 rng(42);
  for (auto& c : big) c = static_cast<char>(rng());
  const std::vector<std::string> payloads = {"a\0b\r\n$3\r\n\xff"s, "", big, "*3\r\n$7\r\nmessage\r\n"};
  for (const auto& payload : payloads) EXPECT_EQ(publish(ch, payload), 1);
  ASSERT_TRUE(wait([&] { return p.msgs.size() == payloads.size(); })) << p.msgs.size();
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(p.msgs[i], (Msg{ch, "", payloads[i]})) << i;
  }
}

TEST_F(SubscriberServer, PsubscribeCarriesThePattern) {
  Probe p(ioc_, cfg_);
  const std::string pattern = prefix_ + "room:*";
  const std::string one = prefix_ + "room:1";
  const std::string two = prefix_ + "room:2";
  ASSERT_FALSE(call([&](auto cb) { p.sub->psubscribe({pattern}, std::move(cb)); }).ec);
  const Done d = call([&](auto cb) { p.sub->subscribe({one}, std::move(cb)); });
  ASSERT_FALSE(d.ec);
  EXPECT_EQ(d.value.elements[2].integer, 2);  // one channel + one pattern on this connection
  EXPECT_EQ(publish(one, "x\0y"s), 2);        // delivered once per match, as Redis sends it
  EXPECT_EQ(publish(two, "z"), 1);
  ASSERT_TRUE(wait([&] { return p.msgs.size() == 3; })) << p.msgs.size();
  // Redis sends the channel's copy first, then the pattern's.
  std::vector<Msg> want = {{one, "", "x\0y"s}, {one, pattern, "x\0y"s}, {two, pattern, "z"}};
  EXPECT_EQ(p.msgs, want);
}

TEST_F(SubscriberServer, UnsubscribeStopsDelivery) {
  Probe p(ioc_, cfg_);
  const std::string a = prefix_ + "a", b = prefix_ + "b", pattern = prefix_ + "p:*";
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({a, b}, std::move(cb)); }).ec);
  ASSERT_FALSE(call([&](auto cb) { p.sub->psubscribe({pattern}, std::move(cb)); }).ec);
  EXPECT_EQ(p.sub->channels(), 2u);
  EXPECT_EQ(p.sub->patterns(), 1u);
  EXPECT_EQ(publish(a, "1"), 1);
  ASSERT_TRUE(wait([&] { return p.msgs.size() == 1; }));

  const Done d = call([&](auto cb) { p.sub->unsubscribe({a}, std::move(cb)); });
  ASSERT_FALSE(d.ec);
  EXPECT_EQ(d.value.elements[0].str, "unsubscribe");
  EXPECT_EQ(d.value.elements[1].str, a);
  EXPECT_EQ(p.sub->channels(), 1u);
  EXPECT_EQ(publish(a, "2"), 0);  // the server no longer has it
  EXPECT_EQ(publish(b, "3"), 1);  // b arrives after whatever a would have sent
  ASSERT_TRUE(wait([&] { return p.msgs.size() == 2; }));
  EXPECT_EQ(p.msgs.back(), (Msg{b, "", "3"}));

  ASSERT_FALSE(call([&](auto cb) { p.sub->punsubscribe({}, std::move(cb)); }).ec);  // all patterns
  EXPECT_EQ(p.sub->patterns(), 0u);
  EXPECT_EQ(publish(prefix_ + "p:1", "4"), 0);
  ASSERT_FALSE(call([&](auto cb) { p.sub->unsubscribe({}, std::move(cb)); }).ec);  // all channels
  EXPECT_EQ(p.sub->channels(), 0u);
  EXPECT_EQ(publish(b, "5"), 0);
  // Nothing left to unsubscribe: succeeds at once (posted), still connected.
  EXPECT_FALSE(call([&](auto cb) { p.sub->unsubscribe({}, std::move(cb)); }).ec);
  EXPECT_TRUE(p.sub->connected());
  EXPECT_EQ(p.msgs.size(), 2u);
}

// A message already received for a channel that is then unsubscribed is not
// delivered: the handler never sees a channel after unsubscribe() returns.
TEST_F(SubscriberServer, NoDeliveryAfterUnsubscribeReturns) {
  Probe p(ioc_, cfg_);
  const std::string a = prefix_ + "a", b = prefix_ + "b";
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({a, b}, std::move(cb)); }).ec);
  // From the handler of b's message (which Redis sends after a's), unsubscribe a:
  // a's second message may already be parsed in the same batch.
  p.sub->on_message([&](std::string_view ch, std::string_view, std::string_view payload) {
    p.msgs.push_back({std::string(ch), "", std::string(payload)});
    if (ch == b) p.sub->unsubscribe({a});
  });
  pub_->command({"PUBLISH", b, "1"}, [](std::error_code, RedisValue) {});
  pub_->command({"PUBLISH", a, "2"}, [](std::error_code, RedisValue) {});
  pub_->command({"PUBLISH", b, "3"}, [](std::error_code, RedisValue) {});
  ASSERT_TRUE(wait([&] { return p.msgs.size() >= 2 && p.msgs.back().channel == b && p.msgs.back().payload == "3"; }))
      << p.msgs.size();
  for (const auto& m : p.msgs) EXPECT_NE(m.channel, a) << m;
}

TEST_F(SubscriberServer, ReconnectsAndResubscribesAfterClientKill) {
  Probe p(ioc_, cfg_);
  const std::string ch = prefix_ + "ch", pattern = prefix_ + "p:*";
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({ch}, std::move(cb)); }).ec);
  ASSERT_FALSE(call([&](auto cb) { p.sub->psubscribe({pattern}, std::move(cb)); }).ec);
  const long long id = p.sub->client_id();
  ASSERT_NE(id, 0);
  EXPECT_EQ(p.states, std::vector<bool>{true});

  // TYPE pubsub narrowed by ID: a bare KILL TYPE pubsub would also cut the
  // subscribers of tests running in parallel on the same Redis.
  const Done killed = command(*pub_, {"CLIENT", "KILL", "TYPE", "pubsub", "ID", std::to_string(id)});
  ASSERT_EQ(killed.value.integer, 1) << killed.value.str;
  ASSERT_TRUE(wait([&] { return p.states.size() == 3; })) << p.states.size();
  EXPECT_EQ(p.states, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(p.sub->last_error(), RedisError::connection_lost) << p.sub->last_error().message();
  EXPECT_TRUE(p.sub->connected());
  EXPECT_NE(p.sub->client_id(), id);
  EXPECT_EQ(p.sub->connect_attempts(), 2u);

  const Done numsub = command(*pub_, {"PUBSUB", "NUMSUB", ch});
  ASSERT_EQ(numsub.value.elements.size(), 2u);
  EXPECT_EQ(numsub.value.elements[1].integer, 1);
  EXPECT_EQ(publish(ch, "again"), 1);
  EXPECT_EQ(publish(prefix_ + "p:x", "pattern again"), 1);
  ASSERT_TRUE(wait([&] { return p.msgs.size() == 2; }));
  EXPECT_EQ(p.msgs[0], (Msg{ch, "", "again"}));
  EXPECT_EQ(p.msgs[1], (Msg{prefix_ + "p:x", pattern, "pattern again"}));
}

TEST_F(SubscriberServer, AuthAndSelectFromTheConfig) {
  RedisConfig cfg = cfg_;
  cfg.db = 5;  // pub/sub ignores the database; SELECT must still succeed
  Probe p(ioc_, cfg);
  const std::string ch = prefix_ + "db5";
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({ch}, std::move(cb)); }).ec);
  EXPECT_EQ(publish(ch, "hi"), 1);
  ASSERT_TRUE(wait([&] { return p.msgs.size() == 1; }));

  cfg.password = "not-the-password";
  cfg.reconnect_backoff_initial = 1000ms;
  Probe bad(ioc_, cfg);
  const Done d = call([&](auto cb) { bad.sub->subscribe({ch}, std::move(cb)); });
  EXPECT_EQ(d.ec, RedisError::auth_failed) << d.ec.message();
  EXPECT_EQ(d.value.type, Type::error);
  EXPECT_FALSE(bad.sub->connected());
  EXPECT_EQ(bad.sub->channels(), 1u);  // kept for the next attempt
  EXPECT_TRUE(bad.states.empty());
  // Backing off now: a further call fails fast.
  EXPECT_EQ(call([&](auto cb) { bad.sub->subscribe({ch + "2"}, std::move(cb)); }).ec, RedisError::unavailable);
}

TEST_F(SubscriberServer, CloseStopsEverything) {
  Probe p(ioc_, cfg_);
  const std::string ch = prefix_ + "ch";
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({ch}, std::move(cb)); }).ec);
  EXPECT_EQ(publish(ch, "1"), 1);  // its delivery may or may not have run yet
  Subscriber::Callback cb;
  auto pending = track(cb);
  p.sub->subscribe({ch + "2"}, std::move(cb));
  p.sub->close();
  ASSERT_TRUE(wait([&] { return pending->done; }));
  EXPECT_EQ(pending->ec, RedisError::closed);
  EXPECT_EQ(call([&](auto cb) { p.sub->subscribe({ch}, std::move(cb)); }).ec, RedisError::closed);
  EXPECT_FALSE(p.sub->connected());
  EXPECT_EQ(p.states, std::vector<bool>{true});  // no state callback after close()
  EXPECT_TRUE(p.msgs.empty() || p.msgs.size() == 1u);
  const std::size_t seen = p.msgs.size();
  publish(ch, "2");
  ioc_.poll();  // whatever was posted before close() runs now, and must deliver nothing
  EXPECT_EQ(p.msgs.size(), seen);

  // Destroying it while a subscribe waits fails the callback with closed.
  auto q = Subscriber::create(ioc_.get_executor(), cfg_);
  auto destroyed = track(cb);
  q->subscribe({ch}, std::move(cb));
  q.reset();
  ASSERT_TRUE(wait([&] { return destroyed->done; }));
  EXPECT_EQ(destroyed->ec, RedisError::closed);
}

// ---------------------------------------------------------------------------
// Without Redis.

TEST_F(SubscriberTest, BacksOffWhileRedisIsUnreachable) {
  RedisConfig cfg;
  cfg.port = testing::closed_port(ioc_);
  cfg.reconnect_backoff_initial = 100ms;
  cfg.reconnect_backoff_max = 400ms;
  Probe p(ioc_, cfg);
  const auto start = Clock::now();
  Subscriber::Callback cb;
  auto first = track(cb);
  p.sub->subscribe({"ch"}, std::move(cb));
  ASSERT_TRUE(wait([&] { return first->done; }));
  EXPECT_EQ(first->ec, std::errc::connection_refused) << first->ec.message();
  EXPECT_EQ(p.sub->connect_attempts(), 1u);
  // Backing off: calls fail fast, the channels stay in the set.
  const Done second = call([&](auto cb) { p.sub->subscribe({"ch2"}, std::move(cb)); });
  EXPECT_EQ(second.ec, RedisError::unavailable);
  EXPECT_EQ(p.sub->channels(), 2u);
  EXPECT_LT(Clock::now() - start, 250ms);  // nothing waited for the backoff

  // Attempts 2, 3 and 4 each wait 100, 200 and 400 ms (±20 %) more.
  ASSERT_TRUE(wait([&] { return p.sub->connect_attempts() == 4; }, 3000ms));
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 0.8 * (100ms + 200ms + 400ms));
  EXPECT_LT(elapsed, 2000ms);
  EXPECT_EQ(p.sub->last_error(), std::errc::connection_refused);
  EXPECT_TRUE(p.states.empty());  // never connected, never reported
}

// Answers what the subscriber sends as Redis would, with `pings_answered`
// PINGs per connection (the barrier is the first).
FakeRedis::Handler redis_like(int pings_answered = 1000) {
  auto pings = std::make_shared<std::map<std::size_t, int>>();
  return [pings, pings_answered](std::size_t conn, const FakeRedis::Argv& argv) -> std::optional<std::string> {
    const std::string& cmd = argv.at(0);
    if (cmd == "CLIENT") return ":" + std::to_string(conn + 100) + "\r\n";
    if (cmd == "PING") return ++(*pings)[conn] <= pings_answered ? "+PONG\r\n" : "";
    if (cmd == "SUBSCRIBE" || cmd == "PSUBSCRIBE") {
      std::string out;
      for (std::size_t i = 1; i < argv.size(); ++i) {
        const std::string kind = cmd == "SUBSCRIBE" ? "subscribe" : "psubscribe";
        out += "*3\r\n$" + std::to_string(kind.size()) + "\r\n" + kind + "\r\n$" +
               std::to_string(argv[i].size()) + "\r\n" + argv[i] + "\r\n:" + std::to_string(i) + "\r\n";
      }
      return out;
    }
    return "-ERR unexpected\r\n";
  };
}

TEST_F(SubscriberTest, UnansweredPingDropsTheConnection) {
  FakeRedis server(ioc_, redis_like(/*pings_answered=*/1));
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.ping_interval = 100ms;
  cfg.command_timeout = 200ms;
  Probe p(ioc_, cfg);
  p.sub->start();
  ASSERT_TRUE(wait([&] { return p.states.size() == 1; }));
  EXPECT_EQ(p.sub->client_id(), 100);
  const auto up = Clock::now();
  ASSERT_TRUE(wait([&] { return p.states.size() == 2; }, 3000ms));
  const auto down = Clock::now() - up;
  // ping_interval of silence + command_timeout for the pong (less the time
  // the state callback took to run on a busy machine).
  EXPECT_GE(down, 200ms);
  EXPECT_LT(down, 1500ms);
  EXPECT_EQ(p.sub->last_error(), RedisError::timeout);
  // It was connected: it reconnects at once, and the new connection answers its barrier.
  ASSERT_TRUE(wait([&] { return p.states.size() == 3; }, 3000ms));
  EXPECT_EQ(p.states, (std::vector<bool>{true, false, true}));
  EXPECT_EQ(server.accepted(), 2u);
  EXPECT_EQ(p.sub->client_id(), 101);
}

TEST_F(SubscriberTest, AnsweredPingsKeepTheConnection) {
  FakeRedis server(ioc_, redis_like());
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.ping_interval = 50ms;
  cfg.command_timeout = 200ms;
  Probe p(ioc_, cfg);
  p.sub->start();
  ASSERT_TRUE(wait([&] { return server.count("PING") >= 5; }, 3000ms));  // barrier + 4 heartbeats
  EXPECT_EQ(p.states, std::vector<bool>{true});
  EXPECT_EQ(server.accepted(), 1u);
}

TEST_F(SubscriberTest, OversizedInputDropsTheConnection) {
  FakeRedis server(ioc_, redis_like());
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.max_reply_bytes = 64 * 1024;
  Probe p(ioc_, cfg);
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({"ch"}, std::move(cb)); }).ec);
  // A message announcing 100 MB, then 1 MB of it: the subscriber must give up
  // at its cap instead of buffering.
  server.push(0, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$100000000\r\n" + std::string(1024 * 1024, 'x'));
  ASSERT_TRUE(wait([&] { return p.states.size() >= 2; }));
  EXPECT_EQ(p.sub->last_error(), RedisError::reply_too_large) << p.sub->last_error().message();
  EXPECT_TRUE(p.msgs.empty());
  // ...and comes back with its channel.
  ASSERT_TRUE(wait([&] { return p.states.size() == 3; }));
  server.push(1, "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nok\r\n");
  ASSERT_TRUE(wait([&] { return p.msgs.size() == 1; }));
  EXPECT_EQ(p.msgs[0], (Msg{"ch", "", "ok"}));
}

TEST_F(SubscriberTest, GarbageAndStrayRepliesDropTheConnection) {
  FakeRedis server(ioc_, redis_like());
  RedisConfig cfg;
  cfg.port = server.port();
  Probe p(ioc_, cfg);
  p.sub->start();
  ASSERT_TRUE(wait([&] { return p.states.size() == 1; }));
  server.push(0, "+OK\r\n");  // a reply nobody waits for
  ASSERT_TRUE(wait([&] { return p.states.size() == 3; }));
  EXPECT_EQ(p.sub->last_error(), RedisError::unexpected_reply);
  server.push(1, "!garbage\r\n");
  ASSERT_TRUE(wait([&] { return p.states.size() == 5; }));
  EXPECT_EQ(p.sub->last_error(), RedisError::protocol_error);
  EXPECT_EQ(server.accepted(), 3u);
}

TEST_F(SubscriberTest, RefusedSubscribeLeavesTheSetAndRefusedRestoreIsRetried) {
  auto base = redis_like();
  bool refuse_all = false;
  FakeRedis server(ioc_, [&](std::size_t conn, const FakeRedis::Argv& argv) -> std::optional<std::string> {
    if (argv[0] == "SUBSCRIBE" && (refuse_all || argv[1] == "secret")) {
      return "-NOPERM this user has no permissions to access the channel\r\n";
    }
    return base(conn, argv);
  });
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.reconnect_backoff_initial = 50ms;
  Probe p(ioc_, cfg);
  ASSERT_FALSE(call([&](auto cb) { p.sub->subscribe({"open"}, std::move(cb)); }).ec);
  const Done refused = call([&](auto cb) { p.sub->subscribe({"secret"}, std::move(cb)); });
  EXPECT_FALSE(refused.ec);
  EXPECT_EQ(refused.value.type, Type::error);
  EXPECT_EQ(refused.value.str.rfind("NOPERM", 0), 0u) << refused.value.str;
  EXPECT_EQ(p.sub->channels(), 1u);
  EXPECT_TRUE(p.sub->connected());

  // Now restoring "open" on a new connection is refused: never connected()
  // without it; retried with backoff.
  refuse_all = true;
  server.close_all();
  ASSERT_TRUE(wait([&] { return server.accepted() >= 4; }));
  EXPECT_EQ(p.sub->last_error(), RedisError::resubscribe_failed) << p.sub->last_error().message();
  EXPECT_EQ(p.states, (std::vector<bool>{true, false}));
  EXPECT_EQ(p.sub->channels(), 1u);
  refuse_all = false;
  ASSERT_TRUE(wait([&] { return p.states.size() == 3; }));
  EXPECT_TRUE(p.sub->connected());
}

TEST_F(SubscriberTest, InvalidCalls) {
  RedisConfig cfg;
  cfg.port = testing::closed_port(ioc_);
  Probe p(ioc_, cfg);
  EXPECT_EQ(call([&](auto cb) { p.sub->subscribe({}, std::move(cb)); }).ec, RedisError::invalid_command);
  EXPECT_EQ(call([&](auto cb) { p.sub->psubscribe({}, std::move(cb)); }).ec, RedisError::invalid_command);
  EXPECT_EQ(p.sub->connect_attempts(), 0u);  // nothing to subscribe: not started
  EXPECT_FALSE(call([&](auto cb) { p.sub->unsubscribe({"x"}, std::move(cb)); }).ec);  // not connected: done
}

}  // namespace
}  // namespace rollcall::redis
