// The switch from HTTP to WebSocket: the first-read fast path, the 101, the
// descriptor taken from Asio, and the hand-over to WsConnection.
#include "server/ws_upgrade.hpp"

#include "common/clock.hpp"
#include "engineio/loop.hpp"
#include "engineio/packet.hpp"
#include "engineio/session.hpp"
#include "engineio/transport.hpp"
#include "server/ws_connection.hpp"
#include "ws/frame.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace rollcall {

namespace http = boost::beast::http;
using request::Query;
using request::Request;

namespace {

// The 101 response: the first bytes of the connection's first write
// (together with the open packet: one write instead of two).
Frame upgrade_response(std::string_view key) {
  auto head = std::make_shared<std::string>(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      ws::accept_key(key) + "\r\n\r\n");
  return Frame{std::move(head), 0, 0, false};
}

}  // namespace

std::shared_ptr<const Handshake> make_handshake(const Request& req, const Query& q, std::string address) {
  auto hs = std::make_shared<Handshake>();
  std::size_t bytes = 0, count = 0;
  for (const auto& f : req) bytes += f.name_string().size() + f.value().size(), ++count;
  hs->headers.reserve(bytes, count);  // exact: kept as long as the session
  bytes = count = 0;
  for (const auto& [k, v] : q.all) bytes += k.size() + v.size(), ++count;
  hs->query.reserve(bytes, count);
  for (const auto& f : req) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    hs->headers.add(name, f.value());
  }
  for (const auto& [k, v] : q.all) hs->query.add(k, v);
  hs->address = std::move(address);
  hs->url = std::string(req.target());
  hs->issued = unix_ms();
  hs->xdomain = req.find(http::field::origin) != req.end();
  return hs;
}

UniqueFd take_fd(boost::asio::ip::tcp::socket socket) {
  boost::system::error_code ec;
  UniqueFd fd(socket.release(ec));
  if (ec || !fd) {
    spdlog::warn("websocket: cannot take the socket over: {}", ec.message());
    return {};
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || (!(flags & O_NONBLOCK) && ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) != 0)) {
    spdlog::warn("websocket: cannot make the socket non-blocking: {}", std::strerror(errno));
    return {};
  }
  return fd;
}

void open_websocket(Loop& loop, const engineio::Engine& engine, const Request& req, const Query& query,
                    std::string peer, UniqueFd fd, std::string_view key, std::string_view leftover) {
  auto session = std::make_shared<engineio::Session>(loop, engine,
                                                     engineio::make_id(static_cast<std::uint8_t>(loop.index)),
                                                     true, make_handshake(req, query, std::move(peer)));
  auto conn = std::make_shared<WsConnection>(loop, std::move(fd), engine.options.max_payload);
  conn->send(upgrade_response(key));
  session->attach_websocket(conn);
  conn->send(make_text_frame('0', std::string_view(session->open_packet()).substr(1)));
  session->start();
  conn->start(session, leftover);
}

void upgrade_session(Loop& loop, const engineio::Engine& engine,
                     const std::shared_ptr<engineio::Session>& session, UniqueFd fd, std::string_view key,
                     std::string_view leftover) {
  auto conn = std::make_shared<WsConnection>(loop, std::move(fd), engine.options.max_payload);
  conn->send(upgrade_response(key));
  // A WebSocket for a session that is upgrading, upgraded or closing is
  // accepted and then closed, as Node does (its client sees a close, not
  // an HTTP error); the session carries on with the first one.
  if (!session->begin_upgrade(conn)) {
    conn->start(nullptr, {});
    conn->close();
    return;
  }
  conn->start(session, leftover);
}

// The common case, without Beast's stream or a coroutine: a GET that opens
// a new Engine.IO session over WebSocket. Anything else (polling, upgrades
// of an existing session, errors, other routes) returns false.
bool open_websocket_fast(const std::vector<std::unique_ptr<engineio::Engine>>& engines, Loop& loop,
                         const Request& req, UniqueFd& fd, std::string& peer, std::string_view leftover) {
  if (!request::is_websocket_upgrade(req)) return false;  // a GET with the upgrade headers
  auto query = request::parse_target(req.target());
  if (!query) return false;
  const engineio::Engine* engine = engineio::find_engine(engines, query->path);
  if (!engine) return false;
  auto t = request::transport_request(req, *query);
  if (!engineio::opens_websocket(*engine, t)) return false;
  open_websocket(loop, *engine, req, *query, std::move(peer), std::move(fd), *t.websocket_key, leftover);
  return true;
}

}  // namespace rollcall
