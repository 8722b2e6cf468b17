#include "hooks/http_client.hpp"

#include "hooks/test_support.hpp"

#include <boost/asio/ssl/context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <utility>
#include <vector>
#include <string>

namespace rollcall::hooks {
namespace {

using namespace std::chrono_literals;
using testkit::Received;
using testkit::Receiver;
using testkit::hang_reply;
using testkit::Reply;
using testkit::status_reply;
using testkit::run_until;
namespace asio = boost::asio;

TEST(HooksParseUrl, Accepts) {
  std::string error;
  auto u = parse_url("http://example.com", error);
  ASSERT_TRUE(u) << error;
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->host_header, "example.com");
  EXPECT_EQ(u->target, "/");

  u = parse_url("https://hooks.example.com:8443/a/b%20c?x=1&y=2#frag", error);
  ASSERT_TRUE(u) << error;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->host_header, "hooks.example.com:8443");
  EXPECT_EQ(u->target, "/a/b%20c?x=1&y=2");

  u = parse_url("HTTPS://[::1]/hook", error);
  ASSERT_TRUE(u) << error;
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->host_header, "[::1]");

  u = parse_url("http://127.0.0.1:9000", error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->host_header, "127.0.0.1:9000");
}

TEST(HooksParseUrl, Refuses) {
  for (const char* bad : {"", "example.com/hook", "ftp://example.com/", "http://user:pw@h/",
                          "http://h:99999/", "http://h:0/", "http:///path", "http://exa mple.com/"}) {
    std::string error;
    EXPECT_FALSE(parse_url(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(HooksTlsContext, BadCaFile) {
  std::string error;
  EXPECT_FALSE(make_tls_context("/nonexistent/ca.pem", error));
  EXPECT_NE(error.find("/nonexistent/ca.pem"), std::string::npos) << error;
  error.clear();
  EXPECT_TRUE(make_tls_context("", error)) << error;
}

struct Outcome {
  bool done = false;
  std::error_code ec;
  int status = 0;
  std::string body;
};

class HooksHttpClientTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& r : receivers_) r->close();
    ioc_.restart();
    ioc_.run_for(2s);
  }

  std::shared_ptr<Receiver> start_receiver(std::shared_ptr<asio::ssl::context> tls = nullptr) {
    auto r = std::make_shared<Receiver>(ioc_, std::move(tls));
    port_ = r->listen();
    receivers_.push_back(r);
    return r;
  }

  Url url(const std::string& text) {
    std::string error;
    auto u = parse_url(text, error);
    EXPECT_TRUE(u) << error;
    return u.value_or(Url{});
  }

  void post(const std::string& target, Outcome& out, std::shared_ptr<asio::ssl::context> tls = nullptr,
            Timeouts timeouts = {1000ms, 2000ms}, asio::cancellation_slot slot = {}) {
    http_post(ioc_.get_executor(), std::move(tls), url(target), {{"X-Test", "1"}}, "hello", timeouts,
              slot, [&out](std::error_code ec, int status, std::string body) {
                EXPECT_FALSE(out.done) << "callback ran twice";
                out = Outcome{true, ec, status, std::move(body)};
              });
    EXPECT_FALSE(out.done) << "callback ran inside http_post";
  }

  asio::io_context ioc_;
  std::vector<std::shared_ptr<Receiver>> receivers_;
  std::uint16_t port_ = 0;
};

TEST_F(HooksHttpClientTest, ReturnsStatusAndBody) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t) { return status_reply(503, "busy"); };
  Outcome out;
  post("http://127.0.0.1:" + std::to_string(port_) + "/x?y=1", out);
  ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
  EXPECT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.status, 503);
  EXPECT_EQ(out.body, "busy");
  ASSERT_EQ(receiver->requests.size(), 1u);
  EXPECT_EQ(receiver->requests[0].target, "/x?y=1");
  EXPECT_EQ(receiver->requests[0].body, "hello");
}

TEST_F(HooksHttpClientTest, CutsLargeResponseBodies) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t) {
    return status_reply(200, std::string(1 << 20, 'x'));
  };
  Outcome out;
  post("http://127.0.0.1:" + std::to_string(port_) + "/", out);
  ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
  EXPECT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.status, 200);
  EXPECT_LE(out.body.size(), kMaxResponseBody);
}

