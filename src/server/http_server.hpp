// The HTTP front end as the composition root sees it: it listens, and
// serves every connection (Engine.IO's transports, WebSocket upgrades,
// application routes). Its parts: acceptor.* (the listening socket),
// http_connection.* (HTTP/1.1 on Beast, one coroutine per connection),
// ws_upgrade.* (the switch to WebSocket, and its fast path), routes.*
// (application routes), and Engine.IO's rules in engineio/transport.*.
#pragma once

#include <rollcall/server.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rollcall {

struct Loop;
struct HttpContext;
class Acceptor;
namespace engineio {
struct Engine;
}

class HttpServer {
 public:
  using Routes = std::vector<std::pair<std::string, AsyncHttpHandler>>;  // HttpRoutes (routes.hpp)
  HttpServer(std::vector<std::unique_ptr<Loop>>& loops,
             std::vector<std::unique_ptr<engineio::Engine>>& engines, Routes& routes,
             std::size_t route_body_limit);
  ~HttpServer();

  // Binds on loop 0 and starts accepting; connections are spread over the
  // loops round-robin. Throws std::system_error when binding fails.
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const noexcept;
  // Stops accepting (safe from any thread).
  void stop_accepting();

 private:
  std::shared_ptr<HttpContext> context_;
  std::shared_ptr<Acceptor> acceptor_;
};

}  // namespace rollcall
