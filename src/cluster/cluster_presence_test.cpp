// ClusterPresence: two nodes (two instances, each with its own thread and
// Redis connections) on a real Redis (127.0.0.1:$REDIS_PORT; FAIL without
// one), with a key prefix of their own.
#include "cluster/cluster_presence.hpp"
#include "redis/redis_client.hpp"
#include "redis/test_support.hpp"
#include "run_until.hpp"

#include <gtest/gtest.h>

#include <set>

#include <unistd.h>

#include <condition_variable>
#include <future>
#include <algorithm>
#include <map>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

namespace rollcall::cluster {
namespace {

using namespace std::chrono_literals;

// Every transition any node announced, in the order they were announced.
struct Journal {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<PresenceEvent> events;
  std::vector<std::string> org_events;  // "org/user/status"

  void add(const PresenceEvent& e) {
    std::lock_guard lock(mutex);
    events.push_back(e);
    changed.notify_all();
  }
  // Waits (5 s at most) until `n` events were announced.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 5s, [&] { return events.size() >= n; });
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
};

class ClusterPresenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("REDIS_PORT");
    if (env == nullptr || *env == '\0') FAIL() << "REDIS_PORT not set: start Redis with scripts/services.sh";
    port_ = static_cast<std::uint16_t>(std::atoi(env));
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    prefix_ = std::string("rollcall-test:") + info->name() + ":" + std::to_string(::getpid());
    drop_keys();
  }
  void TearDown() override {
    nodes_.clear();
    drop_keys();
  }

  std::vector<redis::RedisValue> redis(std::vector<std::vector<std::string>> commands) {
    return redis::testing::run_commands(port_, std::move(commands));
  }
  void drop_keys() {
    auto keys = redis({{"KEYS", prefix_ + ":*"}});
    for (auto& k : keys[0].elements) redis({{"DEL", k.str}});
  }

  ClusterPresence& node(const std::string& id) {
    PresenceConfig cfg;
    cfg.redis.port = port_;
    cfg.prefix = prefix_;
    cfg.node_id = id;
    cfg.lease = 600ms;
    cfg.grace = 100ms;
    auto p = std::make_unique<ClusterPresence>(cfg, [this](const std::string& org, const std::string& user,
                                                           const char* status) {
      std::lock_guard lock(journal_.mutex);
      journal_.org_events.push_back(org + "/" + user + "/" + status);
    });
    p->on_online([this](const PresenceEvent& e) { journal_.add(e); });
    p->on_offline([this](const PresenceEvent& e) { journal_.add(e); });
    p->start();
    nodes_.push_back(std::move(p));
    return *nodes_.back();
  }

  static ConnectionInfo conn(const std::string& sid) {
    ConnectionInfo c;
    c.socket_id = sid;
    c.nsp = "/";
    c.transport = "websocket";
    return c;
  }

  // Until a query sees the node registered (its first connects wait for it).
  bool registered(ClusterPresence& p) {
    for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
      if (p.store_health().ok) return true;
      std::unique_lock lock(journal_.mutex);
      journal_.changed.wait_for(lock, 10ms);
    }
    return false;
  }

  std::uint16_t port_ = 0;
  std::string prefix_;
  Journal journal_;
  std::vector<std::unique_ptr<ClusterPresence>> nodes_;
};

TEST_F(ClusterPresenceTest, ConnectionsOnTwoNodesGiveOneOnlineAndOneOfflineForTheCluster) {
  auto& a = node("a");
  auto& b = node("b");
  ASSERT_TRUE(registered(a));
  ASSERT_TRUE(registered(b));
  User alice{"alice", "Alice", {{"acme", "admin"}}};
  a.connected(alice, conn("s1"));
  b.connected(alice, conn("s2"));
  ASSERT_TRUE(journal_.wait_for(1));
  // Both connects are in once a query sees two connections.
  std::optional<UserPresence> seen;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    seen = b.get("alice");
    if (seen && seen->connections.size() == 2) break;
  }
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->connections.size(), 2u);
  EXPECT_EQ(seen->name, "Alice");
  std::vector<std::string> nodes{seen->connections[0].node, seen->connections[1].node};
  std::sort(nodes.begin(), nodes.end());
  EXPECT_EQ(nodes, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(a.is_online("alice"));
  EXPECT_EQ(a.online_in_org("acme").size(), 1u);
  std::promise<std::optional<std::vector<UserPresence>>> async;
  b.online_in_org_async("acme", [&](std::optional<std::vector<UserPresence>> users) { async.set_value(users); });
  auto answer = async.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  auto users = answer.get();
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].user, "alice");
  EXPECT_EQ((*users)[0].connections.size(), 2u);
  EXPECT_EQ(a.online_count(), 1u);

  a.disconnected("alice", "s1");
  b.disconnected("alice", "s2");
  ASSERT_TRUE(journal_.wait_for(2));
  std::lock_guard lock(journal_.mutex);
  ASSERT_EQ(journal_.events.size(), 2u);
  EXPECT_EQ(journal_.events[0].type, "user.online");
  EXPECT_EQ(journal_.events[1].type, "user.offline");
  EXPECT_GT(journal_.events[1].seq, journal_.events[0].seq);
  EXPECT_EQ(journal_.org_events, (std::vector<std::string>{"acme/alice/online", "acme/alice/offline"}));
}

