// The cluster presence scripts against a real Redis (127.0.0.1:$REDIS_PORT;
// FAIL without one). Each test has its own key prefix and removes it.
#include "cluster/presence_lua.hpp"
#include "redis/redis_client.hpp"
#include "run_until.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace rollcall::cluster {
namespace {

using redis::RedisClient;
using redis::RedisValue;
using namespace std::chrono_literals;

struct Transition {
  std::string type;  // "online" / "offline"
  std::string user;
  unsigned long long seq = 0;
};

class PresenceLua : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("REDIS_PORT");
    if (env == nullptr || *env == '\0') FAIL() << "REDIS_PORT not set: start Redis with scripts/services.sh";
    redis::RedisConfig cfg;
    cfg.port = static_cast<std::uint16_t>(std::atoi(env));
    client_ = RedisClient::create(ioc_.get_executor(), cfg);
    auto pong = call({"PING"});
    if (pong.str != "PONG") FAIL() << "no Redis on 127.0.0.1:" << env << ": start it with scripts/services.sh";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("rollcall-test:") + info->name() + ":" + std::to_string(::getpid());
    drop_keys();
  }
  void TearDown() override {
    if (client_) drop_keys();
  }

  RedisValue call(std::vector<std::string> argv) {
    bool done = false;
    RedisValue out;
    std::error_code err;
    client_->command(std::move(argv), [&](std::error_code ec, RedisValue v) {
      done = true;
      err = ec;
      out = std::move(v);
    });
    EXPECT_TRUE(testing::run_until(ioc_, [&] { return done; }, 5s)) << "no reply from Redis";
    EXPECT_FALSE(err) << err.message();
    EXPECT_NE(out.type, RedisValue::Type::error) << out.str;
    return out;
  }

  RedisValue eval(const std::string& script, std::vector<std::string> args) {
    std::vector<std::string> argv{"EVAL", script, "0", prefix_};
    argv.insert(argv.end(), args.begin(), args.end());
    return call(std::move(argv));
  }

  std::vector<std::string> keys() {
    std::vector<std::string> out;
    for (auto& k : call({"KEYS", prefix_ + ":*"}).elements) out.push_back(k.str.substr(prefix_.size() + 1));
    std::sort(out.begin(), out.end());
    return out;
  }
  void drop_keys() {
    for (auto& k : call({"KEYS", prefix_ + ":*"}).elements) call({"DEL", k.str});
  }

  std::string register_node(const std::string& id, long lease_ms = 60000) {
    auto r = eval(lua::register_node(), {id, std::to_string(lease_ms), "{}", "gen-1"});
    EXPECT_EQ(r.elements.size(), 4u);
    return r.elements.empty() ? std::string() : r.elements[0].str;
  }
  // Returns the transition, if any.
  std::optional<Transition> connect(const std::string& nk, const std::string& user, const std::string& sid,
                                    const std::string& orgs = "[]") {
    auto r = eval(lua::connect(), {nk, user, sid, R"({"socket":")" + sid + R"("})", "", orgs,
                                   std::to_string(floor_), "evt-" + sid});
    EXPECT_GE(r.elements.size(), 1u);
    EXPECT_EQ(r.elements.at(0).str, "ok");
    if (r.elements.size() < 5) return std::nullopt;
    Transition t{"online", user, std::stoull(r.elements[2].str)};
    floor_ = std::max(floor_, t.seq);
    return t;
  }
  long long disconnect(const std::string& nk, const std::string& user, const std::string& sid,
                       long grace_ms = 60000) {
    auto r = eval(lua::disconnect(), {nk, user, sid, std::to_string(grace_ms)});
    EXPECT_EQ(r.elements.at(0).str, "ok");
    return r.elements.size() > 1 ? r.elements[1].integer : -2;
  }
  // Sweeps until nothing more is due; returns the offline transitions.
  std::vector<Transition> sweep(const std::string& nk, long grace_ms = 0) {
    std::vector<Transition> out;
    for (int round = 0; round < 1000; ++round) {
      auto r = eval(lua::sweep(), {nk, std::to_string(grace_ms), std::to_string(floor_), "evt-sweep",
                                   "100", "1000"});
      EXPECT_EQ(r.elements.at(0).str, "ok");
      for (std::size_t i = 3; i + 4 < r.elements.size(); i += 5) {
        Transition t{"offline", r.elements[i].str, std::stoull(r.elements[i + 1].str)};
        floor_ = std::max(floor_, t.seq);
        out.push_back(t);
      }
      if (r.elements.at(1).integer == 0) break;
    }
    return out;
  }
  bool fenced(const RedisValue& r) { return !r.elements.empty() && r.elements[0].str == "fenced"; }

  boost::asio::io_context ioc_;
  std::shared_ptr<RedisClient> client_;
  std::string prefix_;
  unsigned long long floor_ = 0;
};

