// One HTTP connection, from its first read to its close or its switch to
// WebSocket. The first read goes through Beast's request parser and, for a
// plain WebSocket handshake, to the fast path (ws_upgrade.hpp); everything
// else gets a coroutine on Beast's stream: the request limits (431 for the
// header, 413 for the body, 400 for ambiguous framing), keep-alive and the
// idle timeout, moving a request for a session to the loop that owns it,
// and serving it: what Engine.IO's transport rules decide (engineio/
// transport.hpp; the long-poll wait is here), or an application route
// (routes.hpp). The only code of the front end on Beast's parser and
// Asio's coroutines.
#pragma once

#include "common/unique_fd.hpp"
#include "server/routes.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace rollcall {

struct Loop;
namespace engineio {
struct Engine;
}

// What every HTTP connection of a server shares; set up before the first
// connection is accepted, read-only afterwards.
struct HttpContext : std::enable_shared_from_this<HttpContext> {
  HttpContext(std::vector<std::unique_ptr<Loop>>& l, std::vector<std::unique_ptr<engineio::Engine>>& e,
              HttpRoutes& r, std::size_t body_limit)
      : loops(l), engines(e), routes(r), route_body_limit(body_limit) {}

  std::vector<std::unique_ptr<Loop>>& loops;
  std::vector<std::unique_ptr<engineio::Engine>>& engines;
  HttpRoutes& routes;
  // The largest request body of an application route.
  std::size_t route_body_limit;
  // Of the listening socket, hence of every accepted one.
  boost::asio::ip::tcp protocol = boost::asio::ip::tcp::v4();
};

// Serves a connection just accepted for `loop` (and running on it): reads
// what is there already, then the fast path or the general path.
void serve_http(HttpContext& context, Loop& loop, UniqueFd fd, std::string peer);

}  // namespace rollcall
