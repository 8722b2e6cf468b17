#include "server/http_request.hpp"

#include <gtest/gtest.h>

namespace rollcall::request {
namespace {

namespace http = boost::beast::http;

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

}  // namespace
}  // namespace rollcall::request
