// rollcall::Notifications through its public API (the socket and HTTP
// faces are in tests/interop/notifications*.test.mjs): retention runs on
// its own, and options are checked.
#include <rollcall/notifications.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace rollcall {
namespace {

using namespace std::chrono_literals;

struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("rollcall-notify-" + std::to_string(::getpid()) + "-" +
                                std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
};

ServerOptions one_loop() {
  ServerOptions o;
  o.threads = 1;
  o.presence.enabled = false;
  return o;
}

NotificationPage list(Notifications& n, const std::string& user) {
  std::promise<NotificationPage> page;
  n.list(user, std::nullopt, 200, [&](const std::string& error, NotificationPage p) {
    EXPECT_EQ(error, "");
    page.set_value(std::move(p));
  });
  auto f = page.get_future();
  EXPECT_EQ(f.wait_for(5s), std::future_status::ready);
  return f.get();
}

TEST(Notifications, RetentionKeepsTheNewestPerUserOnItsOwn) {
  TempDir dir;
  Server io(one_loop());
  Notifications n(io, {.store_url = "sqlite:" + (dir.path / "n.db").string(),
                       .max_per_user = 3,
                       .prune_every = 50ms});
  for (int i = 0; i < 5; ++i) {
    NotificationRequest r;
    r.audience.users = {"ann"};
    r.type = "t";
    r.data = i;
    std::promise<void> stored;
    n.publish(std::move(r), [&](const std::string& error, Notifications::Published) {
      EXPECT_EQ(error, "");
      stored.set_value();
    });
    ASSERT_EQ(stored.get_future().wait_for(5s), std::future_status::ready);
  }
  // Retention runs every 50 ms: within the deadline only the newest 3 remain.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  NotificationPage page;
  do {
    page = list(n, "ann");
    if (page.items.size() == 3) break;
    std::this_thread::sleep_for(20ms);  // polling a store, no event to await
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(page.items.size(), 3u);
  EXPECT_EQ(page.items[0].data.as_int64(), 4);
  EXPECT_EQ(page.items[2].data.as_int64(), 2);
  n.stop();
}

// A store slower than its callers: past max_waiting, calls are answered
// "busy" at once instead of queueing without limit.
TEST(Notifications, RequestsBeyondTheBoundAreAnsweredBusy) {
  TempDir dir;
  Server io(one_loop());
  Notifications n(io, {.store_url = "sqlite:" + (dir.path / "n.db").string(), .max_waiting = 2});
  // Hold the notifications thread: a callback runs there.
  std::promise<void> held, release;
  n.list("x", std::nullopt, 1, [&](const std::string&, NotificationPage) {
    held.set_value();
    release.get_future().wait();
  });
  ASSERT_EQ(held.get_future().wait_for(5s), std::future_status::ready);
  std::vector<std::string> answers;
  std::mutex m;
  std::promise<void> all_answered;
  int left = 3;
  for (int i = 0; i < 3; ++i) {
    NotificationRequest r;
    r.audience.users = {"ann"};
    r.type = "t";
    r.data = i;
    n.publish(std::move(r), [&](const std::string& error, Notifications::Published) {
      std::lock_guard lock(m);
      answers.push_back(error);
      if (--left == 0) all_answered.set_value();
    });
  }
  {
    std::lock_guard lock(m);
    ASSERT_EQ(answers.size(), 1u);  // the third, at once
    EXPECT_NE(answers[0].find("notifications are busy"), std::string::npos) << answers[0];
  }
  std::promise<std::string> listed;
  n.list("ann", std::nullopt, 1, [&](const std::string& e, NotificationPage) { listed.set_value(e); });
  std::promise<std::string> third;
  n.list("ann", std::nullopt, 1, [&](const std::string& e, NotificationPage) { third.set_value(e); });
  // Two list jobs wait (the held one runs): the next is refused at once.
  std::promise<std::string> refused;
  n.list("ann", std::nullopt, 1, [&](const std::string& e, NotificationPage) { refused.set_value(e); });
  auto r = refused.get_future();
  ASSERT_EQ(r.wait_for(0s), std::future_status::ready);
  EXPECT_NE(r.get().find("busy"), std::string::npos);
  release.set_value();
  ASSERT_EQ(all_answered.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answers[1], "");
  EXPECT_EQ(answers[2], "");
  EXPECT_EQ(listed.get_future().get(), "");
  EXPECT_EQ(third.get_future().get(), "");
  n.stop();
}

TEST(Notifications, BadOptionsAreRefused) {
  TempDir dir;
  Server io(one_loop());
  std::string store = "sqlite:" + (dir.path / "n.db").string();
  EXPECT_THROW(Notifications(io, {.store_url = ""}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = store, .channel = ""}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = store, .max_per_user = 0}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = store, .max_waiting = 0}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = "sqlite:/proc/no/such/dir/n.db"}), std::runtime_error);
}

}  // namespace
}  // namespace rollcall
