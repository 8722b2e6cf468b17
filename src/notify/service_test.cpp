// rollcall::Notifications through its public API (the socket and HTTP
// faces are in tests/interop/notifications*.test.mjs): retention runs on
// its own, and options are checked.
#include <rollcall/notifications.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
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

TEST(Notifications, BadOptionsAreRefused) {
  TempDir dir;
  Server io(one_loop());
  std::string store = "sqlite:" + (dir.path / "n.db").string();
  EXPECT_THROW(Notifications(io, {.store_url = ""}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = store, .channel = ""}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = store, .max_per_user = 0}), std::invalid_argument);
  EXPECT_THROW(Notifications(io, {.store_url = "sqlite:/proc/no/such/dir/n.db"}), std::runtime_error);
}

}  // namespace
}  // namespace rollcall
