// Engine.IO's rules for one HTTP request to an endpoint, without I/O and
// without Beast: which endpoint serves a path; the EIO, transport and sid
// checks with Node's error codes and bodies; CORS; the polling handshake,
// POSTs, and what a long-poll GET or a WebSocket is handed on to. The HTTP
// front end (src/server/http_connection.cpp) describes each request as a
// TransportRequest and carries out the Decision: writing the reply, waiting
// for the long poll, or switching the connection to WebSocket.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rollcall {
struct Loop;
struct Handshake;
struct CorsOptions;
}  // namespace rollcall

namespace rollcall::engineio {

struct Engine;
class Session;

// Node's error codes for Engine.IO HTTP errors.
enum class HttpError : int {
  unknown_transport = 0,
  unknown_sid = 1,
  bad_handshake_method = 2,
  bad_request = 3,
  forbidden = 4,
  unsupported_protocol_version = 5,
};
const char* message(HttpError e) noexcept;
// {"code":N,"message":"..."} as Node sends it.
std::string error_body(HttpError e);

// The endpoint serving `path`: the first whose path starts it, or equals it
// but for the endpoint's trailing '/'; nullptr if none.
const Engine* find_engine(const std::vector<std::unique_ptr<Engine>>& engines, std::string_view path);

enum class Method { get, post, options, other };

// What the rules see of a request. The views point into the request, which
// outlives the decision.
struct TransportRequest {
  Method method = Method::other;
  std::string_view eio, transport, sid;  // query parameters EIO, transport, sid
  bool websocket_upgrade = false;  // a GET with Upgrade: websocket, Connection: upgrade
  // The Sec-WebSocket-Key of a handshake rollcall accepts (with version 13).
  std::optional<std::string_view> websocket_key;
  std::string_view origin;                          // empty when absent
  std::optional<std::string_view> request_headers;  // Access-Control-Request-Headers
  std::string_view content_type;                    // empty when absent
  std::string_view body;
};

// A header field of a reply (names spelt as Beast spells them).
struct Header {
  std::string_view name;
  std::string value;
};

// An HTTP answer; the front end adds the framing (Connection, Content-Length)
// between `headers` and `preflight`.
struct Reply {
  int status = 200;
  std::string_view content_type;
  std::string body;
  std::vector<Header> headers;    // CORS, in this order
  std::vector<Header> preflight;  // an OPTIONS request's CORS headers, in this order
};

struct Decision {
  enum class Kind {
    reply,           // write `reply`, then carry on as the request's keep-alive says
    refuse,          // write `reply`, then close the connection
    open_websocket,  // switch to WebSocket (with `key`) for a new session
    upgrade,         // switch to WebSocket (with `key`) for `session`'s upgrade
    long_poll,       // session->poll_get(), then finish_poll(reply, ...) and write it
  };
  Kind kind = Kind::reply;
  Reply reply;  // for long_poll: its CORS headers only
  std::shared_ptr<Session> session;
  std::string_view key;
};

// Builds the Handshake of a new session (from the whole request).
using MakeHandshake = std::function<std::shared_ptr<const Handshake>()>;

// What `engine` does with `req` on `loop`, as Node does. Decides, without
// I/O, and acts on the sessions of `loop` where no connection is involved:
// a polling handshake creates and starts its session (with `handshake()`),
// a POST hands its payload to the session (an octet-stream POST closes it
// instead), and a session whose pong is overdue is closed first
// (Session::close_if_overdue). A closed session that is still registered
// is found only by a long-poll GET (Session::linger).
Decision decide(Loop& loop, const Engine& engine, const TransportRequest& req,
                const MakeHandshake& handshake);

// True when decide() would answer `req` with open_websocket: a WebSocket
// handshake for a new session that passes every check. No side effects:
// the front end's fast path asks before it has a connection to decide on.
bool opens_websocket(const Engine& engine, const TransportRequest& req);

// Completes a long-poll reply with the session's answer (PollResponder):
// a payload for 200, else a JSON error.
void finish_poll(Reply& reply, int status, std::string body);

// The value of Access-Control-Allow-Origin for a request from `origin`
// (empty if it sent none); empty when no CORS header is due.
std::string allowed_origin(const CorsOptions& cors, std::string_view origin);

// Node's answer to a request whose body is above maxPayload (413). The
// body is lost, so the session it was for (`sid` on `loop`, if any) is
// closed; `closed` tells whether there was one.
Reply payload_too_large(Loop& loop, std::string_view sid, bool& closed);

}  // namespace rollcall::engineio
