// What operators and newcomers use besides the Socket.IO API: the admin API
// (/v1/admin/...), the admin namespace that pushes changes to dashboards,
// the dashboard and demo pages (/admin/, /demo/), Prometheus /metrics,
// and the demo's helper routes. Built on the public API only; blocking
// questions (the presence thread, Redis) are asked on a worker thread of
// its own, never on a loop. docs/operations.md.
#pragma once

#include "app/config.hpp"

#include <rollcall/notifications.hpp>
#include <rollcall/server.hpp>

#include <memory>
#include <string>

namespace rollcall::app {

struct OperationsOptions {
  std::string admin_key;    // empty: admin API, namespace and dashboard off
  bool metrics = true;      // GET /metrics
  bool demo = false;        // /demo/ and its routes, me:connections
  std::string demo_jwt_secret;  // signs the demo's tokens
  std::string node_id;      // shown by /v1/admin/stats and nodes
  std::string address;      // where this node listens
  bool redis_configured = false;
  bool postgres_configured = false;
};

class Operations {
 public:
  // Adds the routes, the admin namespace and the observers (before run()).
  // `notifications` may be null (off).
  Operations(Server& server, Notifications* notifications, OperationsOptions options);
  ~Operations();
  Operations(const Operations&) = delete;
  Operations& operator=(const Operations&) = delete;

  // /v1/admin/...: answered on the worker thread (the caller checked nothing).
  void admin_api(const HttpRequest& req, HttpRespond respond);

  // The admin namespace's name.
  static constexpr const char* kAdminNamespace = "/rollcall-admin";

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace rollcall::app
