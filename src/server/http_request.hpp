// What an HTTP request asks of the front end, without any I/O: its path and
// Engine.IO query, and whether it is a WebSocket handshake rollcall accepts.
// Used by the HTTP server on every new connection; fuzzed by
// fuzz/http_fuzz.cpp together with Beast's request parser.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace rollcall::request {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

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

}  // namespace rollcall::request
