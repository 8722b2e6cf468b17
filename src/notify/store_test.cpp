// One suite for both notification stores: SQLite (a temporary file) and
// PostgreSQL (a fresh database on the test server of scripts/services.sh,
// PG_PORT; the PostgreSQL cases fail when it cannot be reached).
#include "notify/store.hpp"
#include "pg/connection.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <unistd.h>

namespace rollcall::notify {
namespace {

std::string pg_server_url(const std::string& db) {
  const char* port = std::getenv("PG_PORT");
  return "postgresql://postgres@127.0.0.1:" + std::string(port ? port : "15432") + "/" + db;
}

class StoreSuite : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    name_ = "rollcall_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    if (GetParam() == "sqlite") {
      dir_ = std::filesystem::temp_directory_path() / name_;
      std::filesystem::create_directories(dir_);
      url_ = "sqlite:" + (dir_ / "n.db").string();
    } else {
      std::string error;
      admin_ = pg::Connection::open(pg_server_url("postgres"), error);
      ASSERT_TRUE(admin_) << "PostgreSQL on PG_PORT (scripts/services.sh start): " << error;
      ASSERT_EQ(admin_->run("CREATE DATABASE " + name_), "");
      url_ = pg_server_url(name_);
    }
    store_ = open_store(url_);
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    if (admin_) admin_->run("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  }

  Stored add(const std::vector<Recipient>& to, std::string type = "t", std::string source = "") {
    NewNotification n;
    n.type = std::move(type);
    n.data = R"({"n":1})";
    n.detail = R"({"secret":true})";
    n.source = std::move(source);
    n.created_ms = 1700000000000 + static_cast<std::int64_t>(++clock_);
    return store_->insert(n, to);
  }

  std::string name_, url_;
  std::filesystem::path dir_;
  std::unique_ptr<pg::Connection> admin_;
  std::unique_ptr<Store> store_;
  int clock_ = 0;
};

TEST_P(StoreSuite, MembersArePutListedReplacedAndDeleted) {
  store_->put_member({"ann", "acme", "admin"});
  store_->put_member({"bob", "acme", "dev"});
  store_->put_member({"ann", "acme", "owner"});  // a new role replaces the old
  store_->put_member({"ann", "zeta", "dev"});
  auto acme = store_->members("acme");
  ASSERT_EQ(acme.size(), 2u);
  EXPECT_EQ(acme[0].user, "ann");
  EXPECT_EQ(acme[0].role, "owner");
  EXPECT_EQ(acme[1].user, "bob");
  EXPECT_EQ(store_->memberships("ann").size(), 2u);

  store_->replace_memberships("ann", {{"zeta", "admin"}, {"omega", "viewer"}});
  auto ann = store_->memberships("ann");
  ASSERT_EQ(ann.size(), 2u);
  EXPECT_EQ(ann[0].org, "omega");
  EXPECT_EQ(ann[1].org, "zeta");
  EXPECT_EQ(ann[1].role, "admin");
  EXPECT_EQ(store_->members("acme").size(), 1u);

  EXPECT_TRUE(store_->delete_member("acme", "bob"));
  EXPECT_FALSE(store_->delete_member("acme", "bob"));
  EXPECT_TRUE(store_->members("acme").empty());
  store_->replace_memberships("ann", {});
  EXPECT_TRUE(store_->memberships("ann").empty());
}

TEST_P(StoreSuite, IdsAndQuotesInNamesAreKeptAsGiven) {
  store_->put_member({"o'brien \"x\" \\ {a,b}", "org,1", "r"});
  auto m = store_->members("org,1");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].user, "o'brien \"x\" \\ {a,b}");
  add({{"o'brien \"x\" \\ {a,b}", false}});
  EXPECT_EQ(store_->list("o'brien \"x\" \\ {a,b}", std::nullopt, 10).size(), 1u);
}

