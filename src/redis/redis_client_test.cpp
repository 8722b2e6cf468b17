// RedisClient tests. The RedisServer.* tests need a real redis-server on
// 127.0.0.1:$REDIS_PORT (scripts/services.sh starts one) and FAIL when there
// is none. The RedisClientFake.* tests use an in-process fake server.
#include "redis/redis_client.hpp"
#include "run_until.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace rollcall::redis {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using namespace std::string_literals;
using Type = RedisValue::Type;

struct Result {
  bool done = false;
  std::error_code ec;
  RedisValue value;
};

class Harness {
 public:
  // Runs the loop until `done()` or `limit`; false on timeout.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5000ms) {
    return rollcall::testing::run_until(ioc_, done, limit);
  }

  std::shared_ptr<Result> send(RedisClient& c, std::vector<std::string> argv) {
    auto r = std::make_shared<Result>();
    c.command(std::move(argv), [r](std::error_code ec, RedisValue v) {
      r->done = true;
      r->ec = ec;
      r->value = std::move(v);
    });
    return r;
  }

  Result call(RedisClient& c, std::vector<std::string> argv, std::chrono::milliseconds limit = 5000ms) {
    auto r = send(c, std::move(argv));
    EXPECT_FALSE(r->done) << "callback ran inline";
    EXPECT_TRUE(run_until([&] { return r->done; }, limit)) << "no completion";
    return *r;
  }

  std::shared_ptr<RedisClient> client(RedisConfig cfg) {
    return RedisClient::create(ioc_.get_executor(), std::move(cfg));
  }

  asio::io_context& ioc() { return ioc_; }

 private:
  asio::io_context ioc_;
};

// ---------------------------------------------------------------------------
// Against a real Redis.

class RedisServer : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("REDIS_PORT");
    if (env == nullptr || *env == '\0') {
      FAIL() << "REDIS_PORT not set: start Redis with scripts/services.sh";
    }
    cfg_.port = static_cast<std::uint16_t>(std::atoi(env));
    if (cfg_.port == 0) FAIL() << "REDIS_PORT=" << env << " is not a port number";
    c_ = h_.client(cfg_);
    const Result r = h_.call(*c_, {"PING"});
    if (r.ec || r.value.str != "PONG") {
      FAIL() << "no Redis answers on 127.0.0.1:" << cfg_.port << " (REDIS_PORT=" << env
             << ", " << (r.ec ? r.ec.message() : r.value.str)
             << "): start Redis with scripts/services.sh";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = "rollcall:test:"s + info->name() + ":" + std::to_string(::getpid()) + ":" +
              std::to_string(std::random_device{}()) + ":";
  }

  void TearDown() override {
    if (c_ && !keys_.empty()) {
      std::vector<std::string> del{"DEL"};
      del.insert(del.end(), keys_.begin(), keys_.end());
      h_.call(*c_, del);
    }
  }

  std::string key(const std::string& name) {
    keys_.push_back(prefix_ + name);
    return keys_.back();
  }

  Harness h_;
  RedisConfig cfg_;
  std::shared_ptr<RedisClient> c_;
  std::string prefix_;
  std::vector<std::string> keys_;
};

TEST_F(RedisServer, SetGetBinarySafe) {
  const std::string k = key("bin\0key"s);
  const std::string value = "a\0b\r\n$3\r\n\xff"s;
  Result r = h_.call(*c_, {"SET", k, value, "EX", "60"});
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.value.type, Type::status);
  EXPECT_EQ(r.value.str, "OK");
  r = h_.call(*c_, {"GET", k});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::string);
  EXPECT_EQ(r.value.str, value);
}

TEST_F(RedisServer, GetMissingIsNil) {
  const Result r = h_.call(*c_, {"GET", key("missing")});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::nil);
}

TEST_F(RedisServer, ArraysWithNil) {
  const std::string a = key("a");
  ASSERT_FALSE(h_.call(*c_, {"RPUSH", a, "x", "", "z"}).ec);
  Result r = h_.call(*c_, {"LRANGE", a, "0", "-1"});
  ASSERT_EQ(r.value.type, Type::array);
  ASSERT_EQ(r.value.elements.size(), 3u);
  EXPECT_EQ(r.value.elements[1].str, "");
  EXPECT_EQ(r.value.elements[2].str, "z");
  r = h_.call(*c_, {"MGET", key("nope"), key("nope2")});
  ASSERT_EQ(r.value.elements.size(), 2u);
  EXPECT_EQ(r.value.elements[0].type, Type::nil);
  r = h_.call(*c_, {"EVAL", "return {1, {'n', 2}, redis.status_reply('S')}", "0"});
  ASSERT_EQ(r.value.elements.size(), 3u);
  EXPECT_EQ(r.value.elements[1].elements[1].integer, 2);
  EXPECT_EQ(r.value.elements[2].type, Type::status);
}

