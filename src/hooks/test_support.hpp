// Test helpers for the webhook tests (not part of the library): a small
// HTTP/HTTPS receiver on 127.0.0.1 that runs on the test's io_context, a
// bounded run loop, and a self-signed certificate made with OpenSSL's API.
#pragma once

#include "run_until.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rollcall::hooks::testkit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

using rollcall::testing::run_until;  // tests/unit/run_until.hpp

struct Received {
  std::string method, target, host, content_type, user_agent, timestamp, signature, body;
};

struct Reply {
  int status = 200;
  std::chrono::milliseconds delay{0};
  bool hang = false;  // never answer; wait until the client goes away
  std::string body = "ok";
  std::string raw;  // when set: written as is instead of a response
};

inline Reply status_reply(int status, std::string body = "ok") {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}
inline Reply slow_reply(std::chrono::milliseconds delay) {
  Reply r;
  r.delay = delay;
  return r;
}
inline Reply hang_reply() {
  Reply r;
  r.hang = true;
  return r;
}

class Receiver : public std::enable_shared_from_this<Receiver> {
 public:
  using Policy = std::function<Reply(const Received&, std::size_t index)>;

  explicit Receiver(asio::io_context& ioc, std::shared_ptr<ssl::context> tls = nullptr)
      : ioc_(ioc), acceptor_(ioc), tls_(std::move(tls)) {}

  // Listens on 127.0.0.1:port (0: any free port) and returns the port.
  std::uint16_t listen(std::uint16_t port = 0) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen();
    asio::co_spawn(ioc_, accept_loop(shared_from_this()), asio::detached);
    return acceptor_.local_endpoint().port();
  }

  void close() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& weak : sockets_) {
      if (auto s = weak.lock()) s->close(ec);
    }
    sockets_.clear();
  }

  Policy policy;  // default: 200 "ok"
  std::vector<Received> requests;
  std::size_t handshake_failures = 0;
  std::string last_handshake_error;
  std::size_t client_closed = 0;  // hung requests whose client went away

 private:
  using Self = std::shared_ptr<Receiver>;

  static asio::awaitable<void> accept_loop(Self self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto shared = std::make_shared<tcp::socket>(std::move(socket));
      self->sockets_.push_back(shared);
      asio::co_spawn(self->ioc_, connection(self, shared), asio::detached);
    }
  }

  static asio::awaitable<void> connection(Self self, std::shared_ptr<tcp::socket> socket) {
    if (!self->tls_) {
      co_await serve(self, *socket);
      co_return;
    }
    ssl::stream<tcp::socket&> stream(*socket, *self->tls_);
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                asio::as_tuple(asio::use_awaitable));
    if (ec) {
      ++self->handshake_failures;
      self->last_handshake_error = ec.message();
      co_return;
    }
    co_await serve(self, stream);
  }

  template <class Stream>
  static asio::awaitable<void> serve(Self self, Stream& stream) {
    constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    auto [rec, n] = co_await http::async_read(stream, buffer, req, tuple);
    if (rec) co_return;
    Received r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.host = std::string(req[http::field::host]);
    r.content_type = std::string(req[http::field::content_type]);
    r.user_agent = std::string(req[http::field::user_agent]);
    r.timestamp = std::string(req["X-Rollcall-Timestamp"]);
    r.signature = std::string(req["X-Rollcall-Signature"]);
    r.body = req.body();
    const auto index = self->requests.size();
    self->requests.push_back(r);
    const Reply reply = self->policy ? self->policy(r, index) : Reply{};
    if (reply.hang) {
      char c;
      (void)co_await stream.async_read_some(asio::buffer(&c, 1), tuple);  // EOF or error
      ++self->client_closed;
      co_return;
    }
    if (reply.delay.count() > 0) {
      asio::steady_timer timer(self->ioc_, reply.delay);
      co_await timer.async_wait(tuple);
    }
    if (!reply.raw.empty()) {
      (void)co_await asio::async_write(stream, asio::buffer(reply.raw), tuple);
      co_return;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
    res.set(http::field::connection, "close");
    res.body() = reply.body;
    res.prepare_payload();
    co_await http::async_write(stream, res, tuple);
  }

  asio::io_context& ioc_;
  tcp::acceptor acceptor_;
  std::shared_ptr<ssl::context> tls_;
  std::vector<std::weak_ptr<tcp::socket>> sockets_;
};

// A self-signed certificate (by default for "localhost" and 127.0.0.1), as PEM
// into a fresh temporary directory (removed by the destructor).
class SelfSignedCert {
 public:
  explicit SelfSignedCert(std::string san = "DNS:localhost,IP:127.0.0.1") : san_(std::move(san)) {
    char tmpl[] = "/tmp/rollcall-hooks-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      error_ = "mkdtemp failed";
      return;
    }
    dir_ = tmpl;
    cert_file_ = dir_ + "/cert.pem";
    key_file_ = dir_ + "/key.pem";
    error_ = generate();
  }
  ~SelfSignedCert() {
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  SelfSignedCert(const SelfSignedCert&) = delete;
  SelfSignedCert& operator=(const SelfSignedCert&) = delete;

  const std::string& error() const { return error_; }  // empty when ready
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }

  std::shared_ptr<ssl::context> server_context() const {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain_file(cert_file_);
    ctx->use_private_key_file(key_file_, ssl::context::pem);
    return ctx;
  }

 private:
  std::string generate() {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    if (!key || !cert) return "key or certificate allocation failed";
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(cert.get(), name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
    const std::pair<int, const char*> exts[] = {
        {NID_basic_constraints, "critical,CA:TRUE"},
        {NID_subject_key_identifier, "hash"},
        {NID_subject_alt_name, san_.c_str()},
    };
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      if (!ext) return "X509V3_EXT_conf_nid failed";
      X509_add_ext(cert.get(), ext, -1);
      X509_EXTENSION_free(ext);
    }
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return "X509_sign failed";

    std::unique_ptr<BIO, decltype(&BIO_free)> cert_out(BIO_new_file(cert_file_.c_str(), "w"),
                                                       BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> key_out(BIO_new_file(key_file_.c_str(), "w"),
                                                      BIO_free);
    if (!cert_out || !key_out) return "cannot write PEM files";
    if (!PEM_write_bio_X509(cert_out.get(), cert.get()) ||
        !PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                  nullptr)) {
      return "PEM write failed";
    }
    return {};
  }

  std::string san_, dir_, cert_file_, key_file_, error_;
};

}  // namespace rollcall::hooks::testkit
