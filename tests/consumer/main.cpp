// The smallest embedder: the public headers and rollcall::rollcall only.
// Greets each socket and answers "echo" with an ack; prints "listening
// <port>" once it accepts connections, and stops on SIGTERM or SIGINT.
// Built a second time with CONSUMER_AUTH against rollcall::auth: then the
// identity middleware (JWT) guards the connections; with CONSUMER_NOTIFY
// against rollcall::notify: every socket is the user "consumer", and
// "notify-me" publishes a notification to that user (SQLite store under
// /tmp), which comes back as the event "notification".
#include <rollcall/server.hpp>
#ifdef CONSUMER_AUTH
#include <rollcall/auth.hpp>
#endif
#ifdef CONSUMER_NOTIFY
#include <rollcall/notifications.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>
#endif

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <thread>

int main() {
  // Signals go to the waiter thread below (blocked before the loops start,
  // so their threads inherit the mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  rollcall::ServerOptions options;
  options.threads = 1;
  rollcall::Server io(options);
#ifdef CONSUMER_AUTH
  rollcall::auth::IdentityOptions identity;
  identity.jwt = rollcall::auth::JwtOptions{.secret = "consumer-secret"};
  io.use(rollcall::auth::identity_middleware(std::move(identity)));
#endif
#ifdef CONSUMER_NOTIFY
  const auto dir = std::filesystem::temp_directory_path() / ("rollcall-consumer-" + std::to_string(::getpid()));
  rollcall::Notifications notifications(io, {.store_url = "sqlite:" + (dir / "n.db").string()});
  io.use([](rollcall::Socket& socket, rollcall::Next next) {
    socket.set_user(rollcall::User{"consumer", "", {}});
    next(std::nullopt);
  });
  io.on_connection([&io](rollcall::Socket& socket) {
    socket.on("notify-me", [&io](rollcall::Args, rollcall::Ack) {
      rollcall::NotificationRequest r;
      r.audience.users = {"consumer"};
      r.type = "consumer.test";
      r.data = "from an installed rollcall";
      io.notifications().publish(std::move(r));
    });
  });
#endif
  io.on_connection([](rollcall::Socket& socket) {
    socket.emit("hello", rollcall::Args::of("from an installed rollcall"));
    socket.on("echo", [](rollcall::Args args, rollcall::Ack ack) {
      if (ack) ack(std::move(args));
    });
  });
  io.listen("127.0.0.1", 0);
  std::printf("listening %u\n", static_cast<unsigned>(io.port()));
  std::fflush(stdout);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    io.stop();
  });
  io.run();
  waiter.join();
#ifdef CONSUMER_NOTIFY
  notifications.stop();
  std::filesystem::remove_all(dir);
#endif
}
