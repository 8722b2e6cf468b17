// rollcalld: the rollcall server binary.
#include "app/config.hpp"
#include "app/daemon.hpp"
#include "app/log.hpp"
#include "app/modes.hpp"

#include <rollcall/server.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollcalld - a Socket.IO server that tracks users, not sockets"};
  std::string config_file, listen, path, log_level, data_dir;
  unsigned threads = 0;
  bool conformance = false;
  bool bench = false;
  bool demo = false;
  bool print_config = false;
  std::string check_config;
  long ping_interval = 0, ping_timeout = 0, recovery_ms = 0;
  std::size_t max_payload = 0;
  std::vector<std::string> cors;
  app.add_option("--config", config_file, "TOML configuration file (see docs/configuration.md)");
  app.add_option("--listen", listen, "address to listen on, HOST:PORT (default 127.0.0.1:3000)");
  app.add_option("--threads", threads, "event loop threads (default: number of cores)");
  app.add_flag("--conformance", conformance,
               "serve the handlers the official Engine.IO/Socket.IO protocol suites expect");
  app.add_flag("--bench", bench,
               "benchmark handlers (tokens taken as user ids, unverified; loopback only)");
  app.add_flag("--demo", demo,
               "demo organisations and users, a demo JWT secret and API key (never in production)");
  app.add_option("--check-config", check_config,
                 "check the configuration FILE (with the environment overrides) and exit: 0 when it is "
                 "valid, else 2 and the error");
  app.add_flag("--print-config", print_config,
               "print the effective configuration (file, environment, flags) as TOML with secrets "
               "masked, and exit");
  app.add_option("--path", path, "Socket.IO path (default /socket.io/)");
  app.add_option("--ping-interval", ping_interval, "heartbeat interval, ms");
  app.add_option("--ping-timeout", ping_timeout, "heartbeat timeout, ms");
  app.add_option("--max-payload", max_payload, "max bytes per client message");
  app.add_option("--recovery-ms", recovery_ms, "connection state recovery window, ms (0 = off)");
  app.add_option("--cors-origin", cors, "allowed CORS origin (repeatable; * for any)");
  app.add_option("--data-dir", data_dir, "directory of the embedded store (server.data_dir)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);
  // Logs go to stderr; stdout carries only the "listening <port>" line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("rollcalld"));

  // Signals are taken by one thread with sigwait; block them everywhere else.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    if (!check_config.empty()) {
      auto checked = rollcall::app::load_config(check_config);
      rollcall::app::apply_environment(checked);
      rollcall::app::validate(checked, check_config);
      std::printf("%s: ok\n", check_config.c_str());
      return 0;
    }
    rollcall::app::Config config;
    if (!config_file.empty()) config = rollcall::app::load_config(config_file);
    // Then the environment (ROLLCALL_AUTH_JWT_SECRET, ...), then the flags.
    const auto from_environment = rollcall::app::apply_environment(config);
    // JSON logs from the first line on (no flag changes log.format).
    if (config.log.format == "json") {
      spdlog::default_logger()->set_formatter(std::make_unique<rollcall::app::JsonLogFormatter>());
    }
    for (const auto& name : from_environment) spdlog::info("configuration: {} from the environment", name);
    // Command-line flags override the file.
    auto& srv = config.server;
    if (app.count("--listen")) srv.listen = listen;
    if (app.count("--threads")) srv.threads = threads;
    if (app.count("--path")) srv.path = path;
    if (app.count("--ping-interval")) srv.ping_interval_ms = ping_interval;
    if (app.count("--ping-timeout")) srv.ping_timeout_ms = ping_timeout;
    if (app.count("--max-payload")) srv.max_payload = max_payload;
    if (app.count("--recovery-ms")) srv.recovery_ms = recovery_ms;
    if (app.count("--cors-origin")) srv.cors_origins = cors;
    if (app.count("--data-dir")) srv.data_dir = data_dir;
    std::string bench_dir;  // removed at exit
    if (bench && !app.count("--data-dir") && config_file.empty()) {
      // A benchmark must not touch a real store.
      bench_dir = "/tmp/rollcall-bench-" + std::to_string(::getpid());
      srv.data_dir = bench_dir;
    }
    if (demo) {
      // Known secrets, so that the demo's pages and scripts can sign in.
      if (config.auth.jwt_secret.empty() && config.auth.jwt_public_key_file.empty()) {
        config.auth.jwt_secret = rollcall::app::kDemoJwtSecret;
      }
      if (config.api.key.empty()) config.api.key = rollcall::app::kDemoApiKey;
      if (config.admin.key.empty()) config.admin.key = rollcall::app::kDemoAdminKey;
      if (!app.count("--data-dir") && config_file.empty()) srv.data_dir = "/tmp/rollcall-demo";
      spdlog::warn("demo mode: JWT secret '{}', API key '{}', admin key '{}' (never use them in production)",
                   config.auth.jwt_secret, config.api.key, config.admin.key);
    }
    if (app.count("--log-level")) config.log.level = log_level;
    rollcall::app::validate(config, config_file.empty() ? "command line" : config_file);
    spdlog::set_level(spdlog::level::from_str(config.log.level));

    if (print_config) {
      std::fputs(rollcall::app::print_config(config).c_str(), stdout);
      return 0;
    }
    const auto parsed = rollcall::app::parse_listen(srv.listen);  // validate() checked it
    if (!parsed) throw rollcall::app::ConfigError("server.listen: expected HOST:PORT, got '" + srv.listen + "'");
    const auto& hp = *parsed;
    if (bench && !is_loopback(hp.host)) {
      throw rollcall::app::ConfigError("--bench accepts unverified tokens and is refused unless "
                                       "--listen is a loopback address (127.0.0.0/8 or ::1)");
    }
    if (bench && conformance) throw rollcall::app::ConfigError("--bench and --conformance exclude each other");
    if (demo && (bench || conformance)) {
      throw rollcall::app::ConfigError("--demo excludes --bench and --conformance");
    }
    std::unique_ptr<rollcall::Server> conformance_server;
    std::unique_ptr<rollcall::app::Daemon> daemon;
    rollcall::Server* server = nullptr;
    if (conformance) {
      conformance_server = rollcall::app::make_conformance_server(srv.threads);
      server = conformance_server.get();
    } else {
      daemon = std::make_unique<rollcall::app::Daemon>(
          config, bench  ? rollcall::app::Daemon::Mode::bench
                  : demo ? rollcall::app::Daemon::Mode::demo
                         : rollcall::app::Daemon::Mode::normal);
      server = &daemon->server();
    }
    server->listen(hp.host, hp.port);
    spdlog::info("rollcalld listening on {}:{} ({} threads{})", hp.host, server->port(),
                 server->threads(), conformance ? ", conformance mode" : bench ? ", bench mode" : demo ? ", demo mode" : "");
    if (demo) {
      const std::string base = "http://" + (hp.host.find(':') != std::string::npos ? "[" + hp.host + "]" : hp.host) +
                               ":" + std::to_string(server->port());
      spdlog::info("demo: open {}/demo/ in a few tabs; the dashboard is {}/admin/#key={}", base, base,
                   config.admin.key);
    }
    std::printf("listening %u\n", static_cast<unsigned>(server->port()));
    std::fflush(stdout);
    // The first SIGTERM/SIGINT drains (clients are told to reconnect, which
    // they do elsewhere, within server.drain_ms); a second one exits now.
    const auto drain = std::chrono::milliseconds(srv.drain_ms);
    std::atomic<bool> run_returned{false};
    std::thread signal_thread([server, signals, drain, &run_returned] {
      int sig = 0;
      sigwait(&signals, &sig);
      if (run_returned) return;
      spdlog::info("signal {}: draining connections (at most {} ms; send it again to exit at once)", sig,
                   drain.count());
      server->stop(drain);
      sigwait(&signals, &sig);
      if (run_returned) return;
      spdlog::warn("signal {} again: exiting without finishing the drain", sig);
      std::_Exit(1);
    });
    server->run();
    // Release the waiter (whether or not a signal ended the run).
    run_returned = true;
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
    if (!bench_dir.empty()) {
      daemon.reset();  // closes the store
      std::error_code ec;
      std::filesystem::remove_all(bench_dir, ec);
    }
  } catch (const rollcall::app::ConfigError& e) {
    std::fprintf(stderr, "rollcalld: configuration error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rollcalld: %s\n", e.what());
    return 1;
  }
  return 0;
}