TEST_F(HooksHttpClientTest, RawResponses) {
  auto receiver = start_receiver();
  const std::vector<std::pair<std::string, int>> cases = {
      // Informational responses before the final one are skipped.
      {"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 202 Accepted\r\n"
       "Content-Length: 2\r\n\r\nok",
       202},
      // A body delimited by the end of the connection.
      {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nok", 200},
      // Chunked.
      {"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nok\r\n0\r\n\r\n",
       500},
  };
  for (const auto& [raw, status] : cases) {
    receiver->policy = [raw = raw](const Received&, std::size_t) {
      Reply r;
      r.raw = raw;
      return r;
    };
    Outcome out;
    post("http://127.0.0.1:" + std::to_string(port_) + "/", out);
    ASSERT_TRUE(run_until(ioc_, [&] { return out.done; })) << raw;
    EXPECT_FALSE(out.ec) << out.body << ": " << out.ec.message();
    EXPECT_EQ(out.status, status) << raw;
    EXPECT_EQ(out.body, "ok") << raw;
  }
  // Garbage is an error, not a status.
  receiver->policy = [](const Received&, std::size_t) {
    Reply r;
    r.raw = "hello\r\n\r\n";
    return r;
  };
  Outcome bad;
  post("http://127.0.0.1:" + std::to_string(port_) + "/", bad);
  ASSERT_TRUE(run_until(ioc_, [&] { return bad.done; }));
  EXPECT_TRUE(bad.ec);
  EXPECT_EQ(bad.body, "read");
}

TEST_F(HooksHttpClientTest, ConnectionRefused) {
  {
    asio::ip::tcp::acceptor probe(ioc_, {asio::ip::make_address("127.0.0.1"), 0});
    port_ = probe.local_endpoint().port();
  }
  Outcome out;
  post("http://127.0.0.1:" + std::to_string(port_) + "/", out);
  ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
  EXPECT_TRUE(out.ec);
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.body, "connect");
}

TEST_F(HooksHttpClientTest, TotalDeadline) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t) { return hang_reply(); };
  Outcome out;
  const auto t0 = std::chrono::steady_clock::now();
  post("http://127.0.0.1:" + std::to_string(port_) + "/", out, nullptr, {1000ms, 200ms});
  ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(out.ec);
  EXPECT_EQ(out.body, "read");
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 1500ms);
}

TEST_F(HooksHttpClientTest, Cancel) {
  auto receiver = start_receiver();
  receiver->policy = [](const Received&, std::size_t) { return hang_reply(); };
  asio::cancellation_signal signal;
  Outcome out;
  post("http://127.0.0.1:" + std::to_string(port_) + "/", out, nullptr, {1000ms, 30000ms},
       signal.slot());
  ASSERT_TRUE(run_until(ioc_, [&] { return receiver->requests.size() == 1; }));
  signal.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }, 2s));
  EXPECT_TRUE(out.ec);
  EXPECT_EQ(out.status, 0);
}

TEST_F(HooksHttpClientTest, HttpsNeedsAContext) {
  Outcome out;
  post("https://127.0.0.1:1/", out);
  ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
  EXPECT_TRUE(out.ec);
}

TEST_F(HooksHttpClientTest, HttpsVerification) {
  testkit::SelfSignedCert cert;
  ASSERT_TRUE(cert.error().empty()) << cert.error();
  auto receiver = start_receiver(cert.server_context());
  const auto base = "https://localhost:" + std::to_string(port_) + "/";
  std::string error;

  auto trusted = make_tls_context(cert.cert_file(), error);
  ASSERT_TRUE(trusted) << error;
  Outcome ok;
  post(base, ok, trusted);
  ASSERT_TRUE(run_until(ioc_, [&] { return ok.done; }));
  EXPECT_FALSE(ok.ec) << ok.body << ": " << ok.ec.message();
  EXPECT_EQ(ok.status, 200);

  auto system_only = make_tls_context("", error);
  ASSERT_TRUE(system_only) << error;
  Outcome untrusted;
  post(base, untrusted, system_only);
  ASSERT_TRUE(run_until(ioc_, [&] { return untrusted.done; }));
  EXPECT_TRUE(untrusted.ec);
  EXPECT_EQ(untrusted.body, "tls handshake");
  EXPECT_NE(untrusted.ec.message().find("certificate verify failed"), std::string::npos)
      << untrusted.ec.message();

  EXPECT_EQ(receiver->requests.size(), 1u);
}

TEST_F(HooksHttpClientTest, HttpsHostNameVerification) {
  testkit::SelfSignedCert cert("DNS:localhost");  // no IP address in the certificate
  ASSERT_TRUE(cert.error().empty()) << cert.error();
  auto receiver = start_receiver(cert.server_context());
  std::string error;
  auto trusted = make_tls_context(cert.cert_file(), error);
  ASSERT_TRUE(trusted) << error;

  Outcome by_name;
  post("https://localhost:" + std::to_string(port_) + "/", by_name, trusted);
  ASSERT_TRUE(run_until(ioc_, [&] { return by_name.done; }));
  EXPECT_FALSE(by_name.ec) << by_name.body << ": " << by_name.ec.message();

  // Trusted certificate, but not for this host: refused.
  Outcome by_ip;
  post("https://127.0.0.1:" + std::to_string(port_) + "/", by_ip, trusted);
  ASSERT_TRUE(run_until(ioc_, [&] { return by_ip.done; }));
  EXPECT_TRUE(by_ip.ec);
  EXPECT_EQ(by_ip.body, "tls handshake");
  EXPECT_EQ(receiver->requests.size(), 1u);
}

}  // namespace
}  // namespace rollcall::hooks
