// rollcalld's server: the library plus identity, room rules, presence
// queries over the socket and the HTTP API, all driven by the config file.
#pragma once

#include "app/config.hpp"
#include "app/operations.hpp"

#include <rollcall/cluster.hpp>
#include <rollcall/notifications.hpp>
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
    // As normal, plus the demo organisations in the membership directory
    // (rollcalld --demo; docs/notifications.md, "Demo").
    demo,
  };
  // Throws ConfigError (or std::runtime_error for an unusable store or key).
  explicit Daemon(const Config& config, Mode mode = Mode::normal);
  ~Daemon();

  Server& server() { return *server_; }

  struct State;

 private:
  void join_cluster(const Config& config);
  void start_notifications(const Config& config, Mode mode);

  std::shared_ptr<State> state_;
  std::unique_ptr<Server> server_;
  // Admin API, dashboard, demo, /metrics; goes after the cluster has stopped
  // (whose presence thread calls it).
  std::unique_ptr<Operations> operations_;
  std::unique_ptr<Cluster> cluster_;  // with [cluster] redis_url; leaves before the server goes
  std::unique_ptr<Notifications> notifications_;  // declared last: stopped first
};

// rollcalld --demo's secrets (when the config file sets none).
inline constexpr const char* kDemoJwtSecret = "rollcall-demo-secret";
inline constexpr const char* kDemoApiKey = "rollcall-demo-api-key";
inline constexpr const char* kDemoAdminKey = "rollcall-demo-admin-key";
// The demo organisations' memberships (rollcalld --demo).
const std::vector<Membership>& demo_memberships();

// ServerOptions from the config (presence store and webhooks included).
ServerOptions server_options(const Config& config);

}  // namespace rollcall::app
