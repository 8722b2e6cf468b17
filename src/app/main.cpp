// rollcalld: the rollcall server binary.
#include "app/modes.hpp"

#include <rollcall/server.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

HostPort parse_listen(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) throw CLI::ValidationError("--listen", "expected HOST:PORT, got '" + s + "'");
  HostPort hp;
  hp.host = s.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  try {
    std::size_t used = 0;
    int port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1 || port < 0 || port > 65535) throw std::out_of_range("port");
    hp.port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    throw CLI::ValidationError("--listen", "bad port in '" + s + "'");
  }
  return hp;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollcalld - a Socket.IO server that tracks users, not sockets"};
  std::string listen = "127.0.0.1:3000";
  unsigned threads = 0;
  bool conformance = false;
  std::string log_level = "info";
  rollcall::ServerOptions options;
  long ping_interval = options.ping_interval.count();
  long ping_timeout = options.ping_timeout.count();
  long recovery_ms = 0;
  std::vector<std::string> cors;
  app.add_option("--listen", listen, "address to listen on, HOST:PORT")->capture_default_str();
  app.add_option("--threads", threads, "event loop threads (default: number of cores)");
  app.add_flag("--conformance", conformance,
               "serve the handlers the official Engine.IO/Socket.IO protocol suites expect");
  app.add_option("--path", options.path, "Socket.IO path")->capture_default_str();
  app.add_option("--ping-interval", ping_interval, "heartbeat interval, ms")->capture_default_str();
  app.add_option("--ping-timeout", ping_timeout, "heartbeat timeout, ms")->capture_default_str();
  app.add_option("--max-payload", options.max_payload, "max bytes per client message")
      ->capture_default_str();
  app.add_option("--recovery-ms", recovery_ms,
                 "connection state recovery window, ms (0 = off)")->capture_default_str();
  app.add_option("--cors-origin", cors, "allowed CORS origin (repeatable; * for any)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_level(spdlog::level::from_str(log_level));
  // Signals are taken by one thread with sigwait; block them everywhere else.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    auto hp = parse_listen(listen);
    std::unique_ptr<rollcall::Server> server;
    if (conformance) {
      server = rollcall::app::make_conformance_server(threads);
    } else {
      options.threads = threads;
      options.ping_interval = rollcall::Millis(ping_interval);
      options.ping_timeout = rollcall::Millis(ping_timeout);
      options.cors.origins = cors;
      if (recovery_ms > 0) {
        options.recovery.enabled = true;
        options.recovery.max_disconnection = rollcall::Millis(recovery_ms);
      }
      server = std::make_unique<rollcall::Server>(options);
      rollcall::app::install_default_handlers(*server);
    }
    server->listen(hp.host, hp.port);
    spdlog::info("rollcalld listening on {}:{} ({} threads{})", hp.host, server->port(),
                 server->threads(), conformance ? ", conformance mode" : "");
    std::printf("listening %u\n", static_cast<unsigned>(server->port()));
    std::fflush(stdout);
    std::thread signal_thread([&server, signals] {
      int sig = 0;
      sigwait(&signals, &sig);
      spdlog::info("signal {}: shutting down", sig);
      server->stop();
    });
    server->run();
    // run() returned on its own (not through a signal): release the waiter.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  } catch (const CLI::Error& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
