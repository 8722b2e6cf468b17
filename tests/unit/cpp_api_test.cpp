// The code of docs/cpp-api.md, as written there, against the public headers
// only: if the documented API changes, this stops compiling. The server it
// builds answers the documented presence queries, then listens on loopback,
// runs and stops. (What the handlers do is covered by the interop tests.)
#include <rollcall/asio.hpp>
#include <rollcall/auth.hpp>
#include <rollcall/cluster.hpp>
#include <rollcall/notifications.hpp>
#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <unistd.h>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

// Stands in for the documented "Db": a lookup finished on the loop.
struct Db {
  boost::asio::any_io_executor ex;
  static std::unique_ptr<Db> open(boost::asio::any_io_executor ex) {
    return std::make_unique<Db>(Db{std::move(ex)});
  }
  void lookup(std::string cookie, std::function<void(std::optional<std::string>)> done) {
    boost::asio::post(ex, [cookie = std::move(cookie), done = std::move(done)] {
      done(cookie.empty() ? std::nullopt : std::optional<std::string>("alice"));
    });
  }
};

TEST(CppApiDoc, DocumentedSnippetsCompileAndRun) {
  // "Embedding rollcall" (the opening example).
  rollcall::ServerOptions options;
  options.threads = 2;
  options.cors.origins = {"https://app.example.com"};
  // "Presence" (memory store, no webhooks in a unit test).
  options.presence.grace = std::chrono::seconds(5);
  rollcall::Server io(options);

  io.use([](rollcall::Socket& socket, rollcall::Next next) {
    auto* token = socket.auth().if_contains("token");
    if (!token) return next(rollcall::ConnectError{"no token", nullptr});
    next(std::nullopt);
  });
  io.on_connection([&io](rollcall::Socket& socket) {
    socket.join("lobby");
    socket.on("chat", [&socket](rollcall::Args args, rollcall::Ack ack) {
      socket.to("lobby").emit("chat", args);
      if (ack) ack(rollcall::Args::of("ok"));
    });
    socket.on_disconnect([](rollcall::Socket&, const std::string&) {});
    (void)io;
  });

  std::atomic<int> online{0};
  io.presence().on_online([&](const rollcall::PresenceEvent& e) {
    if (e.type == "user.online") ++online;
  });
  io.presence().on_offline([](const rollcall::PresenceEvent&) {});

  // "Following every socket".
  std::atomic<long> sockets{0};
  io.observe_sockets([&](rollcall::Socket&) { ++sockets; },
                     [&](rollcall::Socket&, const std::string&) { --sockets; });

  // "Identity" (a JWT only: no Redis here).
  rollcall::auth::IdentityOptions id;
  id.jwt = rollcall::auth::JwtOptions{.secret = "doc-secret"};
  io.of("/identity").use(rollcall::auth::identity_middleware(std::move(id)));

  // "Async middleware".
  std::vector<std::unique_ptr<Db>> connections(io.threads());
  io.of("/async").use([&connections](rollcall::Socket& socket, rollcall::Next next) {
    auto& db = connections[socket.loop_index()];
    if (!db) db = Db::open(rollcall::executor(socket));
    db->lookup(std::string(socket.handshake().headers.get("cookie").value_or("")),
               [weak = socket.weak(), next](std::optional<std::string> user) {
                 auto s = weak.lock();
                 if (!s) return;
                 if (!user) return next(rollcall::ConnectError{"who are you?", nullptr});
                 s->set_user(rollcall::User{*user, {}, {}});
                 next(std::nullopt);
               });
  });

  // "HTTP routes".
  io.add_http_route("/healthz", [](const rollcall::HttpRequest& req) {
    if (req.method != "GET") {
      return rollcall::HttpResponse{.status = 405, .body = R"({"error":"GET only"})",
                                    .headers = {{"Allow", "GET"}}};
    }
    return rollcall::HttpResponse{.status = 200, .body = R"({"status":"ok"})"};
  });

  // "Conformance echo".
  io.add_engine_echo("/engine.io/", options);

  // The presence queries of "Presence", before any user connected.
  EXPECT_FALSE(io.presence().is_online("alice"));
  EXPECT_EQ(io.presence().connection_count("alice"), 0u);
  EXPECT_FALSE(io.presence().get("alice").has_value());
  EXPECT_TRUE(io.presence().online_in_org("acme").empty());
  bool answered = false;
  io.presence().online_in_org_async("acme", [&](std::optional<std::vector<rollcall::UserPresence>> users) {
    answered = users.has_value() && users->empty();
  });
  EXPECT_TRUE(answered);  // the built-in presence answers at once
  EXPECT_EQ(io.presence().online_count(), 0u);
  EXPECT_TRUE(io.presence().store_health().ok);
  EXPECT_EQ(rollcall::user_room("a:b"), "user:a%3Ab");

  // "Lifecycle": listen, run, stop.
  io.listen("127.0.0.1", 0);
  EXPECT_NE(io.port(), 0);
  std::thread runner([&] { io.run(); });

  // "For operators" (while it runs: the presence thread answers them).
  auto page = io.presence().list_online("", 100);
  EXPECT_TRUE(page && page->users.empty() && page->next.empty());
  EXPECT_EQ(io.presence().connection_total(), 0u);
  auto nodes = io.presence().nodes();
  EXPECT_TRUE(nodes && nodes->size() == 1 && (*nodes)[0].self);
  auto queue = io.presence().webhook_queue();
  EXPECT_TRUE(queue && !queue->enabled && queue->pending == 0 && queue->dead == 0);
  EXPECT_EQ(io.presence().retry_dead_letters(), 0u);
  EXPECT_TRUE(io.presence().recent_transitions(50).empty());
  EXPECT_EQ(io.presence().metrics().online, 0u);
  std::promise<rollcall::ServerStats> stats;
  io.collect_stats([&](rollcall::ServerStats st) { stats.set_value(std::move(st)); });
  auto collected = stats.get_future();
  if (collected.wait_for(std::chrono::seconds(5)) == std::future_status::ready) {
    EXPECT_TRUE(collected.get().namespaces.empty());
  } else {
    ADD_FAILURE() << "collect_stats did not answer within 5 s";
  }

  io.stop(std::chrono::milliseconds(500));
  runner.join();
  EXPECT_EQ(sockets.load(), 0);
}

