#include "hooks/webhook_sender.hpp"
#include "common/clock.hpp"

#include "hooks/memory_outbox.hpp"
#include "hooks/test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace rollcall::hooks {
namespace {

using namespace std::chrono_literals;
using testkit::Received;
using testkit::Receiver;
using testkit::hang_reply;
using testkit::Reply;
using testkit::slow_reply;
using testkit::status_reply;
using testkit::run_until;
using testkit::SelfSignedCert;
namespace asio = boost::asio;
namespace json = boost::json;

constexpr const char* kSecret = "whsec_rollcall_test";
constexpr std::int64_t kBaseAt = 1796004258123;  // 2026-11-30T02:04:18.123Z

// HMAC-SHA256 recomputed here, independently of sign().
// True if `text` has the shape of `pattern`, where '9' stands for any digit.
bool shaped(const std::string& text, const std::string& pattern) {
  if (text.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (pattern[i] == '9' ? !digit : text[i] != pattern[i]) return false;
  }
  return true;
}

std::string expected_signature(const std::string& timestamp, const std::string& body) {
  const std::string message = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(std::strlen(kSecret)),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  std::string hex = "sha256=";
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

struct SeenEvent {
  std::string id, type, user, at;
  std::uint64_t seq = 0, connections = 0;
};

// Checks headers, signature and the JSON schema of one request; returns its events.
std::vector<SeenEvent> check_request(const Received& r) {
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.user_agent, "rollcall/0.1");
  EXPECT_TRUE(shaped(r.timestamp, "9999999999")) << r.timestamp;
  const auto ts = std::atoll(r.timestamp.c_str());
  EXPECT_LT(std::llabs(ts - unix_ms() / 1000), 300);
  EXPECT_EQ(r.signature, expected_signature(r.timestamp, r.body));

  std::vector<SeenEvent> out;
  boost::system::error_code ec;
  const json::value root = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  if (ec || !root.is_object()) {
    ADD_FAILURE() << "not a JSON object: " << r.body;
    return out;
  }
  EXPECT_EQ(root.as_object().size(), 1u);
  const auto* events = root.as_object().if_contains("events");
  if (!events || !events->is_array()) {
    ADD_FAILURE() << "no events array: " << r.body;
    return out;
  }
  for (const auto& v : events->as_array()) {
    if (!v.is_object()) {
      ADD_FAILURE() << "event is not an object";
      continue;
    }
    const auto& o = v.as_object();
    EXPECT_EQ(o.size(), 6u) << json::serialize(o);
    SeenEvent e;
    if (o.contains("id") && o.at("id").is_string()) e.id = o.at("id").as_string().c_str();
    else ADD_FAILURE() << "id";
    if (o.contains("type") && o.at("type").is_string()) e.type = o.at("type").as_string().c_str();
    else ADD_FAILURE() << "type";
    if (o.contains("user") && o.at("user").is_string()) e.user = o.at("user").as_string().c_str();
    else ADD_FAILURE() << "user";
    if (o.contains("at") && o.at("at").is_string()) e.at = o.at("at").as_string().c_str();
    else ADD_FAILURE() << "at";
    if (o.contains("seq") && o.at("seq").is_number()) e.seq = o.at("seq").to_number<std::uint64_t>();
    else ADD_FAILURE() << "seq";
    if (o.contains("connections") && o.at("connections").is_number()) {
      e.connections = o.at("connections").to_number<std::uint64_t>();
    } else {
      ADD_FAILURE() << "connections";
    }
    EXPECT_TRUE(e.type == "user.online" || e.type == "user.offline") << e.type;
    EXPECT_TRUE(shaped(e.at, "9999-99-99T99:99:99.999Z")) << e.at;
    out.push_back(e);
  }
  return out;
}

std::vector<std::string> ids_of(const Received& r) {
  std::vector<std::string> ids;
  for (auto& e : check_request(r)) ids.push_back(e.id);
  return ids;
}

// Sends spdlog's default logger to a ring buffer for the scope.
class LogCapture {
 public:
  LogCapture()
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(32)),
        previous_(spdlog::default_logger()) {
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const {
    std::string out;
    for (auto& line : sink_->last_formatted()) out += line;
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

class WebhookSenderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& s : senders_) s->stop();
    for (auto& r : receivers_) r->close();
    ioc_.restart();
    ioc_.run_for(2s);  // returns as soon as nothing is pending
  }

