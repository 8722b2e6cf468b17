// HTTP front end: accepts connections, parses requests with Beast, serves
// Engine.IO polling and hands WebSocket upgrades to WsConnection.
#pragma once

#include <rollcall/server.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rollcall {

struct Loop;
namespace engineio {
struct Engine;
}

class HttpServer {
 public:
  using Routes = std::vector<std::pair<std::string, HttpHandler>>;
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

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace rollcall