// "A cluster", on the test Redis (127.0.0.1:$REDIS_PORT; FAIL without one).
TEST(CppApiDoc, ClusterSnippetCompilesAndRuns) {
  const char* port = std::getenv("REDIS_PORT");
  if (port == nullptr || *port == '\0') FAIL() << "REDIS_PORT not set: start Redis with scripts/services.sh";
  rollcall::ServerOptions options;
  options.threads = 1;
  rollcall::Server io(options);
  EXPECT_THROW(rollcall::Cluster(io, {.redis_url = "http://127.0.0.1"}), std::invalid_argument);
  rollcall::Cluster cluster(io, {.redis_url = std::string("redis://127.0.0.1:") + port + "/0",
                                 .node_id = "node-a",
                                 .prefix = "rollcall-test:cpp-api"});
  EXPECT_EQ(cluster.node_id(), "node-a");
  io.listen("127.0.0.1", 0);
  std::thread runner([&] { io.run(); });
  EXPECT_FALSE(io.presence().is_online("alice"));  // answered by Redis
  io.stop(std::chrono::milliseconds(500));
  runner.join();
  cluster.stop();
}

// "Notifications", with the SQLite store in a temporary directory.
TEST(CppApiDoc, NotificationsSnippetCompilesAndRuns) {
  auto dir = std::filesystem::temp_directory_path() / ("rollcall-cpp-api-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  rollcall::ServerOptions options;
  options.threads = 1;
  options.presence.enabled = false;
  rollcall::Server io(options);
  EXPECT_THROW(io.notifications(), std::logic_error);
  EXPECT_THROW(rollcall::Notifications(io, {.store_url = "mysql://x"}), std::runtime_error);
  {
    rollcall::Notifications notifications(io, {.store_url = "sqlite:" + (dir / "n.db").string()});
    std::promise<std::string> member;
    notifications.set_member({"minnie", "disney", "order-desk"}, [&](const std::string& e) { member.set_value(e); });
    EXPECT_EQ(member.get_future().get(), "");
    rollcall::NotificationRequest order;
    order.audience.orgs = {"disney"};
    order.type = "order.placed";
    order.data = boost::json::object{{"product", "Acme Giant Rubber Band"}};
    std::promise<rollcall::Notifications::Published> stored;
    io.notifications().publish(std::move(order), [&](const std::string& error, auto published) {
      EXPECT_EQ(error, "");
      stored.set_value(published);
    });
    auto p = stored.get_future().get();
    EXPECT_EQ(p.recipients, 1u);
    std::promise<rollcall::NotificationPage> page;
    notifications.list("minnie", std::nullopt, 10, [&](const std::string&, rollcall::NotificationPage pg) {
      page.set_value(std::move(pg));
    });
    auto pg = page.get_future().get();
    ASSERT_EQ(pg.items.size(), 1u);
    EXPECT_EQ(pg.items[0].id, p.id);
    EXPECT_EQ(pg.unread, 1u);
    notifications.stop();
  }
  EXPECT_THROW(io.notifications(), std::logic_error);
  std::filesystem::remove_all(dir);
}

}  // namespace
