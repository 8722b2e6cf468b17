#include "presence/tracker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <unistd.h>

namespace rollcall::detail {
namespace {

using namespace std::chrono_literals;

// Collects transitions; every wait has a deadline.
struct Recorder {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<PresenceEvent> events;
  std::vector<std::string> org_events;

  void add(const PresenceEvent& e) {
    std::lock_guard lock(mutex);
    events.push_back(e);
    cv.notify_all();
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds deadline = 5s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, deadline, [&] { return events.size() >= n; });
  }
  std::vector<PresenceEvent> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
};

std::unique_ptr<PresenceTracker> make_tracker(Recorder& rec, std::chrono::milliseconds grace,
                                              std::shared_ptr<PresenceStore> store = nullptr) {
  PresenceOptions o;
  o.grace = grace;
  o.store = std::move(store);
  auto t = std::make_unique<PresenceTracker>(
      o, [&rec](const std::string& org, const std::string& user, const char* status) {
        std::lock_guard lock(rec.mutex);
        rec.org_events.push_back(org + ":" + user + ":" + status);
      });
  t->on_online([&rec](const PresenceEvent& e) { rec.add(e); });
  t->on_offline([&rec](const PresenceEvent& e) { rec.add(e); });
  t->start();
  return t;
}

ConnectionInfo conn(const std::string& id) {
  ConnectionInfo c;
  c.socket_id = id;
  c.nsp = "/";
  c.transport = "websocket";
  return c;
}

// Waits until the tracker has processed everything posted so far.
void drain(PresenceTracker& t) { ASSERT_TRUE(t.run_on_thread([] {}, 5s)); }

TEST(PresenceTracker, SeveralTabsGiveOneOnlineAndOneOfflineAfterTheGrace) {
  Recorder rec;
  auto t = make_tracker(rec, 100ms);
  User alice{"alice", "Alice", {{"acme", "admin"}}};
  t->connected(alice, conn("s1"));
  t->connected(alice, conn("s2"));
  t->connected(alice, conn("s3"));
  ASSERT_TRUE(rec.wait_for_count(1));
  t->disconnected("alice", "s1");
  t->disconnected("alice", "s2");
  drain(*t);
  EXPECT_TRUE(t->is_online("alice"));
  EXPECT_EQ(t->get("alice")->connections.size(), 1u);
  t->disconnected("alice", "s3");
  ASSERT_TRUE(rec.wait_for_count(2));
  auto ev = rec.snapshot();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "user.online");
  EXPECT_EQ(ev[1].type, "user.offline");
  EXPECT_LT(ev[0].seq, ev[1].seq);
  EXPECT_EQ(ev[1].connections, 0u);
  EXPECT_FALSE(t->is_online("alice"));
  std::lock_guard lock(rec.mutex);
  EXPECT_EQ(rec.org_events, (std::vector<std::string>{"acme:alice:online", "acme:alice:offline"}));
}

TEST(PresenceTracker, ConnectionDetailsComeBackAsGivenInConnectionOrder) {
  Recorder rec;
  auto t = make_tracker(rec, 100ms);
  User carol{"carol", "", {}};
  ConnectionInfo a{"sock-a", "/chat", "polling", std::string(3000, 'u'), "::ffff:10.0.0.7", 17};
  ConnectionInfo b{"sock-b", "/", "websocket", "", "", 18};  // empty fields too
  ConnectionInfo a2 = a;
  a2.transport = "websocket";  // the same socket again replaces its details
  t->connected(carol, a);
  t->connected(carol, b);
  t->connected(carol, a2);
  drain(*t);
  auto p = t->get("carol");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->connections.size(), 2u);
  for (const auto& [got, want] : {std::pair{p->connections[0], a2}, std::pair{p->connections[1], b}}) {
    EXPECT_EQ(got.socket_id, want.socket_id);
    EXPECT_EQ(got.nsp, want.nsp);
    EXPECT_EQ(got.transport, want.transport);
    EXPECT_EQ(got.user_agent, want.user_agent);
    EXPECT_EQ(got.address, want.address);
    EXPECT_EQ(got.since_ms, want.since_ms);
  }
}

TEST(PresenceTracker, ReconnectWithinTheGraceProducesNoEvents) {
  Recorder rec;
  auto t = make_tracker(rec, 300ms);
  User bob{"bob", "", {}};
  t->connected(bob, conn("a"));
  ASSERT_TRUE(rec.wait_for_count(1));
  t->disconnected("bob", "a");
  t->connected(bob, conn("b"));  // a reload
  drain(*t);
  // Bounded wait for an event that must not come.
  EXPECT_FALSE(rec.wait_for_count(2, 600ms));
  EXPECT_TRUE(t->is_online("bob"));
}

