// The switch from HTTP to WebSocket: the fast path, which opens a new
// Engine.IO session over WebSocket straight from a connection's first read
// (no Beast stream, no coroutine), and the hand-over to a WsConnection of a
// connection whose handshake the transport rules accepted (a new session,
// or the upgrade of a polling one), with the 101 response. Also the
// Handshake a new session (either transport) keeps of its first request.
#pragma once

#include "common/unique_fd.hpp"
#include "server/http_request.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall {

struct Loop;
struct Handshake;
namespace engineio {
struct Engine;
class Session;
}  // namespace engineio

// The fast path, for a request read whole by the connection's first read
// (`leftover`: the bytes that followed it): if it opens a new session over
// WebSocket (engineio::opens_websocket), opens it on `fd` and returns true;
// else returns false and leaves `fd` and `peer` to the general path.
bool open_websocket_fast(const std::vector<std::unique_ptr<engineio::Engine>>& engines, Loop& loop,
                         const request::Request& req, UniqueFd& fd, std::string& peer,
                         std::string_view leftover);

// The descriptor of an HTTP connection's socket, for a WebSocket
// (non-blocking, out of Asio's reactor); empty if that fails.
UniqueFd take_fd(boost::asio::ip::tcp::socket socket);

// A new Engine.IO session over a WebSocket whose handshake passed the
// checks; `key` is its Sec-WebSocket-Key.
void open_websocket(Loop& loop, const engineio::Engine& engine, const request::Request& req,
                    const request::Query& query, std::string peer, UniqueFd fd, std::string_view key,
                    std::string_view leftover);

// The WebSocket of a polling session's upgrade (its probe). A WebSocket for
// a session that is upgrading, upgraded or closing is accepted and then
// closed, as Node does.
void upgrade_session(Loop& loop, const engineio::Engine& engine,
                     const std::shared_ptr<engineio::Session>& session, UniqueFd fd, std::string_view key,
                     std::string_view leftover);

// What a new session keeps of the request that opened it.
std::shared_ptr<const Handshake> make_handshake(const request::Request& req, const request::Query& q,
                                                std::string address);

}  // namespace rollcall
