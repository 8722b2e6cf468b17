// The composition root behind rollcall::Server: the Socket.IO core, the
// Engine.IO endpoints and HTTP front end that feed it, the application
// routes, and the features the options turn on (presence). Only
// src/server includes this.
#pragma once

#include "engineio/session.hpp"
#include "socketio/core.hpp"

#include <rollcall/presence.hpp>
#include <rollcall/server.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rollcall {

class HttpServer;
namespace detail {
class PresenceTracker;
}

struct Server::Impl : detail::Core {
  explicit Impl(ServerOptions o);
  ~Impl();

  std::vector<std::unique_ptr<engineio::Engine>> engines;
  std::vector<std::pair<std::string, AsyncHttpHandler>> routes;
  std::atomic<Notifications*> notifications{nullptr};  // Server::set_notifications
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<detail::PresenceTracker> presence;  // the built-in one
  std::size_t presence_observer = 0;                    // its index in socket_observers
  std::shared_ptr<Presence> custom_presence;           // Server::set_presence

  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards;
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};

  void stop(Millis drain);
};

}  // namespace rollcall