TEST_P(StoreSuite, ListIsNewestFirstWithDetailOnlyForThoseAllowed) {
  auto first = add({{"ann", true}, {"bob", false}}, "first");
  auto second = add({{"ann", false}}, "second");
  EXPECT_GT(second.id, first.id);
  auto ann = store_->list("ann", std::nullopt, 10);
  ASSERT_EQ(ann.size(), 2u);
  EXPECT_EQ(ann[0].type, "second");
  EXPECT_FALSE(ann[0].detail.has_value());
  EXPECT_EQ(ann[1].type, "first");
  ASSERT_TRUE(ann[1].detail.has_value());
  EXPECT_EQ(ann[1].detail->at("secret").as_bool(), true);
  EXPECT_EQ(ann[1].data.at("n").as_int64(), 1);
  EXPECT_EQ(ann[1].created_ms, first.created_ms);
  EXPECT_FALSE(ann[1].read);
  auto bob = store_->list("bob", std::nullopt, 10);
  ASSERT_EQ(bob.size(), 1u);
  EXPECT_FALSE(bob[0].detail.has_value());
  EXPECT_TRUE(store_->list("carol", std::nullopt, 10).empty());
}

TEST_P(StoreSuite, CursorPagesHaveNoGapsOrRepeatsWhileNewOnesArrive) {
  std::vector<std::int64_t> expected;
  for (int i = 0; i < 25; ++i) expected.insert(expected.begin(), add({{"ann", false}}).id);
  std::vector<std::int64_t> seen;
  std::optional<std::int64_t> before;
  for (;;) {
    auto page = store_->list("ann", before, 10);
    for (const auto& n : page) seen.push_back(n.id);
    add({{"ann", false}});  // arrives between pages: newer than the cursor
    if (page.size() < 10) break;
    before = page.back().id;
  }
  EXPECT_EQ(seen, expected);
}

TEST_P(StoreSuite, ASourceIsStoredOnce) {
  auto a = add({{"ann", false}}, "t", "outbox:1:99");
  auto b = add({{"ann", false}, {"bob", false}}, "t", "outbox:1:99");
  EXPECT_FALSE(a.duplicate);
  EXPECT_TRUE(b.duplicate);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(store_->list("ann", std::nullopt, 10).size(), 1u);
  EXPECT_TRUE(store_->list("bob", std::nullopt, 10).empty());
  auto c = add({{"ann", false}}, "t", "outbox:2:99");
  EXPECT_FALSE(c.duplicate);
}

TEST_P(StoreSuite, ABatchIsStoredTogetherAndSkipsSourcesStoredBefore) {
  auto before = add({{"ann", false}}, "t", "outbox:5:1");
  auto make = [&](std::string type, std::string source) {
    NewNotification n;
    n.type = std::move(type);
    n.data = "[1]";
    n.source = std::move(source);
    n.created_ms = 1700000000000 + static_cast<std::int64_t>(++clock_);
    return n;
  };
  std::vector<Store::Insert> batch = {
      {make("a", ""), {{"ann", false}, {"bob", true}}},
      {make("b", "outbox:5:1"), {{"bob", false}}},  // stored before
      {make("c", "outbox:6:1"), {{"bob", false}}},
  };
  auto out = store_->insert_batch(batch);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FALSE(out[0].duplicate);
  EXPECT_TRUE(out[1].duplicate);
  EXPECT_EQ(out[1].id, before.id);
  EXPECT_EQ(out[1].created_ms, before.created_ms);
  EXPECT_FALSE(out[2].duplicate);
  EXPECT_GT(out[2].id, out[0].id);
  auto bob = store_->list("bob", std::nullopt, 10);
  ASSERT_EQ(bob.size(), 2u);  // not the duplicate's recipients
  EXPECT_EQ(bob[0].type, "c");
  EXPECT_EQ(bob[1].type, "a");
  EXPECT_FALSE(bob[1].detail.has_value());  // "a" has no detail at all
  EXPECT_EQ(store_->list("ann", std::nullopt, 10).size(), 2u);
}

