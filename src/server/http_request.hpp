// What an HTTP request asks of the front end, without any I/O: its path and
// Engine.IO query, whether it is a WebSocket handshake rollcall accepts, and
// what Engine.IO's transport rules see of it. Also which status answers a
// request the front end refuses, and which application route a path selects. Used by the HTTP server on every new
// connection; fuzzed by fuzz/http_fuzz.cpp together with Beast's request
// parser.
#pragma once

#include "engineio/transport.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rollcall::request {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct Query {
  std::string eio, transport, sid;               // the Engine.IO parameters
  std::map<std::string, std::string> all;        // every parameter, decoded
  std::string path;
};

// Parses an origin-form request target ("/socket.io/?EIO=4&..."); nullopt if
// it is not one.
std::optional<Query> parse_target(std::string_view target);

// True if the comma-separated header value contains `token` (ASCII case is
// ignored, as are spaces and tabs around each element).
bool has_token(std::string_view value, std::string_view token);

// A GET with `Upgrade: websocket` and `Connection: upgrade`.
bool is_websocket_upgrade(const Request& req);

// The Sec-WebSocket-Key of a handshake rollcall accepts (a key and version
// 13), else nullopt.
std::optional<std::string_view> websocket_key(const Request& req);

// What Engine.IO's transport rules (engineio/transport.hpp) see of a request
// to an endpoint; views into `req` and `query`.
engineio::TransportRequest transport_request(const Request& req, const Query& query);

// The largest request header the front end reads (request line and fields);
// 431 above it.
inline constexpr std::size_t kHeaderLimit = 16 * 1024;

// A request the front end answers with an error status and then closes.
struct Refusal {
  boost::beast::http::status status;
  std::string reason;  // for the log line and the JSON body
};

// The answer to a read that failed with `ec` (from Beast's request parser or
// the socket): 431 for a header over kHeaderLimit, 413 for a body over its
// limit, 400 for a malformed request or ambiguous framing (Content-Length
// with Transfer-Encoding, two differing Content-Length, a bad chunk).
// nullopt when nobody is there to answer: the client closed or reset the
// connection, or timed out, possibly mid-request.
std::optional<Refusal> refusal(boost::system::error_code ec);

// What Beast accepts but the body length cannot be known from: a
// Transfer-Encoding whose last coding is not chunked (RFC 9112, 6.3) -> 400.
// `chunked` is the parser's chunked().
std::optional<Refusal> check_framing(const Request& head, bool chunked);

// Whether an application route (Server::add_http_route) serves `path`: a
// route ending in '/' ("/v1/") serves every path under it, any other route
// ("/healthz") that path only.
bool route_matches(std::string_view route, std::string_view path);

}  // namespace rollcall::request