TEST_F(RedisServer, Pipelined1000Incr) {
  const std::string k = key("counter");
  std::vector<long long> got;
  std::error_code first_error;
  int calls = 0;
  for (int i = 0; i < 1000; ++i) {
    c_->command({"INCR", k}, [&](std::error_code ec, RedisValue v) {
      ++calls;
      if (ec && !first_error) first_error = ec;
      got.push_back(v.integer);
    });
  }
  EXPECT_EQ(calls, 0);  // never inline
  EXPECT_EQ(c_->pending(), 1000u);
  ASSERT_TRUE(h_.run_until([&] { return calls == 1000; }));
  EXPECT_FALSE(first_error) << first_error.message();
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[i], i + 1) << i;  // FIFO order
  EXPECT_EQ(c_->pending(), 0u);
}

TEST_F(RedisServer, ErrorReplyIsAValue) {
  Result r = h_.call(*c_, {"NOSUCHCOMMAND", "x"});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::error);
  EXPECT_EQ(r.value.str.rfind("ERR", 0), 0u) << r.value.str;
  const std::string k = key("str");
  ASSERT_FALSE(h_.call(*c_, {"SET", k, "abc"}).ec);
  r = h_.call(*c_, {"INCR", k});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.value.type, Type::error);
  r = h_.call(*c_, {"PING"});  // the connection is still fine
  EXPECT_EQ(r.value.str, "PONG");
  EXPECT_TRUE(c_->connected());
}

TEST_F(RedisServer, CommandTimeoutDropsConnectionThenReconnects) {
  RedisConfig cfg = cfg_;
  cfg.command_timeout = 200ms;
  auto c = h_.client(cfg);
  ASSERT_EQ(h_.call(*c, {"PING"}).value.str, "PONG");
  // BLPOP blocks this connection only (DEBUG SLEEP / CLIENT PAUSE would
  // stall every client of a shared test Redis).
  const auto start = std::chrono::steady_clock::now();
  auto blocked = h_.send(*c, {"BLPOP", key("never"), "5"});
  auto behind = h_.send(*c, {"PING"});
  ASSERT_TRUE(h_.run_until([&] { return blocked->done && behind->done; }));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(blocked->ec, RedisError::timeout);
  EXPECT_EQ(behind->ec, RedisError::timeout);
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_FALSE(c->connected());
  const Result r = h_.call(*c, {"PING"});
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.value.str, "PONG");
}

TEST_F(RedisServer, ReconnectsAfterClientKill) {
  auto victim = h_.client(cfg_);
  const Result id = h_.call(*victim, {"CLIENT", "ID"});
  ASSERT_EQ(id.value.type, Type::integer);
  // KILL ID rather than KILL TYPE normal: the latter would also kill the
  // connections of tests running in parallel against the same Redis.
  const Result killed = h_.call(*c_, {"CLIENT", "KILL", "ID", std::to_string(id.value.integer)});
  ASSERT_EQ(killed.value.integer, 1) << killed.value.str;
  ASSERT_TRUE(h_.run_until([&] { return !victim->connected(); })) << "EOF not noticed";
  const Result r = h_.call(*victim, {"PING"});
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.value.str, "PONG");
  EXPECT_TRUE(victim->connected());
  EXPECT_NE(h_.call(*victim, {"CLIENT", "ID"}).value.integer, id.value.integer);
}

TEST_F(RedisServer, KilledWhilePendingFailsWithConnectionLost) {
  auto victim = h_.client(cfg_);
  const Result id = h_.call(*victim, {"CLIENT", "ID"});
  auto blocked = h_.send(*victim, {"BLPOP", key("never"), "5"});
  h_.run_until([] { return false; }, 50ms);  // let BLPOP reach the server
  h_.call(*c_, {"CLIENT", "KILL", "ID", std::to_string(id.value.integer)});
  ASSERT_TRUE(h_.run_until([&] { return blocked->done; }));
  EXPECT_EQ(blocked->ec, RedisError::connection_lost) << blocked->ec.message();
}

