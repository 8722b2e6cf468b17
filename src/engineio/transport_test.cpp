// Engine.IO's transport rules without a connection: Node's error codes and
// messages, CORS, the polling handshake, POSTs, long polls and WebSockets.
#include "engineio/transport.hpp"

#include "engineio/loop.hpp"
#include "engineio/session.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace rollcall::engineio {
namespace {

using Kind = Decision::Kind;

class Recorder final : public SessionHandler {
 public:
  explicit Recorder(std::vector<std::string>& messages) : messages_(messages) {}
  void on_message(std::string_view data, bool) override { messages_.emplace_back(data); }
  void on_close(CloseReason) override {}

 private:
  std::vector<std::string>& messages_;
};

class Transport : public ::testing::Test {
 protected:
  Transport() {
    engine.path = "/engine.io/";
    engine.make_handler = [this](Session&) { return std::make_unique<Recorder>(messages); };
  }
  ~Transport() override { loop.sessions.clear(); }

  static TransportRequest polling(Method method = Method::get, std::string_view sid = {}) {
    TransportRequest r;
    r.method = method;
    r.eio = "4";
    r.transport = "polling";
    r.sid = sid;
    return r;
  }
  static TransportRequest websocket(std::string_view sid = {}) {
    TransportRequest r = polling(Method::get, sid);
    r.transport = "websocket";
    r.websocket_upgrade = true;
    r.websocket_key = "dGhlIHNhbXBsZSBub25jZQ==";
    return r;
  }

  Decision decide(const TransportRequest& r) {
    return engineio::decide(loop, engine, r, [this] {
      ++handshakes;
      return std::make_shared<const Handshake>();
    });
  }
  // A new polling session; its sid.
  std::string open_polling() {
    auto d = decide(polling());
    EXPECT_EQ(d.kind, Kind::reply);
    EXPECT_EQ(d.reply.status, 200);
    EXPECT_EQ(loop.sessions.size(), 1u);
    return loop.sessions.empty() ? std::string() : std::string(loop.sessions.begin()->first);
  }

  static std::string header(const Reply& r, std::string_view name) {
    for (const auto& h : r.headers) {
      if (h.name == name) return h.value;
    }
    return "<none>";
  }

  // The error reply Node gives for `code`.
  static void expect_error(const Decision& d, int code, std::string_view message) {
    EXPECT_EQ(d.kind, Kind::reply);
    EXPECT_EQ(d.reply.status, 400);
    EXPECT_EQ(d.reply.content_type, "application/json");
    EXPECT_EQ(d.reply.body, R"({"code":)" + std::to_string(code) + R"(,"message":")" +
                                std::string(message) + R"("})");
  }

  std::vector<std::string> messages;  // before the loop: its sessions' handlers refer to
  int handshakes = 0;                  // these, and the sessions to the engine
  Engine engine;
  Loop loop{0};
};

TEST(TransportErrors, BodiesAreNodes) {
  EXPECT_EQ(error_body(HttpError::unknown_transport), R"({"code":0,"message":"Transport unknown"})");
  EXPECT_EQ(error_body(HttpError::unknown_sid), R"({"code":1,"message":"Session ID unknown"})");
  EXPECT_EQ(error_body(HttpError::bad_handshake_method), R"({"code":2,"message":"Bad handshake method"})");
  EXPECT_EQ(error_body(HttpError::bad_request), R"({"code":3,"message":"Bad request"})");
  EXPECT_EQ(error_body(HttpError::forbidden), R"({"code":4,"message":"Forbidden"})");
  EXPECT_EQ(error_body(HttpError::unsupported_protocol_version),
            R"({"code":5,"message":"Unsupported protocol version"})");
}

TEST(TransportEngines, AnEndpointServesItsPathItsSubpathsAndItsPathWithoutTheSlash) {
  std::vector<std::unique_ptr<Engine>> engines;
  engines.push_back(std::make_unique<Engine>());
  engines.back()->path = "/socket.io/";
  engines.push_back(std::make_unique<Engine>());
  engines.back()->path = "/echo/";
  EXPECT_EQ(find_engine(engines, "/socket.io/"), engines[0].get());
  EXPECT_EQ(find_engine(engines, "/socket.io"), engines[0].get());
  EXPECT_EQ(find_engine(engines, "/socket.io/x"), engines[0].get());
  EXPECT_EQ(find_engine(engines, "/echo"), engines[1].get());
  EXPECT_EQ(find_engine(engines, "/socket.iox"), nullptr);
  EXPECT_EQ(find_engine(engines, "/"), nullptr);
  EXPECT_EQ(find_engine(engines, ""), nullptr);
}