  std::shared_ptr<Receiver> start_receiver(std::shared_ptr<asio::ssl::context> tls = nullptr,
                                           std::uint16_t port = 0) {
    auto r = std::make_shared<Receiver>(ioc_, std::move(tls));
    port_ = r->listen(port);
    receivers_.push_back(r);
    return r;
  }

  WebhookConfig config(std::string scheme = "http", std::string host = "127.0.0.1") {
    WebhookConfig cfg;
    cfg.url = scheme + "://" + host + ":" + std::to_string(port_) + "/hooks/rollcall?src=test";
    cfg.secret = kSecret;
    cfg.connect_timeout = 1000ms;
    cfg.request_timeout = 2000ms;
    cfg.backoff_min = 20ms;
    cfg.backoff_max = 80ms;
    return cfg;
  }

  std::shared_ptr<WebhookSender> make_sender(WebhookConfig cfg) {
    std::string error;
    auto s = WebhookSender::create(ioc_.get_executor(), std::move(cfg), outbox_, error);
    EXPECT_TRUE(s) << error;
    if (s) senders_.push_back(s);
    return s;
  }

  std::string enqueue(std::string user, std::uint64_t seq, bool online, std::int64_t created_ms = 0) {
    OutboxEvent e;
    e.id = user + "-" + std::to_string(seq);
    e.type = online ? "user.online" : "user.offline";
    e.user = std::move(user);
    e.seq = seq;
    e.at_ms = kBaseAt + static_cast<std::int64_t>(seq) * 1000;
    e.connections = online ? 1 : 0;
    e.created_ms = created_ms;
    const auto id = e.id;
    outbox_.enqueue(std::move(e));
    return id;
  }

  asio::io_context ioc_;  // first: destroyed last
  MemoryOutbox outbox_;
  std::vector<std::shared_ptr<Receiver>> receivers_;
  std::vector<std::shared_ptr<WebhookSender>> senders_;
  std::uint16_t port_ = 0;
};

TEST(HooksWebhookFormat, Rfc3339Milliseconds) {
  EXPECT_EQ(format_rfc3339_ms(kBaseAt), "2026-11-30T02:04:18.123Z");
  EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_ms(1709251199999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
}

TEST(HooksWebhookFormat, Body) {
  OutboxEvent e;
  e.id = "01J\"x";
  e.type = "user.online";
  e.user = "al\u00e9";
  e.seq = 18446744073709551615ull;
  e.at_ms = kBaseAt;
  e.connections = 3;
  EXPECT_EQ(webhook_body({e}),
            "{\"events\":[{\"id\":\"01J\\\"x\",\"type\":\"user.online\",\"user\":\"al\u00e9\","
            "\"seq\":18446744073709551615,\"at\":\"2026-11-30T02:04:18.123Z\",\"connections\":3}]}");
  EXPECT_EQ(webhook_body({}), "{\"events\":[]}");
}

TEST_F(WebhookSenderTest, DeliversInOrderWithValidSignatureAndSchema) {
  auto receiver = start_receiver();
  auto sender = make_sender(config());
  ASSERT_TRUE(sender);
  std::vector<std::string> ids;
  for (std::uint64_t seq = 1; seq <= 3; ++seq) {
    ids.push_back(enqueue("alice", seq, seq % 2 == 1));
    ids.push_back(enqueue("bob", seq, seq % 2 == 1));
  }
  sender->notify();
  sender->notify();  // coalesced
  ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty(); }));

  ASSERT_EQ(receiver->requests.size(), 1u);
  const auto& r = receiver->requests[0];
  EXPECT_EQ(r.target, "/hooks/rollcall?src=test");
  EXPECT_EQ(r.host, "127.0.0.1:" + std::to_string(port_));
  const auto events = check_request(r);
  ASSERT_EQ(events.size(), 6u);
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].id, ids[i]);
  EXPECT_EQ(events[0].type, "user.online");
  EXPECT_EQ(events[0].user, "alice");
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[0].connections, 1u);
  EXPECT_EQ(events[0].at, "2026-11-30T02:04:19.123Z");
  EXPECT_EQ(events[3].type, "user.offline");
  EXPECT_EQ(events[3].user, "bob");
  EXPECT_EQ(events[3].seq, 2u);
  EXPECT_EQ(events[3].connections, 0u);

  const auto stats = sender->stats();
  EXPECT_EQ(stats.delivered, 6u);
  EXPECT_EQ(stats.failed_attempts, 0u);
  EXPECT_EQ(stats.dead_lettered, 0u);
  EXPECT_TRUE(outbox_.dead(10).empty());
}