TEST_F(RedisServer, AuthFailureAgainstPasswordlessServer) {
  RedisConfig cfg = cfg_;
  cfg.password = "not-the-password";
  auto c = h_.client(cfg);
  auto first = h_.send(*c, {"SET", key("auth"), "v"});
  auto second = h_.send(*c, {"PING"});
  EXPECT_EQ(c->pending(), 3u);  // AUTH + 2
  ASSERT_TRUE(h_.run_until([&] { return first->done && second->done; }));
  EXPECT_EQ(first->ec, RedisError::auth_failed);
  EXPECT_EQ(second->ec, RedisError::auth_failed);
  EXPECT_EQ(first->value.type, Type::error);
  EXPECT_NE(first->value.str.find("AUTH"), std::string::npos) << first->value.str;
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(c->pending(), 0u);
  // The SET was pipelined behind AUTH, so the server may have run it; that is
  // why AUTH failures drop the connection instead of passing replies on.
}

TEST_F(RedisServer, SelectDatabase) {
  RedisConfig cfg = cfg_;
  cfg.db = 1;
  auto db1 = h_.client(cfg);
  const std::string k = key("db1");
  ASSERT_EQ(h_.call(*db1, {"SET", k, "one", "EX", "60"}).value.str, "OK");
  EXPECT_EQ(h_.call(*db1, {"GET", k}).value.str, "one");
  EXPECT_EQ(h_.call(*c_, {"GET", k}).value.type, Type::nil);  // db 0
  h_.call(*db1, {"DEL", k});

  cfg.db = 100000;
  auto bad = h_.client(cfg);
  const Result r = h_.call(*bad, {"PING"});
  EXPECT_EQ(r.ec, RedisError::select_failed);
  EXPECT_EQ(r.value.type, Type::error);
}

TEST_F(RedisServer, QueueBound) {
  RedisConfig cfg = cfg_;
  cfg.max_pending = 5;
  auto c = h_.client(cfg);
  std::vector<std::shared_ptr<Result>> rs;
  for (int i = 0; i < 6; ++i) rs.push_back(h_.send(*c, {"PING"}));
  EXPECT_FALSE(rs[5]->done);  // even the rejection is posted
  ASSERT_TRUE(h_.run_until([&] {
    for (auto& r : rs) {
      if (!r->done) return false;
    }
    return true;
  }));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rs[i]->value.str, "PONG");
  EXPECT_EQ(rs[5]->ec, RedisError::queue_full);
}

TEST_F(RedisServer, CloseAndDestroyFailPending) {
  auto c = h_.client(cfg_);
  auto a = h_.send(*c, {"PING"});
  c->close();
  auto b = h_.send(*c, {"PING"});
  EXPECT_FALSE(a->done);
  ASSERT_TRUE(h_.run_until([&] { return a->done && b->done; }));
  EXPECT_EQ(a->ec, RedisError::closed);
  EXPECT_EQ(b->ec, RedisError::closed);

  auto d = h_.client(cfg_);
  auto e = h_.send(*d, {"BLPOP", key("never"), "5"});
  d.reset();
  ASSERT_TRUE(h_.run_until([&] { return e->done; }));
  EXPECT_EQ(e->ec, RedisError::closed);
}

TEST_F(RedisServer, RejectsUnsupportedAndEmptyCommands) {
  EXPECT_EQ(h_.call(*c_, {"subscribe", "ch"}).ec, RedisError::unsupported_command);
  EXPECT_EQ(h_.call(*c_, {"MONITOR"}).ec, RedisError::unsupported_command);
  EXPECT_EQ(h_.call(*c_, {"Client", "reply", "OFF"}).ec, RedisError::unsupported_command);
  EXPECT_EQ(h_.call(*c_, {"HELLO", "3"}).ec, RedisError::unsupported_command);
  EXPECT_EQ(h_.call(*c_, {"CLIENT", "ID"}).value.type, Type::integer);
  EXPECT_EQ(h_.call(*c_, {}).ec, RedisError::invalid_command);
  EXPECT_EQ(h_.call(*c_, {"PING"}).value.str, "PONG");
}

// ---------------------------------------------------------------------------
// Without Redis: refused connections and an in-process fake server.

// Accepts connections; answers each read with `reply` (once) and closes
// after it when `close_after` is set. An empty reply never answers.
class FakeServer {
 public:
  FakeServer(asio::io_context& ioc, std::function<std::string()> reply, bool close_after = false)
      : acceptor_(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        reply_(std::move(reply)),
        close_after_(close_after) {
    accept();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_; }

 private:
  struct Conn {
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    std::array<char, 4096> buf;
    std::string out;
  };
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      ++accepted_;
      serve(std::make_shared<Conn>(std::move(s)));
      accept();
    });
  }
  void serve(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(asio::buffer(c->buf), [this, c](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      c->out = reply_();
      if (c->out.empty()) return serve(c);  // silent: keep reading, never answer
      asio::async_write(c->socket, asio::buffer(c->out), [this, c](boost::system::error_code ec, std::size_t) {
        if (ec) return;
        if (close_after_) {
          c->socket.close();
          return;
        }
        serve(c);
      });
    });
  }
  tcp::acceptor acceptor_;
  std::function<std::string()> reply_;
  bool close_after_;
  int accepted_ = 0;
};

