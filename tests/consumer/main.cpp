// The smallest embedder: the public headers and rollcall::rollcall only.
// Greets each socket and answers "echo" with an ack; prints "listening
// <port>" once it accepts connections, and stops on SIGTERM or SIGINT.
// Built a second time with CONSUMER_AUTH against rollcall::auth: then the
// identity middleware (JWT) guards the connections.
#include <rollcall/server.hpp>
#ifdef CONSUMER_AUTH
#include <rollcall/auth.hpp>
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
}