TEST_F(ClusterPresenceTest, ANodeThatStopsIsReapedByTheOtherAndOnlyItsUsersGoOffline) {
  auto& a = node("a");
  auto& b = node("b");
  ASSERT_TRUE(registered(a));
  ASSERT_TRUE(registered(b));
  a.connected(User{"only-a", "", {}}, conn("s1"));
  a.connected(User{"both", "", {}}, conn("s2"));
  b.connected(User{"both", "", {}}, conn("s3"));
  ASSERT_TRUE(journal_.wait_for(2));
  // a goes away holding its connections (its sockets' disconnects never
  // come): its lease ends, b reaps it.
  nodes_.front()->stop();
  ASSERT_TRUE(journal_.wait_for(3));
  {
    std::lock_guard lock(journal_.mutex);
    ASSERT_EQ(journal_.events.size(), 3u);
    EXPECT_EQ(journal_.events[2].type, "user.offline");
    EXPECT_EQ(journal_.events[2].user, "only-a");
  }
  EXPECT_TRUE(b.is_online("both"));
  auto both = b.get("both");
  ASSERT_TRUE(both);
  ASSERT_EQ(both->connections.size(), 1u);
  EXPECT_EQ(both->connections[0].node, "b");
}

TEST_F(ClusterPresenceTest, AFencedNodeRegistersAgainUnderANewKeyAndSaysSo) {
  auto& a = node("a");
  ASSERT_TRUE(registered(a));
  std::mutex m;
  std::condition_variable cv;
  bool fenced = false;
  a.on_fenced([&] {
    std::lock_guard lock(m);
    fenced = true;
    cv.notify_all();
  });
  // The cluster declares a dead while it is "frozen": its entry is gone.
  auto nodes = redis({{"ZRANGE", prefix_ + ":nodes", "0", "-1"}});
  ASSERT_EQ(nodes[0].elements.size(), 1u);
  std::string old_key = nodes[0].elements[0].str;
  redis({{"ZREM", prefix_ + ":nodes", old_key}});
  std::unique_lock lock(m);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return fenced; }));
  lock.unlock();
  auto now = redis({{"ZRANGE", prefix_ + ":nodes", "0", "-1"}});
  ASSERT_EQ(now[0].elements.size(), 1u);
  EXPECT_NE(now[0].elements[0].str, old_key);
  EXPECT_EQ(now[0].elements[0].str.rfind("a#", 0), 0u);
}


TEST_F(ClusterPresenceTest, AfterRedisLostItsDataConnectedUsersGetNoEventAndLaterOnesAlternate) {
  auto& a = node("a");
  auto& b = node("b");
  ASSERT_TRUE(registered(a));
  ASSERT_TRUE(registered(b));
  bool fenced = false;
  a.on_fenced([&] { fenced = true; });
  b.on_fenced([&] { fenced = true; });
  a.connected(User{"stays", "", {{"acme", "m"}}}, conn("s1"));
  b.connected(User{"stays", "", {{"acme", "m"}}}, conn("s2"));
  a.connected(User{"leaves", "", {}}, conn("s3"));
  ASSERT_TRUE(journal_.wait_for(2));
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    auto s = b.get("stays");
    if (s && s->connections.size() == 2) break;
  }
  std::uint64_t last_seq = 0;
  {
    std::lock_guard lock(journal_.mutex);
    for (const auto& e : journal_.events) last_seq = std::max(last_seq, e.seq);
  }
  // Redis loses everything of the cluster (a restart without persistence).
  drop_keys();
  // Both nodes notice at their next renew and put their connections back.
  std::optional<UserPresence> stays;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    stays = a.get("stays");
    if (stays && stays->connections.size() == 2 && a.is_online("leaves")) break;
  }
  ASSERT_TRUE(stays);
  EXPECT_EQ(stays->connections.size(), 2u);
  EXPECT_TRUE(stays->online);
  EXPECT_EQ(a.online_in_org("acme").size(), 1u);
  EXPECT_EQ(journal_.size(), 2u) << "no event for users who stayed connected";
  EXPECT_FALSE(fenced) << "clients stay connected";
  // Later transitions alternate and their seq keeps growing.
  a.disconnected("leaves", "s3");
  ASSERT_TRUE(journal_.wait_for(3));
  std::lock_guard lock(journal_.mutex);
  ASSERT_EQ(journal_.events.size(), 3u);
  EXPECT_EQ(journal_.events[2].type, "user.offline");
  EXPECT_EQ(journal_.events[2].user, "leaves");
  EXPECT_GT(journal_.events[2].seq, last_seq);
}