TEST_F(PresenceLua, OneOnlineAndOneOfflineForManyConnectionsOnTwoNodesAndNothingLeftBehind) {
  auto a = register_node("a");
  auto b = register_node("b");
  auto on = connect(a, "alice", "s1", R"([{"id":"acme","role":"admin"}])");
  ASSERT_TRUE(on);
  EXPECT_FALSE(connect(b, "alice", "s2"));
  EXPECT_FALSE(connect(a, "alice", "s3"));
  EXPECT_EQ(call({"SMEMBERS", prefix_ + ":org:acme"}).elements.size(), 1u);
  EXPECT_EQ(disconnect(a, "alice", "s1"), 2);
  EXPECT_EQ(disconnect(b, "alice", "s2"), 1);
  EXPECT_EQ(disconnect(a, "alice", "s3", 0), 0);
  auto off = sweep(b);
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off[0].user, "alice");
  EXPECT_GT(off[0].seq, on->seq);
  // What the two live nodes hold with no users: counters, the node table,
  // the nodes' details and the outbox (its entries go once delivered).
  EXPECT_EQ(keys(), (std::vector<std::string>{"epoch", "gen", "node:" + a, "node:" + b, "nodes", "outbox", "seq"}));
  auto outbox = call({"XRANGE", prefix_ + ":outbox", "-", "+"});
  ASSERT_EQ(outbox.elements.size(), 2u);
}

TEST_F(PresenceLua, AReconnectWithinTheGraceOnAnotherNodeFiresNothing) {
  auto a = register_node("a");
  auto b = register_node("b");
  ASSERT_TRUE(connect(a, "bob", "s1"));
  disconnect(a, "bob", "s1", 60000);
  EXPECT_TRUE(sweep(a).empty());  // the grace has not ended
  EXPECT_FALSE(connect(b, "bob", "s2"));
  EXPECT_EQ(call({"ZCARD", prefix_ + ":grace"}).integer, 0);
  disconnect(b, "bob", "s2", 0);
  EXPECT_EQ(sweep(a).size(), 1u);
}

TEST_F(PresenceLua, ANodeThatLeavesWithoutConnectionsIsGoneAtOnce) {
  auto a = register_node("a");
  auto b = register_node("b");
  ASSERT_TRUE(connect(a, "carol", "s1"));
  disconnect(a, "carol", "s1", 0);
  EXPECT_FALSE(fenced(eval(lua::leave(), {a})));
  // No sweep needed: nothing names a any more, and its old key is fenced.
  for (const auto& k : keys()) EXPECT_EQ(k.find(a), std::string::npos) << k;
  EXPECT_TRUE(fenced(eval(lua::renew(), {a, "60000"})));
  EXPECT_FALSE(fenced(eval(lua::renew(), {b, "60000"})));
}

