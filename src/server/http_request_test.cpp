#include "server/http_request.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace rollcall::request {
namespace {

namespace http = boost::beast::http;

// Parses `bytes` as the server does: no body limit while the header is
// parsed, then `body_limit`. The parser's error (need_more: incomplete).
boost::system::error_code parse(std::string_view bytes, std::uint64_t body_limit = 1 << 20,
                                http::request_parser<http::string_body>* out = nullptr) {
  http::request_parser<http::string_body> local;
  auto& parser = out ? *out : local;
  parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
  parser.body_limit(boost::none);
  boost::system::error_code ec;
  std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_header_done() || parser.is_done()) return ec;
  bytes.remove_prefix(used);
  // As the server: a Content-Length above the limit is refused unread.
  if (parser.content_length() && *parser.content_length() > body_limit) return http::error::body_limit;
  parser.body_limit(body_limit);
  parser.eager(true);
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  return ec;
}

std::optional<unsigned> status_for(std::string_view bytes, std::uint64_t body_limit = 1 << 20) {
  auto r = refusal(parse(bytes, body_limit));
  if (!r) return std::nullopt;
  return static_cast<unsigned>(r->status);
}

Request upgrade_request(std::string_view upgrade, std::string_view connection,
                        std::string_view version = "13") {
  Request req{http::verb::get, "/socket.io/?EIO=4&transport=websocket", 11};
  req.set(http::field::upgrade, upgrade);
  req.set(http::field::connection, connection);
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, version);
  return req;
}