TEST_F(WebhookSenderTest, RetriesTheSameBatchAfterServerErrors) {
  auto receiver = start_receiver();
  auto sender = make_sender(config());
  ASSERT_TRUE(sender);
  std::vector<std::string> head = {enqueue("alice", 1, true), enqueue("alice", 2, false),
                                   enqueue("bob", 1, true)};
  std::string late;
  std::vector<std::uint32_t> attempts_seen;
  receiver->policy = [&](const Received&, std::size_t index) {
    attempts_seen.push_back(outbox_.pending(1).at(0).attempts);
    if (index == 1) {
      // A newer event arrives during the failure streak: it joins the retry.
      late = enqueue("carol", 1, true);
      sender->notify();
    }
    return status_reply(index < 3 ? 500 : 200);
  };
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty(); }));

  ASSERT_EQ(receiver->requests.size(), 4u);
  EXPECT_EQ(ids_of(receiver->requests[0]), head);
  EXPECT_EQ(ids_of(receiver->requests[1]), head);
  auto with_late = head;
  with_late.push_back(late);
  EXPECT_EQ(ids_of(receiver->requests[2]), with_late);
  EXPECT_EQ(ids_of(receiver->requests[3]), with_late);
  EXPECT_EQ(attempts_seen, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  // Each timestamp/signature pair is fresh and valid (checked in ids_of).
  const auto stats = sender->stats();
  EXPECT_EQ(stats.delivered, 4u);  // once each: only the 2xx removed them
  EXPECT_EQ(stats.failed_attempts, 3u);
  EXPECT_EQ(stats.dead_lettered, 0u);
}

TEST_F(WebhookSenderTest, DeliversAfterTheReceiverComesUp) {
  {
    // Find a free port, then leave it closed.
    asio::ip::tcp::acceptor probe(ioc_, {asio::ip::make_address("127.0.0.1"), 0});
    port_ = probe.local_endpoint().port();
  }
  auto sender = make_sender(config());
  ASSERT_TRUE(sender);
  const auto a = enqueue("alice", 1, true);
  const auto b = enqueue("alice", 2, false);
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return sender->stats().failed_attempts >= 2; }));
  EXPECT_EQ(outbox_.size(), 2u);
  EXPECT_GE(outbox_.pending(1).at(0).attempts, 2u);

  auto receiver = start_receiver(nullptr, port_);
  ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty(); }, 5s));
  ASSERT_EQ(receiver->requests.size(), 1u);
  EXPECT_EQ(ids_of(receiver->requests[0]), (std::vector<std::string>{a, b}));
  EXPECT_EQ(sender->stats().delivered, 2u);
}