TEST_F(PresenceLua, ADeadNodeIsReapedOnceAndFencedAndUsersLeftWithoutConnectionsGoOffline) {
  auto a = register_node("a");
  auto b = register_node("b");
  ASSERT_TRUE(connect(a, "carol", "s1"));  // only on a
  ASSERT_TRUE(connect(a, "dave", "s2"));   // on a and b
  EXPECT_FALSE(connect(b, "dave", "s3"));
  // a stops renewing: its lease ends now.
  EXPECT_FALSE(fenced(eval(lua::leave(), {a})));
  auto off = sweep(b);
  ASSERT_EQ(off.size(), 1u);
  EXPECT_EQ(off[0].user, "carol");
  // a wakes up: every write with its old key is refused.
  EXPECT_TRUE(fenced(eval(lua::renew(), {a, "60000"})));
  EXPECT_TRUE(fenced(eval(lua::connect(), {a, "erin", "s9", "{}", "", "[]", "0", "evt"})));
  EXPECT_TRUE(fenced(eval(lua::disconnect(), {a, "dave", "s2", "0"})));
  EXPECT_TRUE(fenced(eval(lua::sweep(), {a, "0", "0", "evt", "100", "1000"})));
  // Nothing names the dead node any more.
  for (const auto& k : keys()) EXPECT_EQ(k.find(a), std::string::npos) << k;
  auto dave = call({"HGETALL", prefix_ + ":u:dave"});
  for (const auto& f : dave.elements) EXPECT_EQ(f.str.find(a), std::string::npos) << f.str;
  EXPECT_EQ(call({"HGET", prefix_ + ":u:dave", "!n"}).str, "1");
}

TEST_F(PresenceLua, TheSequenceNeverGoesBackEvenWhenRedisLosesTheCounter) {
  auto a = register_node("a");
  auto first = connect(a, "u1", "s1");
  ASSERT_TRUE(first);
  EXPECT_GT(first->seq, 1'000'000'000'000'000ULL);  // a new counter starts from the clock
  call({"DEL", prefix_ + ":seq"});
  floor_ = first->seq + 500;  // a node saw a higher one
  auto second = connect(a, "u2", "s2");
  ASSERT_TRUE(second);
  EXPECT_GT(second->seq, first->seq + 500);
}

// Many users, three nodes, random interleavings of connects, disconnects,
// sweeps and a node death: per user the transitions alternate, starting
// online, and their seq grows; every seq is unique; at the end nothing
// names a dead node and no user is left.
TEST_F(PresenceLua, RandomInterleavingsGiveAlternatingTransitionsWithGrowingSeq) {
  std::vector<std::string> nodes{register_node("n1"), register_node("n2"), register_node("n3")};
  std::mt19937 rng(12345);
  struct Conn {
    std::string node, user, sid;
  };
  std::vector<Conn> open;
  std::map<std::string, std::vector<Transition>> seen;
  std::set<unsigned long long> seqs;
  auto record = [&](const Transition& t) {
    seen[t.user].push_back(t);
    EXPECT_TRUE(seqs.insert(t.seq).second) << "seq " << t.seq << " twice";
  };
  int next_sid = 0;
  bool killed = false;
  for (int step = 0; step < 3000; ++step) {
    int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      auto& node = nodes[rng() % nodes.size()];
      std::string user = "u" + std::to_string(rng() % 40);
      std::string sid = "s" + std::to_string(next_sid++);
      if (auto t = connect(node, user, sid)) record(*t);
      open.push_back({node, user, sid});
    } else if (op < 9 && !open.empty()) {
      std::size_t i = rng() % open.size();
      disconnect(open[i].node, open[i].user, open[i].sid, 0);
      open.erase(open.begin() + static_cast<long>(i));
    } else {
      for (const auto& t : sweep(nodes[rng() % nodes.size()])) record(t);
    }
    if (step == 1500 && !killed) {
      // n3 dies with its connections.
      killed = true;
      eval(lua::leave(), {nodes[2]});
      std::erase_if(open, [&](const Conn& c) { return c.node == nodes[2]; });
      nodes.pop_back();
    }
  }
  for (const auto& c : open) disconnect(c.node, c.user, c.sid, 0);
  for (const auto& t : sweep(nodes[0])) record(t);
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_GT(seqs.size(), 300u) << "too few transitions to say much";
  for (const auto& [user, ts] : seen) {
    for (std::size_t i = 0; i < ts.size(); ++i) {
      EXPECT_EQ(ts[i].type, i % 2 == 0 ? "online" : "offline") << user << " #" << i;
      if (i > 0) EXPECT_GT(ts[i].seq, ts[i - 1].seq) << user;
    }
    EXPECT_EQ(ts.back().type, "offline") << user;
  }
  EXPECT_EQ(keys(), (std::vector<std::string>{"epoch", "gen", "node:" + nodes[0], "node:" + nodes[1],
                                              "nodes", "outbox", "seq"}));
}

}  // namespace
}  // namespace rollcall::cluster
