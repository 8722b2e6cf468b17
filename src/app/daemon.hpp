// rollcalld's server: the library plus identity, room rules, presence
// queries over the socket and the HTTP API, all driven by the config file.
#pragma once

#include "app/config.hpp"

#include <rollcall/cluster.hpp>
#include <rollcall/server.hpp>

#include <memory>

namespace rollcall::app {

class Daemon {
 public:
  enum class Mode {
    normal,
    // Benchmark mode (loopback only): the CONNECT auth `token` is taken as
    // the user id without verification, every socket joins user:<id> and
    // "all", `bcast` (data) -> to("all").emit("msg", data), `echo` (data,
    // ack) -> ack(data). Presence stays on.
    bench,
  };
  // Throws ConfigError (or std::runtime_error for an unusable store or key).
  explicit Daemon(const Config& config, Mode mode = Mode::normal);
  ~Daemon();

  Server& server() { return *server_; }

  struct State;

 private:
  void join_cluster(const Config& config);

  std::shared_ptr<State> state_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Cluster> cluster_;  // with [cluster] redis_url; leaves before the server goes
};

// ServerOptions from the config (presence store and webhooks included).
ServerOptions server_options(const Config& config);

}  // namespace rollcall::app
