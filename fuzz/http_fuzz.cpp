// Fuzzes what the HTTP front end does with a new connection's bytes:
// Beast's request parser with rollcall's limits (none on the body until the
// header is parsed, then the route's), the status a refused request gets,
// the framing check, route matching, then the request helpers (target and
// query, WebSocket handshake checks) on whatever parsed.
#include "server/http_request.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

namespace http = boost::beast::http;
using namespace rollcall::request;

constexpr std::size_t kBodyLimit = 1024;  // small, so that short inputs reach it

// A parser error on bytes the client sent is always answered, with one of
// the front end's three refusal statuses; `need_more` only asks for more.
void check_refusal(boost::system::error_code ec) {
  if (ec == http::error::need_more) return;
  auto r = refusal(ec);
  if (!r) __builtin_trap();
  auto s = r->status;
  if (s != http::status::bad_request && s != http::status::payload_too_large &&
      s != http::status::request_header_fields_too_large) {
    __builtin_trap();
  }
  if (r->reason.empty()) __builtin_trap();
}

void check_routes(std::string_view path) {
  for (std::string_view route : {"/healthz", "/v1/", "/", "/socket.io/"}) {
    bool m = route_matches(route, path);
    if (m && !path.starts_with(route)) __builtin_trap();
    if (m && route.back() != '/' && path.size() != route.size()) __builtin_trap();  // exact
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));  // as the server
  parser.body_limit(boost::none);
  boost::system::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (used > size) __builtin_trap();
  if (ec) {
    check_refusal(ec);
    return 0;
  }
  if (!parser.is_header_done()) return 0;
  const auto& req = parser.get();
  if (auto f = check_framing(req, parser.chunked()); f && f->status != http::status::bad_request) {
    __builtin_trap();
  }
  if (auto q = parse_target(req.target())) {
    if (q->eio.size() + q->transport.size() + q->sid.size() > size) __builtin_trap();
    for (const auto& [k, v] : q->all) {
      if (k.size() + v.size() > size) __builtin_trap();  // decoding never grows
    }
    check_routes(q->path);
  }
  bool upgrade = is_websocket_upgrade(req);
  auto key = websocket_key(req);
  if (key && key->size() > size) __builtin_trap();
  (void)upgrade;
  for (const auto& f : req) (void)has_token(f.value(), "upgrade");

  // The body, as the server reads it: a Content-Length above the limit is
  // refused unread, else the parser enforces the limit.
  if (parser.is_done() || (parser.content_length() && *parser.content_length() > kBodyLimit)) return 0;
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  parser.put(boost::asio::buffer(data + used, size - used), ec);
  if (ec) {
    check_refusal(ec);
  } else if (parser.is_done() && parser.get().body().size() > kBodyLimit) {
    __builtin_trap();
  }
  return 0;
}
