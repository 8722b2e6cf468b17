// StreamOutbox on a real Redis (127.0.0.1:$REDIS_PORT; FAIL without one):
// one leader at a time, removal only by the leader, dead letters, and the
// keys gone once everything is settled.
#include "cluster/stream_outbox.hpp"
#include "redis/redis_client.hpp"
#include "redis/test_support.hpp"
#include "run_until.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace rollcall::cluster {
namespace {

using namespace std::chrono_literals;

class StreamOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("REDIS_PORT");
    if (env == nullptr || *env == '\0') FAIL() << "REDIS_PORT not set: start Redis with scripts/services.sh";
    cfg_.port = static_cast<std::uint16_t>(std::atoi(env));
    prefix_ = std::string("rollcall-test:outbox:") + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
              ":" + std::to_string(::getpid());
    drop();
  }
  void TearDown() override { drop(); }

  std::vector<redis::RedisValue> redis(std::vector<std::vector<std::string>> commands) {
    return redis::testing::run_commands(cfg_.port, std::move(commands));
  }
  void drop() {
    auto found = redis({{"KEYS", prefix_ + ":*"}});
    for (auto& k : found[0].elements) redis({{"DEL", k.str}});
  }
  // An event as the presence scripts write it.
  void add(const std::string& id, const std::string& user, int seq) {
    redis({{"XADD", prefix_ + ":outbox", "*", "id", id, "type", "user.online", "user", user, "seq",
            std::to_string(seq), "at", "1000", "connections", "1"}});
  }
  std::vector<std::string> keys() {
    std::vector<std::string> out;
    auto found = redis({{"KEYS", prefix_ + ":*"}});
    for (auto& k : found[0].elements) out.push_back(k.str.substr(prefix_.size() + 1));
    std::sort(out.begin(), out.end());
    return out;
  }

  redis::RedisConfig cfg_;
  std::string prefix_;
};

TEST_F(StreamOutboxTest, OneLeaderSendsInStreamOrderAndOnlyItRemoves) {
  StreamOutbox a(cfg_, prefix_, "a/1", 60000ms);
  StreamOutbox b(cfg_, prefix_, "b/1", 60000ms);
  add("e1", "alice", 1);
  add("e2", "bob", 2);
  auto got = a.pending(10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(a.leader());
  EXPECT_EQ(got[0].id, "e1");
  EXPECT_EQ(got[1].id, "e2");
  EXPECT_EQ(got[1].user, "bob");
  EXPECT_EQ(got[1].seq, 2u);
  EXPECT_GT(got[0].created_ms, 0);
  EXPECT_TRUE(b.pending(10).empty()) << "a leads";
  EXPECT_FALSE(b.leader());
  EXPECT_FALSE(b.renew());

  a.attempted({got[0].rowid});
  auto again = a.pending(10);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].attempts, 1u);
  a.delivered({again[0].rowid, again[1].rowid});
  EXPECT_TRUE(a.pending(10).empty());
  a.release();
  EXPECT_FALSE(a.leader());
  EXPECT_EQ(keys(), std::vector<std::string>{}) << "delivered and released: nothing left";
}

TEST_F(StreamOutboxTest, AfterTheLeaderIsGoneTheNextSendsTheBatchAgainAndTheOldOneRemovesNothing) {
  StreamOutbox a(cfg_, prefix_, "a/1", 200ms);
  StreamOutbox b(cfg_, prefix_, "b/1", 200ms);
  add("e1", "alice", 1);
  auto first = a.pending(10);
  ASSERT_EQ(first.size(), 1u);
  // a freezes past its lead: b takes over and sends the same event.
  std::vector<hooks::OutboxEvent> taken;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       taken.empty() && std::chrono::steady_clock::now() < deadline;) {
    taken = b.pending(10);
  }
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].id, "e1");
  // a wakes and reports its request as answered: not its to remove.
  a.delivered({first[0].rowid});
  EXPECT_FALSE(a.leader());
  auto still = b.pending(10);
  ASSERT_EQ(still.size(), 1u) << "still there for b";
  b.delivered({still[0].rowid});
  EXPECT_TRUE(b.pending(10).empty());
}

TEST_F(StreamOutboxTest, DeadLettersMoveToACappedStreamNewestFirst) {
  StreamOutbox a(cfg_, prefix_, "a/1", 60000ms);
  add("e1", "alice", 1);
  add("e2", "bob", 2);
  auto got = a.pending(10);
  ASSERT_EQ(got.size(), 2u);
  a.attempted({got[0].rowid, got[1].rowid});
  a.dead_letter({got[0].rowid, got[1].rowid}, "HTTP 500; too old");
  EXPECT_TRUE(a.pending(10).empty());
  auto dead = a.dead(10);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].event.id, "e2");
  EXPECT_EQ(dead[1].event.id, "e1");
  EXPECT_EQ(dead[1].event.attempts, 1u);
  EXPECT_EQ(dead[1].reason, "HTTP 500; too old");
  EXPECT_GT(dead[1].dead_ms, 0);
  a.release();
  EXPECT_EQ(keys(), std::vector<std::string>{"outbox:dead"});
}

TEST_F(StreamOutboxTest, DeadLettersRequeuedGoToTheEndWithoutTheirDeadFields) {
  StreamOutbox a(cfg_, prefix_, "a/1", 60000ms);
  add("e1", "alice", 1);
  add("e2", "bob", 2);
  auto got = a.pending(10);
  ASSERT_EQ(got.size(), 2u);
  a.attempted({got[0].rowid});
  a.dead_letter({got[0].rowid}, "HTTP 500");
  add("e3", "cid", 3);
  auto c = a.counts();
  EXPECT_EQ(c.pending, 2u);
  EXPECT_EQ(c.dead, 1u);
  EXPECT_EQ(a.requeue_dead(), 1u);
  c = a.counts();
  EXPECT_EQ(c.pending, 3u);
  EXPECT_EQ(c.dead, 0u);
  EXPECT_EQ(c.retrying, 0u);
  std::vector<std::string> order;
  for (const auto& e : a.pending(10)) {
    order.push_back(e.id);
    EXPECT_EQ(e.attempts, 0u);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"e2", "e3", "e1"}));
  auto raw = redis({{"XRANGE", prefix_ + ":outbox", "-", "+"}});
  const auto& fields = raw[0].elements.back().elements[1].elements;
  for (std::size_t i = 0; i < fields.size(); i += 2) {
    EXPECT_NE(fields[i].str, "reason");
    EXPECT_NE(fields[i].str, "dead");
  }
  a.release();
}

}  // namespace
}  // namespace rollcall::cluster