TEST_F(WebhookSenderTest, BatchesEventsWhileTheReceiverIsSlow) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t) { return slow_reply(30ms); };
  auto cfg = config();
  cfg.batch_max = 20;
  auto sender = make_sender(cfg);
  ASSERT_TRUE(sender);

  std::vector<std::string> ids;
  ids.push_back(enqueue("u0", 1, true));
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return receiver->requests.size() == 1; }));
  // 49 more while the first request is being answered slowly.
  for (int i = 1; i < 50; ++i) {
    ids.push_back(enqueue("u" + std::to_string(i % 7), static_cast<std::uint64_t>(i + 1), i % 2 == 0));
    sender->notify();
  }
  ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty(); }));

  std::vector<std::string> seen;
  std::vector<std::size_t> sizes;
  for (const auto& r : receiver->requests) {
    auto batch = ids_of(r);
    sizes.push_back(batch.size());
    EXPECT_LE(batch.size(), 20u);
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  EXPECT_LT(receiver->requests.size(), 50u);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 20, 20, 9}));
  EXPECT_EQ(seen, ids);  // every event once, in order
  EXPECT_EQ(sender->stats().delivered, 50u);
}

TEST_F(WebhookSenderTest, DeadLettersEventsOlderThanMaxAge) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t index) {
    return status_reply(index == 0 ? 500 : 200);
  };
  auto cfg = config();
  cfg.max_age = 1s;
  auto sender = make_sender(cfg);
  ASSERT_TRUE(sender);
  const auto old_created = unix_ms() - 10'000;
  const auto old1 = enqueue("alice", 1, true, old_created);
  const auto old2 = enqueue("alice", 2, false, old_created);
  const auto new1 = enqueue("alice", 3, true);
  const auto new2 = enqueue("bob", 1, true);
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty(); }));

  ASSERT_EQ(receiver->requests.size(), 2u);
  EXPECT_EQ(ids_of(receiver->requests[0]), (std::vector<std::string>{old1, old2, new1, new2}));
  EXPECT_EQ(ids_of(receiver->requests[1]), (std::vector<std::string>{new1, new2}));
  const auto dead = outbox_.dead(10);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].event.id, old2);  // newest first
  EXPECT_EQ(dead[1].event.id, old1);
  EXPECT_EQ(dead[0].event.attempts, 1u);
  EXPECT_NE(dead[0].reason.find("HTTP 500"), std::string::npos) << dead[0].reason;
  EXPECT_NE(dead[0].reason.find("max_age"), std::string::npos) << dead[0].reason;
  const auto stats = sender->stats();
  EXPECT_EQ(stats.dead_lettered, 2u);
  EXPECT_EQ(stats.delivered, 2u);
  EXPECT_EQ(stats.failed_attempts, 1u);
}

TEST_F(WebhookSenderTest, RetriesAfterARequestTimeout) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t index) {
    return index == 0 ? hang_reply() : status_reply(200);
  };
  auto cfg = config();
  cfg.request_timeout = 300ms;
  auto sender = make_sender(cfg);
  ASSERT_TRUE(sender);
  const auto a = enqueue("alice", 1, true);
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty() && receiver->client_closed == 1; }, 5s));
  ASSERT_EQ(receiver->requests.size(), 2u);
  EXPECT_EQ(ids_of(receiver->requests[0]), std::vector<std::string>{a});
  EXPECT_EQ(ids_of(receiver->requests[1]), std::vector<std::string>{a});
  EXPECT_EQ(sender->stats().failed_attempts, 1u);
  EXPECT_EQ(sender->stats().delivered, 1u);
}

TEST_F(WebhookSenderTest, StopAbortsTheRequestInFlight) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t) { return hang_reply(); };
  auto cfg = config();
  cfg.request_timeout = 30s;
  auto sender = make_sender(cfg);
  ASSERT_TRUE(sender);
  enqueue("alice", 1, true);
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return receiver->requests.size() == 1; }));
  const auto t0 = std::chrono::steady_clock::now();
  sender->stop();
  ASSERT_TRUE(run_until(ioc_, [&] { return receiver->client_closed == 1; }, 2s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  sender->notify();  // no-op after stop
  ioc_.poll();
  EXPECT_EQ(receiver->requests.size(), 1u);
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_.pending(1).at(0).attempts, 0u);  // an abort is not an attempt
  const auto stats = sender->stats();
  EXPECT_EQ(stats.delivered + stats.failed_attempts + stats.dead_lettered, 0u);
}