TEST_F(Transport, AnEioOtherThanFourIsCode5) {
  auto r = polling();
  r.eio = "3";
  expect_error(decide(r), 5, "Unsupported protocol version");
  r.eio = {};
  expect_error(decide(r), 5, "Unsupported protocol version");
  EXPECT_TRUE(loop.sessions.empty());
}

TEST_F(Transport, AnUnknownOrDisabledTransportIsCode0) {
  auto r = polling();
  r.transport = "flashsocket";
  expect_error(decide(r), 0, "Transport unknown");
  r.transport = {};
  expect_error(decide(r), 0, "Transport unknown");
  engine.options.allow_polling = false;
  expect_error(decide(polling()), 0, "Transport unknown");
  engine.options.allow_websocket = false;
  expect_error(decide(websocket()), 0, "Transport unknown");
  EXPECT_TRUE(loop.sessions.empty());
}

TEST_F(Transport, ATransportThatDisagreesWithTheUpgradeHeadersIsCode3) {
  auto r = polling();
  r.websocket_upgrade = true;
  expect_error(decide(r), 3, "Bad request");
  r = websocket();
  r.websocket_upgrade = false;
  expect_error(decide(r), 3, "Bad request");
  EXPECT_TRUE(loop.sessions.empty());
}

TEST_F(Transport, AHandshakeOtherThanGetIsCode2) {
  expect_error(decide(polling(Method::post)), 2, "Bad handshake method");
  expect_error(decide(polling(Method::other)), 2, "Bad handshake method");
  EXPECT_TRUE(loop.sessions.empty());
  EXPECT_EQ(handshakes, 0);
}

TEST_F(Transport, AnUnknownSidIsCode1) {
  expect_error(decide(polling(Method::get, "AAAAAAAAAAAAAAAAAAAA")), 1, "Session ID unknown");
  expect_error(decide(polling(Method::post, "AAAAAAAAAAAAAAAAAAAA")), 1, "Session ID unknown");
  expect_error(decide(websocket("AAAAAAAAAAAAAAAAAAAA")), 1, "Session ID unknown");
}