TEST(PresenceTracker, ConcurrentConnectsAndDisconnectsAlternateStrictly) {
  Recorder rec;
  auto t = make_tracker(rec, 20ms);
  constexpr int kUsers = 50, kConns = 5, kRounds = 3;
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&, th] {
      std::mt19937 rng(static_cast<unsigned>(th));
      for (int r = 0; r < kRounds; ++r) {
        for (int u = th; u < kUsers; u += 4) {
          std::string id = "u" + std::to_string(u);
          for (int c = 0; c < kConns; ++c) t->connected(User{id, "", {}}, conn(id + "-" + std::to_string(r) + "-" + std::to_string(c)));
          if (rng() % 2) std::this_thread::yield();
          for (int c = 0; c < kConns; ++c) t->disconnected(id, id + "-" + std::to_string(r) + "-" + std::to_string(c));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  drain(*t);  // notices wait up to kGroupWindow for their group: apply them now
  // Every user ends offline: wait until there is no one online.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (t->online_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    drain(*t);
  }
  ASSERT_EQ(t->online_count(), 0u);
  drain(*t);
  std::map<std::string, std::vector<PresenceEvent>> per_user;
  for (auto& e : rec.snapshot()) per_user[e.user].push_back(e);
  ASSERT_EQ(per_user.size(), static_cast<std::size_t>(kUsers));
  for (auto& [user, evs] : per_user) {
    ASSERT_FALSE(evs.empty());
    for (std::size_t i = 0; i < evs.size(); ++i) {
      EXPECT_EQ(evs[i].type, i % 2 == 0 ? "user.online" : "user.offline") << user;
      if (i > 0) {
        EXPECT_GT(evs[i].seq, evs[i - 1].seq) << user;
      }
    }
    EXPECT_EQ(evs.back().type, "user.offline") << user;
  }
}

// Counts the store's commits; everything else goes to a memory store.
class CountingStore final : public PresenceStore {
 public:
  std::vector<StoredUser> load_online() override { return inner_->load_online(); }
  std::uint64_t last_seq() override { return inner_->last_seq(); }
  bool record(const std::vector<Transition>& batch, bool enqueue, std::string& error) override {
    ++commits;
    transitions += batch.size();
    times.push_back(std::chrono::steady_clock::now());  // presence thread only
    return inner_->record(batch, enqueue, error);
  }
  std::vector<std::chrono::steady_clock::time_point> times;
  hooks::Outbox& outbox() override { return inner_->outbox(); }
  std::atomic<int> commits{0};
  std::atomic<std::size_t> transitions{0};

 private:
  std::shared_ptr<PresenceStore> inner_ = make_memory_store();
};

TEST(PresenceTracker, ConnectsArrivingTogetherShareOneCommitAndAllAreAnnounced) {
  Recorder rec;
  auto store = std::make_shared<CountingStore>();
  auto t = make_tracker(rec, 100ms, store);
  constexpr int kUsers = 200;
  for (int i = 0; i < kUsers; ++i) t->connected(User{"g" + std::to_string(i), "", {}}, conn("s" + std::to_string(i)));
  ASSERT_TRUE(rec.wait_for_count(kUsers));
  EXPECT_EQ(store->transitions.load(), static_cast<std::size_t>(kUsers));
  // Queued within a few milliseconds: a handful of groups, not one commit each.
  EXPECT_LT(store->commits.load(), kUsers / 4);
  for (int i = 0; i < kUsers; ++i) EXPECT_TRUE(t->is_online("g" + std::to_string(i)));
  t->stop();
}

TEST(PresenceTracker, UnderAStreamOfConnectsCommitsAreAtLeastTheCommitIntervalApart) {
  Recorder rec;
  auto store = std::make_shared<CountingStore>();
  auto t = make_tracker(rec, 100ms, store);
  // A connect every 2 ms for about 300 ms (the pause spreads the load over
  // time; nothing waits on it).
  constexpr int kUsers = 150;
  for (int i = 0; i < kUsers; ++i) {
    t->connected(User{"r" + std::to_string(i), "", {}}, conn("s" + std::to_string(i)));
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_TRUE(rec.wait_for_count(kUsers));
  ASSERT_TRUE(t->run_on_thread([] {}, 5s));
  t->stop();
  EXPECT_EQ(store->transitions.load(), static_cast<std::size_t>(kUsers));
  const auto& times = store->times;
  ASSERT_GE(times.size(), 2u);
  for (std::size_t i = 1; i < times.size(); ++i) {
    EXPECT_GE(times[i] - times[i - 1], PresenceTracker::kCommitInterval) << "commit " << i;
  }
}

// Fails every write while `failing` is set, as SQLite does on a full disk;
// otherwise writes to a memory store. Counts the failed attempts.
class FailingStore final : public PresenceStore {
 public:
  std::vector<StoredUser> load_online() override { return inner_->load_online(); }
  std::uint64_t last_seq() override { return inner_->last_seq(); }
  bool record(const std::vector<Transition>& batch, bool enqueue, std::string& error) override {
    if (failing) {
      std::lock_guard lock(mutex_);
      ++failures_;
      cv_.notify_all();
      error = "step: database or disk is full";
      return false;
    }
    return inner_->record(batch, enqueue, error);
  }
  hooks::Outbox& outbox() override { return inner_->outbox(); }
  bool wait_for_failures(int n, std::chrono::milliseconds deadline = 5s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, deadline, [&] { return failures_ >= n; });
  }
  std::atomic<bool> failing{true};
  std::shared_ptr<PresenceStore> inner_ = make_memory_store();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int failures_ = 0;
};

TEST(PresenceTracker, AFailingStoreDelaysTransitionsUntilStoredThenAnnouncesThemInOrder) {
  Recorder rec;
  auto store = std::make_shared<FailingStore>();
  auto t = make_tracker(rec, 50ms, store);
  for (int i = 0; i < 10; ++i) {
    t->connected(User{"f" + std::to_string(i), "", {{"acme", ""}}}, conn("s" + std::to_string(i)));
  }
  // Stored first, announced after: while writes fail, nobody hears a thing.
  ASSERT_TRUE(store->wait_for_failures(1));
  drain(*t);
  t->disconnected("f0", "s0");  // its offline joins the queue after the grace
  ASSERT_TRUE(store->wait_for_failures(3));  // retried, not given up
  drain(*t);
  EXPECT_TRUE(rec.snapshot().empty());
  {
    std::lock_guard lock(rec.mutex);
    EXPECT_TRUE(rec.org_events.empty());
  }
  auto h = t->store_health();
  EXPECT_FALSE(h.ok);
  EXPECT_GE(h.unstored, 10u);
  EXPECT_EQ(h.lost, 0u);
  EXPECT_NE(h.error.find("disk is full"), std::string::npos);
  EXPECT_GT(h.failing_since_ms, 0);
  EXPECT_TRUE(t->is_online("f3"));  // queries see the live state meanwhile

  store->failing = false;
  ASSERT_TRUE(rec.wait_for_count(11));
  auto ev = rec.snapshot();
  ASSERT_EQ(ev.size(), 11u);
  for (std::size_t i = 1; i < ev.size(); ++i) EXPECT_GT(ev[i].seq, ev[i - 1].seq) << i;
  EXPECT_EQ(ev.back().type, "user.offline");
  EXPECT_EQ(ev.back().user, "f0");
  EXPECT_EQ(store->inner_->load_online().size(), 9u);  // f0's insert and delete both stored
  h = t->store_health();
  EXPECT_TRUE(h.ok);
  EXPECT_EQ(h.unstored, 0u);
  EXPECT_TRUE(h.error.empty());
  EXPECT_FALSE(rec.wait_for_count(12, 200ms));  // each announced once
  t->stop();
}

TEST(PresenceTracker, RestartGivesOfflineToUsersWhoDoNotReturn) {
  auto path = std::filesystem::temp_directory_path() /
              ("rollcall-tracker-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  std::uint64_t online_seq = 0;
  {
    Recorder rec;
    auto t = make_tracker(rec, 100ms, open_sqlite_store(path.string()));
    t->connected(User{"carol", "", {}}, conn("c1"));
    t->connected(User{"dave", "", {}}, conn("d1"));
    ASSERT_TRUE(rec.wait_for_count(2));
    online_seq = std::max(rec.snapshot()[0].seq, rec.snapshot()[1].seq);
    t->stop();  // as after a crash: nobody went offline
  }
  Recorder rec;
  auto t = make_tracker(rec, 200ms, open_sqlite_store(path.string()));
  EXPECT_TRUE(t->is_online("carol"));
  t->connected(User{"dave", "", {}}, conn("d2"));  // dave comes back in time
  ASSERT_TRUE(rec.wait_for_count(1));
  EXPECT_FALSE(rec.wait_for_count(2, 500ms));
  auto ev = rec.snapshot();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user, "carol");
  EXPECT_EQ(ev[0].type, "user.offline");
  EXPECT_GT(ev[0].seq, online_seq);  // seq keeps growing across the restart
  EXPECT_TRUE(t->is_online("dave"));
  t->stop();
  std::filesystem::remove(path);
}

TEST(PresenceTracker, OperatorViewsPageUsersCountConnectionsAndKeepTheNewestTransitions) {
  Recorder rec;
  auto t = make_tracker(rec, 50ms);
  for (const char* id : {"dora", "ann", "cid", "bob", "eve"}) t->connected(User{id, id, {}}, conn(std::string(id) + "-1"));
  t->connected(User{"ann", "ann", {}}, conn("ann-2"));
  ASSERT_TRUE(rec.wait_for_count(5));
  drain(*t);
  EXPECT_EQ(t->connection_total(), 6u);

  // Pages in id order; the cursor is the last id of the previous page.
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;; ++pages) {
    auto page = t->list_online(cursor, 2);
    ASSERT_TRUE(page);
    for (const auto& u : page->users) seen.push_back(u.user);
    if (page->next.empty()) break;
    cursor = page->next;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ann", "bob", "cid", "dora", "eve"}));
  EXPECT_EQ(pages, 2);  // 2 + 2 + 1
  EXPECT_EQ(t->list_online("", 10)->users[0].connections.size(), 2u);

  t->disconnected("bob", "bob-1");
  ASSERT_TRUE(rec.wait_for_count(6));
  drain(*t);
  EXPECT_EQ(t->connection_total(), 5u);
  auto recent = t->recent_transitions(3);
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].type, "user.offline");  // newest first
  EXPECT_EQ(recent[0].user, "bob");
  EXPECT_GT(recent[0].seq, recent[1].seq);
  auto m = t->metrics();
  EXPECT_EQ(m.online, 5u);
  EXPECT_EQ(m.offline, 1u);
  auto nodes = t->nodes();
  ASSERT_TRUE(nodes);
  ASSERT_EQ(nodes->size(), 1u);
  EXPECT_TRUE((*nodes)[0].self);
  EXPECT_EQ((*nodes)[0].connections, 5u);
}