TEST_P(StoreSuite, MarkReadTouchesOnlyTheUsersOwn) {
  auto mine = add({{"ann", false}});
  auto other = add({{"bob", false}});
  auto shared = add({{"ann", false}, {"bob", false}});
  EXPECT_EQ(store_->unread("ann"), 2u);
  auto r = store_->mark_read("ann", {mine.id, other.id, 424242}, false);
  EXPECT_EQ(r.ids, std::vector<std::int64_t>{mine.id});
  EXPECT_EQ(r.unread, 1u);
  EXPECT_EQ(store_->unread("bob"), 2u);  // bob's untouched
  auto again = store_->mark_read("ann", {mine.id}, false);
  EXPECT_EQ(again.ids, std::vector<std::int64_t>{mine.id});  // still the user's, already read
  auto all = store_->mark_read("ann", {}, true);
  EXPECT_EQ(all.unread, 0u);
  EXPECT_EQ(store_->unread("bob"), 2u);
  auto list = store_->list("ann", std::nullopt, 10);
  for (const auto& n : list) EXPECT_TRUE(n.read);
  auto bob = store_->list("bob", std::nullopt, 10);
  ASSERT_EQ(bob.size(), 2u);
  EXPECT_EQ(bob[0].id, shared.id);
  EXPECT_FALSE(bob[0].read);
}

TEST_P(StoreSuite, PruneKeepsTheNewestPerUserAndDropsOldAndOrphans) {
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(add({{"ann", false}, {"bob", false}}).id);
  // ann is capped at 3; bob was not named, so keeps all 8.
  auto removed = store_->prune(0, 3, {"ann"});
  EXPECT_EQ(removed, 5u);
  auto ann = store_->list("ann", std::nullopt, 100);
  ASSERT_EQ(ann.size(), 3u);
  EXPECT_EQ(ann[0].id, ids[7]);
  EXPECT_EQ(ann[2].id, ids[5]);
  EXPECT_EQ(store_->list("bob", std::nullopt, 100).size(), 8u);
  // Everything older than the 6th: removed for everyone, and the
  // notifications themselves once nobody holds them.
  store_->prune(1700000000000 + 6, 1000, {});
  EXPECT_EQ(store_->list("bob", std::nullopt, 100).size(), 3u);
  EXPECT_EQ(store_->list("ann", std::nullopt, 100).size(), 3u);
  // A source stored again after its notification was pruned is new.
  auto a = add({{"ann", false}}, "t", "outbox:7:1");
  store_->prune(1700000000000 + 1000, 1000, {});
  auto b = add({{"ann", false}}, "t", "outbox:7:1");
  EXPECT_FALSE(a.duplicate);
  EXPECT_FALSE(b.duplicate);
}

TEST_P(StoreSuite, ReopeningKeepsEverything) {
  store_->put_member({"ann", "acme", "admin"});
  auto n = add({{"ann", true}});
  store_.reset();
  store_ = open_store(url_);
  EXPECT_EQ(store_->members("acme").size(), 1u);
  auto list = store_->list("ann", std::nullopt, 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, n.id);
  EXPECT_GT(add({{"ann", true}}).id, n.id);
}

TEST_P(StoreSuite, ManyRecipientsInOneInsert) {
  std::vector<Recipient> to;
  for (int i = 0; i < 5000; ++i) to.push_back({"user-" + std::to_string(i), i % 2 == 0});
  auto n = add(to);
  auto list = store_->list("user-4998", std::nullopt, 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, n.id);
  EXPECT_TRUE(list[0].detail.has_value());
  EXPECT_FALSE(store_->list("user-4999", std::nullopt, 10)[0].detail.has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreSuite, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

TEST(StoreUrl, UnsupportedSchemesAndUnreachableServersAreClearErrors) {
  try {
    open_store("mysql://x");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported scheme"), std::string::npos) << e.what();
  }
  try {
    open_store("postgresql://postgres:hunter2@127.0.0.1:1/x");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("cannot connect"), std::string::npos) << what;
    EXPECT_EQ(what.find("hunter2"), std::string::npos) << what;  // the password stays secret
  }
}

}  // namespace
}  // namespace rollcall::notify