TEST_F(Transport, APollingHandshakeStartsASessionAndAnswersItsOpenPacket) {
  auto d = decide(polling());
  ASSERT_EQ(d.kind, Kind::reply);
  EXPECT_EQ(d.reply.status, 200);
  EXPECT_EQ(d.reply.content_type, "text/plain; charset=UTF-8");
  EXPECT_TRUE(d.reply.headers.empty());
  EXPECT_EQ(handshakes, 1);
  ASSERT_EQ(loop.sessions.size(), 1u);
  auto& session = *loop.sessions.begin()->second;
  EXPECT_EQ(d.reply.body, session.open_packet());
  EXPECT_EQ(d.reply.body.rfind(R"(0{"sid":")" + session.sid() + '"', 0), 0u);
  EXPECT_FALSE(session.websocket());
  EXPECT_EQ(id_tag(session.sid()), 0);
}

TEST_F(Transport, AGetForASessionIsALongPollAndAPostDeliversItsPayload) {
  auto sid = open_polling();
  auto d = decide(polling(Method::get, sid));
  ASSERT_EQ(d.kind, Kind::long_poll);
  EXPECT_EQ(d.session, loop.sessions.begin()->second);
  finish_poll(d.reply, 200, "4hi");
  EXPECT_EQ(d.reply.status, 200);
  EXPECT_EQ(d.reply.content_type, "text/plain; charset=UTF-8");
  EXPECT_EQ(d.reply.body, "4hi");
  finish_poll(d.reply, 400, error_body(HttpError::bad_request));
  EXPECT_EQ(d.reply.status, 400);
  EXPECT_EQ(d.reply.content_type, "application/json");

  auto post = polling(Method::post, sid);
  post.content_type = "text/plain;charset=UTF-8";
  post.body = "4one\x1e" "4two";
  d = decide(post);
  ASSERT_EQ(d.kind, Kind::reply);
  EXPECT_EQ(d.reply.status, 200);
  EXPECT_EQ(d.reply.content_type, "text/html");
  EXPECT_EQ(d.reply.body, "ok");
  EXPECT_EQ(messages, (std::vector<std::string>{"one", "two"}));
}

TEST_F(Transport, ABadPayloadOrAnOctetStreamPostIsCode3AndClosesTheSession) {
  auto sid = open_polling();
  auto post = polling(Method::post, sid);
  post.body = "x";
  expect_error(decide(post), 3, "Bad request");
  EXPECT_TRUE(loop.sessions.empty());

  sid = open_polling();
  post = polling(Method::post, sid);
  post.content_type = "application/octet-stream";
  post.body = "4hi";
  expect_error(decide(post), 3, "Bad request");
  EXPECT_TRUE(loop.sessions.empty());
  EXPECT_TRUE(messages.empty());
}

TEST_F(Transport, OtherMethodsOnASessionAreCode3) {
  auto sid = open_polling();
  expect_error(decide(polling(Method::other, sid)), 3, "Bad request");
  EXPECT_EQ(loop.sessions.size(), 1u);
}

TEST_F(Transport, AClosedSessionIsOnlyFoundByALongPoll) {
  auto sid = open_polling();
  // The client's close packet, no GET pending: the session lingers, closed.
  auto post = polling(Method::post, sid);
  post.body = "1";
  EXPECT_EQ(decide(post).reply.status, 200);
  ASSERT_EQ(loop.sessions.size(), 1u);
  EXPECT_TRUE(loop.sessions.begin()->second->closed());
  expect_error(decide(post), 1, "Session ID unknown");
  expect_error(decide(websocket(sid)), 1, "Session ID unknown");
  EXPECT_EQ(decide(polling(Method::get, sid)).kind, Kind::long_poll);
}

TEST_F(Transport, AWebSocketForAPollingSessionIsAnUpgrade) {
  auto sid = open_polling();
  auto d = decide(websocket(sid));
  ASSERT_EQ(d.kind, Kind::upgrade);
  EXPECT_EQ(d.session, loop.sessions.begin()->second);
  EXPECT_EQ(d.key, "dGhlIHNhbXBsZSBub25jZQ==");

  auto bad = websocket(sid);
  bad.websocket_key.reset();
  auto refused = decide(bad);
  EXPECT_EQ(refused.kind, Kind::refuse);
  EXPECT_EQ(refused.reply.status, 400);
  EXPECT_EQ(refused.reply.body, error_body(HttpError::bad_request));
}

TEST_F(Transport, PollingRequestsForAWebSocketSessionAreCode3) {
  auto session = std::make_shared<Session>(loop, engine, make_id(0), true, std::make_shared<const Handshake>());
  session->start();
  expect_error(decide(polling(Method::get, session->sid())), 3, "Bad request");
  expect_error(decide(polling(Method::post, session->sid())), 3, "Bad request");
}

TEST_F(Transport, ANewWebSocketIsOpenedByTheFrontEndAndOnlyWithAKey) {
  auto r = websocket();
  EXPECT_TRUE(opens_websocket(engine, r));
  auto d = decide(r);
  EXPECT_EQ(d.kind, Kind::open_websocket);
  EXPECT_EQ(d.key, "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_TRUE(loop.sessions.empty());  // the front end creates it with its connection
  EXPECT_EQ(handshakes, 0);

  r.websocket_key.reset();
  EXPECT_FALSE(opens_websocket(engine, r));
  d = decide(r);
  EXPECT_EQ(d.kind, Kind::refuse);
  expect_error(Decision{Kind::reply, d.reply, nullptr, {}}, 3, "Bad request");
}

TEST_F(Transport, OpensWebSocketAgreesWithDecide) {
  auto sid = open_polling();
  std::vector<TransportRequest> requests;
  for (int i = 0; i < 7; ++i) requests.push_back(websocket());
  requests[0].sid = sid;
  requests[1].eio = "3";
  requests[2].transport = "polling";
  requests[3].websocket_upgrade = false;
  requests[4].method = Method::post;
  requests[5].websocket_key.reset();
  for (const auto& r : requests) {
    EXPECT_EQ(opens_websocket(engine, r), decide(r).kind == Kind::open_websocket);
  }
  engine.options.allow_websocket = false;
  EXPECT_FALSE(opens_websocket(engine, websocket()));
}

TEST(TransportCors, NoOriginsNoHeaders) {
  CorsOptions cors;
  EXPECT_EQ(allowed_origin(cors, "https://a.example"), "");
  EXPECT_EQ(allowed_origin(cors, ""), "");
}

TEST(TransportCors, AListedOriginIsEchoedAnOtherGetsNothing) {
  CorsOptions cors{{"https://a.example", "https://b.example"}, false};
  EXPECT_EQ(allowed_origin(cors, "https://b.example"), "https://b.example");
  EXPECT_EQ(allowed_origin(cors, "https://c.example"), "");
  EXPECT_EQ(allowed_origin(cors, ""), "");
}

TEST(TransportCors, AStarAllowsAnyOriginButIsEchoedWithCredentials) {
  CorsOptions cors{{"*"}, false};
  EXPECT_EQ(allowed_origin(cors, "https://a.example"), "*");
  EXPECT_EQ(allowed_origin(cors, ""), "*");
  cors.credentials = true;
  EXPECT_EQ(allowed_origin(cors, "https://a.example"), "https://a.example");
  EXPECT_EQ(allowed_origin(cors, ""), "*");
}

TEST_F(Transport, RepliesCarryTheCorsHeaders) {
  engine.options.cors = CorsOptions{{"https://a.example"}, true};
  auto r = polling();
  r.eio = "3";
  r.origin = "https://a.example";
  auto d = decide(r);
  ASSERT_EQ(d.reply.headers.size(), 3u);
  EXPECT_EQ(d.reply.headers[0].name, "Access-Control-Allow-Origin");
  EXPECT_EQ(d.reply.headers[0].value, "https://a.example");
  EXPECT_EQ(d.reply.headers[1].name, "Access-Control-Allow-Credentials");
  EXPECT_EQ(d.reply.headers[1].value, "true");
  EXPECT_EQ(d.reply.headers[2].name, "Vary");
  EXPECT_EQ(d.reply.headers[2].value, "Origin");

  r.origin = "https://evil.example";
  EXPECT_TRUE(decide(r).reply.headers.empty());

  engine.options.cors = CorsOptions{{"*"}, false};
  d = decide(r);
  ASSERT_EQ(d.reply.headers.size(), 1u);  // no Vary for "*"
  EXPECT_EQ(header(d.reply, "Access-Control-Allow-Origin"), "*");

  // A long poll's reply keeps them once the session has answered.
  auto sid = open_polling();
  auto get = polling(Method::get, sid);
  get.origin = "https://a.example";
  d = decide(get);
  ASSERT_EQ(d.kind, Kind::long_poll);
  finish_poll(d.reply, 200, "6");
  EXPECT_EQ(header(d.reply, "Access-Control-Allow-Origin"), "*");
}

TEST_F(Transport, APreflightIs204WithTheAllowedMethodsAndHeaders) {
  TransportRequest r;
  r.method = Method::options;
  r.origin = "https://a.example";
  r.request_headers = "content-type, x-token";
  auto d = decide(r);  // no CORS configured
  EXPECT_EQ(d.kind, Kind::reply);
  EXPECT_EQ(d.reply.status, 204);
  EXPECT_EQ(d.reply.content_type, "text/plain");
  EXPECT_EQ(d.reply.body, "");
  EXPECT_TRUE(d.reply.headers.empty());
  EXPECT_TRUE(d.reply.preflight.empty());

  engine.options.cors = CorsOptions{{"https://a.example"}, false};
  d = decide(r);  // whatever EIO and transport say
  EXPECT_EQ(d.reply.status, 204);
  using Fields = std::vector<std::pair<std::string, std::string>>;
  auto fields = [](const std::vector<Header>& headers) {
    Fields got;
    for (const auto& h : headers) got.emplace_back(h.name, h.value);
    return got;
  };
  EXPECT_EQ(fields(d.reply.headers), (Fields{{"Access-Control-Allow-Origin", "https://a.example"},
                                             {"Vary", "Origin"}}));
  EXPECT_EQ(fields(d.reply.preflight), (Fields{{"Access-Control-Allow-Methods", "GET,POST"},
                                               {"Access-Control-Allow-Headers", "content-type, x-token"},
                                               {"Access-Control-Max-Age", "86400"}}));
  r.request_headers.reset();
  EXPECT_EQ(fields(decide(r).reply.preflight), (Fields{{"Access-Control-Allow-Methods", "GET,POST"},
                                                       {"Access-Control-Max-Age", "86400"}}));
}

TEST_F(Transport, ABodyTooLargeIsNodes413AndClosesItsSession) {
  bool closed = true;
  auto reply = payload_too_large(loop, "", closed);
  EXPECT_FALSE(closed);
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, R"({"code":3,"message":"Payload too large"})");
  EXPECT_TRUE(reply.headers.empty());

  auto sid = open_polling();
  payload_too_large(loop, "AAAAAAAAAAAAAAAAAAAA", closed);
  EXPECT_FALSE(closed);
  EXPECT_EQ(loop.sessions.size(), 1u);
  payload_too_large(loop, sid, closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(loop.sessions.empty());
}

}  // namespace
}  // namespace rollcall::engineio