TEST_F(ClusterPresenceTest, AfterRedisDroppedItsScriptCacheNoticesAreAppliedInOrder) {
  auto& a = node("a");
  ASSERT_TRUE(registered(a));
  a.connected(User{"u1", "", {}}, conn("s1"));
  ASSERT_TRUE(journal_.wait_for(1));
  redis({{"SCRIPT", "FLUSH"}});
  // A pipelined burst meets the empty cache: connect and disconnect of s2,
  // disconnect of s1, in this order.
  a.connected(User{"u2", "", {}}, conn("s2"));
  a.disconnected("u2", "s2");
  a.disconnected("u1", "s1");
  ASSERT_TRUE(journal_.wait_for(4));
  std::lock_guard lock(journal_.mutex);
  ASSERT_EQ(journal_.events.size(), 4u);
  std::map<std::string, std::vector<std::string>> per_user;
  for (const auto& e : journal_.events) per_user[e.user].push_back(e.type);
  EXPECT_EQ(per_user["u1"], (std::vector<std::string>{"user.online", "user.offline"}));
  EXPECT_EQ(per_user["u2"], (std::vector<std::string>{"user.online", "user.offline"}));
}

TEST_F(ClusterPresenceTest, OperatorViewsSeeTheWholeClusterFromAnyNode) {
  auto& a = node("a");
  auto& b = node("b");
  ASSERT_TRUE(registered(a));
  ASSERT_TRUE(registered(b));
  for (const char* id : {"ann", "bob", "cid"}) a.connected(User{id, id, {}}, conn(std::string(id) + "-a"));
  b.connected(User{"ann", "ann", {}}, conn("ann-b"));
  ASSERT_TRUE(journal_.wait_for(3));
  // Until b's connect has landed too.
  std::optional<std::uint64_t> total;
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    total = b.connection_total();
    if (total == 4u) break;
  }
  EXPECT_EQ(total, 4u);

  auto nodes = b.nodes();
  ASSERT_TRUE(nodes);
  ASSERT_EQ(nodes->size(), 2u);
  std::map<std::string, NodeInfo> by_id;
  for (const auto& n : *nodes) by_id[n.id] = n;
  EXPECT_EQ(by_id["a"].connections, 3u);
  EXPECT_EQ(by_id["b"].connections, 1u);
  EXPECT_TRUE(by_id["b"].self);
  EXPECT_FALSE(by_id["a"].self);
  EXPECT_GE(by_id["a"].lease_age_ms, 0);
  EXPECT_LT(by_id["a"].lease_age_ms, 600);

  std::set<std::string> seen;
  std::string cursor;
  for (int i = 0; i < 100; ++i) {
    auto page = a.list_online(cursor, 1);
    ASSERT_TRUE(page);
    for (const auto& u : page->users) seen.insert(u.user);
    if (page->next.empty()) break;
    cursor = page->next;
  }
  EXPECT_EQ(seen, (std::set<std::string>{"ann", "bob", "cid"}));

  a.disconnected("bob", "bob-a");
  ASSERT_TRUE(journal_.wait_for(4));
  // Each node keeps the transitions it announced: together, all four, once.
  auto recent = a.recent_transitions(10);
  for (auto& e : b.recent_transitions(10)) recent.push_back(e);
  std::sort(recent.begin(), recent.end(), [](const auto& x, const auto& y) { return x.seq > y.seq; });
  ASSERT_EQ(recent.size(), 4u);
  EXPECT_EQ(recent[0].type, "user.offline");
  EXPECT_EQ(recent[0].user, "bob");
  EXPECT_EQ(a.metrics().online + b.metrics().online, 3u);
  EXPECT_EQ(a.metrics().offline + b.metrics().offline, 1u);

  // Webhooks are off here: the queue is empty and says so.
  auto q = a.webhook_queue();
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->enabled);
  EXPECT_EQ(q->pending, 0u);
}

}  // namespace
}  // namespace rollcall::cluster
