// Fuzzes what the HTTP front end does with a new connection's first bytes:
// Beast's request parser with rollcall's limits, then the request helpers
// (target and query, WebSocket handshake checks) on whatever parsed.
#include "server/http_request.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);  // as the server
  parser.body_limit(64 * 1024);
  boost::system::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(data, size), ec);
  if (used > size) __builtin_trap();
  if (ec || !parser.is_header_done()) return 0;
  const auto& req = parser.get();
  if (auto q = rollcall::request::parse_target(req.target())) {
    if (q->eio.size() + q->transport.size() + q->sid.size() > size) __builtin_trap();
    for (const auto& [k, v] : q->all) {
      if (k.size() + v.size() > size) __builtin_trap();  // decoding never grows
    }
  }
  bool upgrade = rollcall::request::is_websocket_upgrade(req);
  auto key = rollcall::request::websocket_key(req);
  if (key && key->size() > size) __builtin_trap();
  (void)upgrade;
  for (const auto& f : req) (void)rollcall::request::has_token(f.value(), "upgrade");
  return 0;
}