TEST(RedisClientFake, ConnectionRefused) {
  Harness h;
  std::uint16_t port = 0;
  {
    tcp::acceptor a(h.ioc(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }  // closed: nothing listens there now
  RedisConfig cfg;
  cfg.port = port;
  auto c = h.client(cfg);
  auto a = h.send(*c, {"PING"});
  auto b = h.send(*c, {"PING"});
  ASSERT_TRUE(h.run_until([&] { return a->done && b->done; }));
  EXPECT_EQ(a->ec, std::errc::connection_refused) << a->ec.message();
  EXPECT_EQ(b->ec, std::errc::connection_refused);
  EXPECT_FALSE(c->connected());
  // Tries again on the next command.
  EXPECT_EQ(h.call(*c, {"PING"}).ec, std::errc::connection_refused);
}

TEST(RedisClientFake, NoReplyTimesOut) {
  Harness h;
  FakeServer server(h.ioc(), [] { return std::string(); });
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.command_timeout = 200ms;
  auto c = h.client(cfg);
  const auto start = std::chrono::steady_clock::now();
  const Result r = h.call(*c, {"PING"});
  EXPECT_EQ(r.ec, RedisError::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);
  EXPECT_FALSE(c->connected());
}

TEST(RedisClientFake, MalformedReplyFailsTheConnection) {
  Harness h;
  FakeServer server(h.ioc(), [] { return std::string("!garbage\r\n"); });
  RedisConfig cfg;
  cfg.port = server.port();
  auto c = h.client(cfg);
  auto a = h.send(*c, {"PING"});
  auto b = h.send(*c, {"PING"});
  ASSERT_TRUE(h.run_until([&] { return a->done && b->done; }));
  EXPECT_EQ(a->ec, RedisError::protocol_error);
  EXPECT_EQ(b->ec, RedisError::protocol_error);
  EXPECT_FALSE(c->connected());
}

TEST(RedisClientFake, ExtraReplyFailsTheConnection) {
  Harness h;
  FakeServer server(h.ioc(), [] { return std::string("+OK\r\n+EXTRA\r\n"); });
  RedisConfig cfg;
  cfg.port = server.port();
  auto c = h.client(cfg);
  const Result r = h.call(*c, {"PING"});
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(r.value.str, "OK");
  EXPECT_TRUE(h.run_until([&] { return !c->connected(); }));
}

TEST(RedisClientFake, ServerCloseFailsWithConnectionLost) {
  Harness h;
  FakeServer server(h.ioc(), [] { return std::string("$10\r\nabc"); }, /*close_after=*/true);
  RedisConfig cfg;
  cfg.port = server.port();
  auto c = h.client(cfg);
  EXPECT_EQ(h.call(*c, {"GET", "k"}).ec, RedisError::connection_lost);
}

// Random bytes as replies, over many connections: every command completes
// (with a value or an error), nothing crashes, and the client recovers.
TEST(RedisClientFake, RandomRepliesNeverCrash) {
  Harness h;
  std::mt19937 rng(777);
  const std::vector<std::string> pieces = {"+OK\r\n", ":1\r\n", "$3\r\nabc\r\n", "*2\r\n", "*-7\r\n",
                                           "$-1\r\n", "\r\n", "$99999999999\r\n", "-ERR x\r\n", "?"};
  FakeServer server(h.ioc(), [&] {
    std::string out;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      if (rng() % 3 == 0) {
        out += static_cast<char>(rng() & 0xFF);
      } else {
        out += pieces[rng() % pieces.size()];
      }
    }
    return out;
  }, /*close_after=*/true);
  RedisConfig cfg;
  cfg.port = server.port();
  cfg.command_timeout = 300ms;
  cfg.max_reply_bytes = 64 * 1024;
  auto c = h.client(cfg);
  int values = 0, errors = 0;
  for (int i = 0; i < 150; ++i) {
    auto a = h.send(*c, {"GET", "k"});
    auto b = h.send(*c, {"GET", "k"});
    ASSERT_TRUE(h.run_until([&] { return a->done && b->done; })) << i;
    for (const auto* r : {a.get(), b.get()}) (r->ec ? errors : values)++;
  }
  EXPECT_GT(values, 0);
  EXPECT_GT(errors, 0);
  EXPECT_GT(server.accepted(), 1);
}

}  // namespace
}  // namespace rollcall::redis