TEST(HttpRequest, HasTokenFindsAnElementOfACommaSeparatedListIgnoringCaseAndBlanks) {
  EXPECT_TRUE(has_token("Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(has_token("keep-alive,\tUPGRADE ,close", "upgrade"));
  EXPECT_FALSE(has_token("keep-alive", "upgrade"));
  EXPECT_FALSE(has_token("upgrades", "upgrade"));
  EXPECT_FALSE(has_token("up grade", "upgrade"));
  EXPECT_FALSE(has_token("", "upgrade"));
  EXPECT_FALSE(has_token(",,,", "upgrade"));
}

TEST(HttpRequest, ParseTargetDecodesThePathAndEveryQueryParameter) {
  auto q = parse_target("/socket.io/?EIO=4&transport=polling&sid=ab%2Dc&t=P1&flag");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->path, "/socket.io/");
  EXPECT_EQ(q->eio, "4");
  EXPECT_EQ(q->transport, "polling");
  EXPECT_EQ(q->sid, "ab-c");
  EXPECT_EQ(q->all.at("t"), "P1");
  EXPECT_EQ(q->all.at("flag"), "");
  EXPECT_EQ(q->all.size(), 5u);
}

TEST(HttpRequest, ParseTargetRefusesWhatIsNotAnOriginFormTarget) {
  EXPECT_FALSE(parse_target("http://example.com/socket.io/"));
  EXPECT_FALSE(parse_target("socket.io/"));
  EXPECT_FALSE(parse_target("/a b"));
  EXPECT_FALSE(parse_target("/%zz"));
  EXPECT_FALSE(parse_target(""));
}

TEST(HttpRequest, WebSocketHandshakeNeedsGetBothHeadersAKeyAndVersion13) {
  EXPECT_TRUE(is_websocket_upgrade(upgrade_request("websocket", "Upgrade")));
  EXPECT_TRUE(is_websocket_upgrade(upgrade_request("WebSocket", "keep-alive, Upgrade")));
  EXPECT_FALSE(is_websocket_upgrade(upgrade_request("h2c", "Upgrade")));
  EXPECT_FALSE(is_websocket_upgrade(upgrade_request("websocket", "keep-alive")));
  auto post = upgrade_request("websocket", "Upgrade");
  post.method(http::verb::post);
  EXPECT_FALSE(is_websocket_upgrade(post));

  auto req = upgrade_request("websocket", "Upgrade");
  auto key = websocket_key(req);  // a view into req
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_FALSE(websocket_key(upgrade_request("websocket", "Upgrade", "8")));
  auto no_key = upgrade_request("websocket", "Upgrade");
  no_key.erase(http::field::sec_websocket_key);
  EXPECT_FALSE(websocket_key(no_key));
}

TEST(HttpRequest, AHeaderOverTheLimitIs431) {
  std::string big = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n";
  EXPECT_EQ(status_for(big), 431u);
  auto r = refusal(parse(big));
  ASSERT_TRUE(r);
  EXPECT_NE(r->reason.find("16384"), std::string::npos) << r->reason;
  // Just under the limit is fine.
  std::string fits = "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(15 * 1024, 'a') + "\r\n\r\n";
  EXPECT_FALSE(parse(fits));
}

TEST(HttpRequest, AmbiguousFramingIs400) {
  // Content-Length with Transfer-Encoding, in either order.
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400u);
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"), 400u);
  // Two differing Content-Length (equal ones are allowed, RFC 9110 8.6).
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400u);
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n"), 400u);
  EXPECT_FALSE(status_for("POST /v1/x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"));
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400u);
  // A bad chunk.
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"), 400u);
  // Malformed request lines and fields.
  EXPECT_EQ(status_for("GET /x HTTP/9.9\r\n\r\n"), 400u);
  EXPECT_EQ(status_for("G(T /x HTTP/1.1\r\n\r\n"), 400u);
  EXPECT_EQ(status_for("GET /x HTTP/1.1\r\nBad Field: 1\r\n\r\n"), 400u);
  auto r = refusal(parse("POST /v1/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->reason.starts_with("bad request: ")) << r->reason;
}

TEST(HttpRequest, TransferEncodingMustEndInChunked) {
  http::request_parser<http::string_body> p;
  EXPECT_FALSE(parse("POST /v1/x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 1 << 20, &p));
  auto r = check_framing(p.get(), p.chunked());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, http::status::bad_request);

  http::request_parser<http::string_body> twice;
  parse("POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 1 << 20, &twice);
  EXPECT_TRUE(check_framing(twice.get(), twice.chunked()));

  http::request_parser<http::string_body> ok;
  EXPECT_FALSE(parse("POST /v1/x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                     1 << 20, &ok));
  EXPECT_FALSE(check_framing(ok.get(), ok.chunked()));
  http::request_parser<http::string_body> none;
  EXPECT_FALSE(parse("GET /v1/x HTTP/1.1\r\n\r\n", 1 << 20, &none));
  EXPECT_FALSE(check_framing(none.get(), none.chunked()));
}

TEST(HttpRequest, TheHeaderAppliesNoBodyLimitTheRouteDoes) {
  // A huge Content-Length passes the header: the server compares it with
  // the route's limit and answers 413 without reading the body.
  http::request_parser<http::string_body> p;
  auto ec = parse("POST /v1/x HTTP/1.1\r\nContent-Length: 1000000000000000000\r\n\r\n", 1 << 20, &p);
  EXPECT_TRUE(p.is_header_done()) << ec.message();
  ASSERT_TRUE(p.content_length());
  EXPECT_EQ(*p.content_length(), 1000000000000000000u);
  EXPECT_EQ(status_for("POST /v1/x HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 65536), 413u);
  // A chunked body growing past the limit is 413.
  std::string chunked = "POST /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n";
  EXPECT_EQ(status_for(chunked, 10), 413u);
  EXPECT_FALSE(parse(chunked, 16));
}

TEST(HttpRequest, NobodyToAnswerWhenTheClientIsGone) {
  namespace asio = boost::asio;
  for (boost::system::error_code ec :
       {boost::system::error_code{}, make_error_code(http::error::end_of_stream),
        make_error_code(http::error::partial_message), make_error_code(http::error::short_read),
        make_error_code(http::error::need_more), make_error_code(boost::beast::error::timeout),
        boost::system::error_code(asio::error::eof), boost::system::error_code(asio::error::connection_reset),
        boost::system::error_code(asio::error::operation_aborted)}) {
    EXPECT_FALSE(refusal(ec)) << ec.message();
  }
  // Half a request, then the end of the stream: nothing to answer either.
  EXPECT_EQ(parse("GET /healthz HTTP/1.1\r\nHost"), http::error::need_more);
}

TEST(HttpRequest, RoutesMatchExactlyOrAsASubtreeWhenTheyEndInASlash) {
  EXPECT_TRUE(route_matches("/healthz", "/healthz"));
  EXPECT_FALSE(route_matches("/healthz", "/healthzXYZ"));
  EXPECT_FALSE(route_matches("/healthz", "/healthz/x"));
  EXPECT_FALSE(route_matches("/healthz", "/health"));
  EXPECT_FALSE(route_matches("/healthz", "/"));
  EXPECT_TRUE(route_matches("/v1/", "/v1/"));
  EXPECT_TRUE(route_matches("/v1/", "/v1/presence/users/x"));
  EXPECT_FALSE(route_matches("/v1/", "/v1"));
  EXPECT_FALSE(route_matches("/v1/", "/v10/x"));
  EXPECT_FALSE(route_matches("/v1/", "/v2/x"));
  EXPECT_TRUE(route_matches("/", "/anything"));
  EXPECT_FALSE(route_matches("", "/"));
  EXPECT_TRUE(route_matches("", ""));
}

TEST(HttpRequest, TheTransportRulesSeeTheQueryTheHandshakeAndTheCorsFields) {
  Request req = upgrade_request("websocket", "Upgrade");
  req.target("/socket.io/?EIO=4&transport=websocket&sid=abc&x=1");
  req.set(http::field::origin, "https://a.example");
  auto query = parse_target(req.target());
  ASSERT_TRUE(query);
  auto t = transport_request(req, *query);
  EXPECT_EQ(t.method, engineio::Method::get);
  EXPECT_EQ(t.eio, "4");
  EXPECT_EQ(t.transport, "websocket");
  EXPECT_EQ(t.sid, "abc");
  EXPECT_TRUE(t.websocket_upgrade);
  EXPECT_EQ(t.websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(t.origin, "https://a.example");
  EXPECT_FALSE(t.request_headers);
  EXPECT_EQ(t.content_type, "");

  Request post{http::verb::post, "/socket.io/?EIO=4&transport=polling", 11};
  post.set(http::field::content_type, "text/plain;charset=UTF-8");
  post.set(http::field::access_control_request_headers, "");
  post.body() = "4hi";
  query = parse_target(post.target());
  ASSERT_TRUE(query);
  t = transport_request(post, *query);
  EXPECT_EQ(t.method, engineio::Method::post);
  EXPECT_EQ(t.sid, "");
  EXPECT_FALSE(t.websocket_upgrade);
  EXPECT_FALSE(t.websocket_key);
  EXPECT_EQ(t.origin, "");
  EXPECT_EQ(t.request_headers, "");  // present, if empty
  EXPECT_EQ(t.content_type, "text/plain;charset=UTF-8");
  EXPECT_EQ(t.body, "4hi");

  for (auto [verb, method] : {std::pair{http::verb::options, engineio::Method::options},
                              std::pair{http::verb::put, engineio::Method::other},
                              std::pair{http::verb::head, engineio::Method::other}}) {
    post.method(verb);
    EXPECT_EQ(transport_request(post, *query).method, method);
  }
}

}  // namespace
}  // namespace rollcall::request
