// HttpServer, the front end's façade: an Acceptor whose connections are
// served by http_connection (http_server.hpp).
#include "server/http_server.hpp"

#include "server/acceptor.hpp"
#include "server/http_connection.hpp"

namespace rollcall {

HttpServer::HttpServer(std::vector<std::unique_ptr<Loop>>& loops,
                       std::vector<std::unique_ptr<engineio::Engine>>& engines, Routes& routes,
                       std::size_t route_body_limit)
    : context_(std::make_shared<HttpContext>(loops, engines, routes, route_body_limit)),
      acceptor_(std::make_shared<Acceptor>(loops, [context = context_](Loop& loop, UniqueFd fd, std::string peer) {
        serve_http(*context, loop, std::move(fd), std::move(peer));
      })) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  acceptor_->bind(host, port);
  // Before the first connection is accepted.
  context_->protocol = acceptor_->protocol();
  acceptor_->start();
}

std::uint16_t HttpServer::port() const noexcept { return acceptor_->port(); }

void HttpServer::stop_accepting() { acceptor_->stop(); }

}  // namespace rollcall