class WebhookSenderTlsTest : public WebhookSenderTest {
 protected:
  static void SetUpTestSuite() { cert_ = new SelfSignedCert(); }
  static void TearDownTestSuite() {
    delete cert_;
    cert_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(cert_->error().empty()) << cert_->error(); }
  static SelfSignedCert* cert_;
};
SelfSignedCert* WebhookSenderTlsTest::cert_ = nullptr;

TEST_F(WebhookSenderTlsTest, DeliversOverHttpsWithTheCaFile) {
  auto receiver = start_receiver(cert_->server_context());
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto cfg = config("https", host);
    cfg.ca_file = cert_->cert_file();
    auto sender = make_sender(cfg);
    ASSERT_TRUE(sender);
    const auto id = enqueue(host, 1, true);
    sender->notify();
    ASSERT_TRUE(run_until(ioc_, [&] { return outbox_.empty(); })) << host;
    ASSERT_FALSE(receiver->requests.empty());
    EXPECT_EQ(ids_of(receiver->requests.back()), std::vector<std::string>{id});
    EXPECT_EQ(sender->stats().failed_attempts, 0u) << host;
    sender->stop();
  }
  EXPECT_EQ(receiver->requests.size(), 2u);
  EXPECT_EQ(receiver->handshake_failures, 0u);
}

TEST_F(WebhookSenderTlsTest, RefusesAnUntrustedCertificate) {
  LogCapture log;
  auto receiver = start_receiver(cert_->server_context());
  auto sender = make_sender(config("https", "localhost"));  // no ca_file
  ASSERT_TRUE(sender);
  enqueue("alice", 1, true);
  sender->notify();
  ASSERT_TRUE(run_until(ioc_, [&] { return sender->stats().failed_attempts >= 2; }));

  EXPECT_TRUE(receiver->requests.empty());
  EXPECT_GE(receiver->handshake_failures, 1u);
  ASSERT_EQ(outbox_.size(), 1u);
  EXPECT_GE(outbox_.pending(1).at(0).attempts, 2u);
  EXPECT_EQ(sender->stats().delivered, 0u);
  const auto logged = log.text();
  EXPECT_NE(logged.find("certificate verify failed"), std::string::npos) << logged;
  EXPECT_NE(logged.find("tls handshake"), std::string::npos) << logged;
}

TEST_F(WebhookSenderTest, EmptyUrlMeansOff) {
  auto sender = make_sender(WebhookConfig{});
  ASSERT_TRUE(sender);
  EXPECT_FALSE(sender->enabled());
  enqueue("alice", 1, true);
  sender->notify();
  ioc_.restart();
  ioc_.run_for(50ms);
  EXPECT_EQ(outbox_.size(), 1u);
  EXPECT_EQ(outbox_.pending(1).at(0).attempts, 0u);
}

TEST_F(WebhookSenderTest, RejectsBadConfiguration) {
  auto refused = [&](WebhookConfig cfg, const std::string& needle) {
    std::string error;
    auto s = WebhookSender::create(ioc_.get_executor(), std::move(cfg), outbox_, error);
    EXPECT_FALSE(s);
    EXPECT_NE(error.find(needle), std::string::npos) << error;
  };
  WebhookConfig ok;
  ok.url = "https://example.com/hook";
  ok.secret = "s";
  auto cfg = ok;
  cfg.url = "ftp://example.com/";
  refused(cfg, "scheme");
  cfg = ok;
  cfg.url = "not a url";
  refused(cfg, "invalid URL");
  cfg = ok;
  cfg.secret.clear();
  refused(cfg, "secret");
  cfg = ok;
  cfg.batch_max = 0;
  refused(cfg, "batch_max");
  cfg = ok;
  cfg.backoff_max = 1ms;
  refused(cfg, "backoff");
  cfg = ok;
  cfg.ca_file = "/nonexistent/ca.pem";
  refused(cfg, "CA file");
}

}  // namespace
}  // namespace rollcall::hooks