TEST(PresenceTracker, DeadLettersGoBackToTheQueueWhenRetried) {
  auto dir = std::filesystem::temp_directory_path() / ("rollcall-tracker-retry-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto store = open_sqlite_store((dir / "presence.db").string());
  auto& outbox = store->outbox();
  for (int i = 1; i <= 3; ++i) {
    Transition t;
    t.kind = TransitionKind::online;
    t.event.id = "evt_" + std::to_string(i);
    t.event.type = "user.online";
    t.event.user = "u" + std::to_string(i);
    t.event.seq = static_cast<std::uint64_t>(i);
    t.row = StoredUser{t.event.user, "", {}, t.event.seq, 1};
    std::string error;
    ASSERT_TRUE(store->record({t}, true, error)) << error;
  }
  auto pending = outbox.pending(10);
  ASSERT_EQ(pending.size(), 3u);
  outbox.attempted({pending[2].rowid});
  outbox.dead_letter({pending[0].rowid, pending[1].rowid}, "HTTP 500");
  auto counts = outbox.counts();
  EXPECT_EQ(counts.pending, 1u);
  EXPECT_EQ(counts.retrying, 1u);
  EXPECT_EQ(counts.dead, 2u);
  ASSERT_TRUE(counts.oldest);
  EXPECT_EQ(counts.oldest->id, "evt_3");

  Recorder rec;
  auto t = make_tracker(rec, 50ms, store);
  auto q = t->webhook_queue();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->dead, 2u);
  EXPECT_EQ(t->retry_dead_letters(), 2u);
  q = t->webhook_queue();
  ASSERT_TRUE(q);
  EXPECT_EQ(q->dead, 0u);
  EXPECT_EQ(q->pending, 3u);
  EXPECT_EQ(q->retrying, 1u);  // the requeued ones start again at 0 attempts
  std::vector<std::string> order;
  ASSERT_TRUE(t->run_on_thread([&] {
    for (const auto& e : store->outbox().pending(10)) order.push_back(e.id);
  }, 5s));
  EXPECT_EQ(order, (std::vector<std::string>{"evt_3", "evt_1", "evt_2"}));  // after what was queued
  t.reset();
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rollcall::detail
