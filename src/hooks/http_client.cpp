#include "hooks/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <new>

namespace rollcall::hooks {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kHeaderLimit = 16 * 1024;

struct Result {
  beast::error_code ec;
  int status = 0;
  std::string body;  // the response body, or the failed step on error
};

Result failure(beast::error_code ec, std::string step) { return Result{ec, 0, std::move(step)}; }

// The state of one request. The coroutine below owns it; a cancellation slot
// only holds a weak reference.
struct Call {
  Call(const asio::any_io_executor& ex, std::shared_ptr<ssl::context> tls_ctx, const Url& u,
       Timeouts t)
      : resolver(ex), resolve_timer(ex), url(u), timeouts(t), tls(std::move(tls_ctx)) {
    if (url.tls && tls) {
      tls_stream.emplace(ex, *tls);
    } else {
      plain_stream.emplace(ex);
    }
  }

  beast::tcp_stream& lowest() {
    return tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain_stream;
  }

  void cancel() {
    cancelled = true;
    resolver.cancel();
    resolve_timer.cancel();
    lowest().close();
  }

  tcp::resolver resolver;
  asio::steady_timer resolve_timer;
  Url url;
  Timeouts timeouts;
  std::shared_ptr<ssl::context> tls;  // keeps the context alive as long as the stream
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  std::optional<beast::tcp_stream> plain_stream;
  bool cancelled = false;
  bool resolve_timed_out = false;
};

struct CancelHandler {
  std::weak_ptr<Call> call;
  void operator()(asio::cancellation_type type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto c = call.lock()) c->cancel();
  }
};

beast::error_code ssl_error() {
  return beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
}

template <class Stream>
asio::awaitable<Result> exchange(Stream& stream, std::shared_ptr<Call> call, HttpHeaders headers,
                                 std::string body) {
  http::request<http::string_body> req{http::verb::post, call->url.target, 11};
  req.set(http::field::host, call->url.host_header);
  for (auto& [name, value] : headers) req.set(name, value);
  req.set(http::field::connection, "close");
  req.body() = std::move(body);
  req.prepare_payload();

  auto [wec, written] = co_await http::async_write(stream, req, tuple_awaitable);
  (void)written;
  if (call->cancelled) co_return failure(asio::error::operation_aborted, "write");
  if (wec) co_return failure(wec, "write");

  beast::flat_buffer buffer;
  // Informational responses (e.g. 103 Early Hints) precede the real one;
  // the deadline bounds this loop.
  for (;;) {
    http::response_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kMaxResponseBody);
    auto [rec, read] = co_await http::async_read(stream, buffer, parser, tuple_awaitable);
    (void)read;
    if (call->cancelled) co_return failure(asio::error::operation_aborted, "read");
    if (rec == ssl::error::stream_truncated && parser.is_header_done() && parser.need_eof()) {
      // A close-delimited body ended without a TLS close_notify: take what came.
      rec = {};
      parser.put_eof(rec);
    }
    if (rec && !(rec == http::error::body_limit && parser.is_header_done())) {
      co_return failure(rec, "read");
    }
    // Complete, or a body cut at kMaxResponseBody (the socket is closed when
    // the call ends, which discards the rest).
    auto& res = parser.get();
    const int status = static_cast<int>(res.result_int());
    if (!rec && status >= 100 && status < 200 && status != 101) continue;
    co_return Result{{}, status, std::move(res.body())};
  }
}

asio::awaitable<Result> run(std::shared_ptr<Call> call, HttpHeaders headers, std::string body) {
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = now + call->timeouts.total;
  const auto connect_deadline = std::min(deadline, now + call->timeouts.connect);

  if (call->cancelled) co_return failure(asio::error::operation_aborted, "start");
  if (call->url.tls && !call->tls) {
    co_return failure(asio::error::invalid_argument, "https without a TLS context");
  }

  // Resolve, bounded by the connect deadline (the resolver has no timeout).
  beast::error_code aec;
  asio::ip::make_address(call->url.host, aec);
  const bool host_is_ip = !aec;
  auto flags = tcp::resolver::numeric_service;
  if (host_is_ip) flags |= tcp::resolver::numeric_host;
  call->resolve_timer.expires_at(connect_deadline);
  call->resolve_timer.async_wait([weak = std::weak_ptr<Call>(call)](beast::error_code ec) {
    if (ec) return;
    if (auto c = weak.lock()) {
      c->resolve_timed_out = true;
      c->resolver.cancel();
    }
  });
  auto [rec, endpoints] = co_await call->resolver.async_resolve(
      call->url.host, std::to_string(call->url.port), flags, tuple_awaitable);
  call->resolve_timer.cancel();
  if (call->cancelled) co_return failure(asio::error::operation_aborted, "resolve");
  if (call->resolve_timed_out) co_return failure(beast::error::timeout, "resolve");
  if (rec) co_return failure(rec, "resolve " + call->url.host);

  auto& tcp_stream = call->lowest();
  tcp_stream.expires_at(connect_deadline);
  auto [cec, endpoint] = co_await tcp_stream.async_connect(endpoints, tuple_awaitable);
  (void)endpoint;
  if (call->cancelled) co_return failure(asio::error::operation_aborted, "connect");
  if (cec) co_return failure(cec, "connect");
  tcp_stream.expires_at(deadline);

  if (!call->url.tls) {
    co_return co_await exchange(*call->plain_stream, call, std::move(headers), std::move(body));
  }

  auto& stream = *call->tls_stream;
  // SNI only for names: RFC 6066 does not allow IP literals there.
  if (!host_is_ip && !SSL_set_tlsext_host_name(stream.native_handle(), call->url.host.c_str())) {
    co_return failure(ssl_error(), "tls setup");
  }
  beast::error_code vec;
  stream.set_verify_mode(ssl::verify_peer, vec);
  if (!vec) stream.set_verify_callback(ssl::host_name_verification(call->url.host), vec);
  if (vec) co_return failure(vec, "tls setup");
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, tuple_awaitable);
  if (call->cancelled) co_return failure(asio::error::operation_aborted, "tls handshake");
  if (hec) co_return failure(hec, "tls handshake");
  // No TLS shutdown: with Connection: close the response ends the exchange,
  // and the socket is closed when the call is destroyed.
  co_return co_await exchange(stream, call, std::move(headers), std::move(body));
}

}  // namespace

std::optional<Url> parse_url(std::string_view text, std::string& error) {
  auto parsed = boost::urls::parse_uri(text);  // a fragment is allowed and ignored
  if (!parsed) {
    error = "invalid URL: " + parsed.error().message();
    return std::nullopt;
  }
  const auto& u = *parsed;
  Url out;
  if (u.scheme_id() == boost::urls::scheme::https) {
    out.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    error = "URL scheme must be http or https";
    return std::nullopt;
  }
  if (u.has_userinfo()) {
    error = "URL user info (user:password@) is not supported";
    return std::nullopt;
  }
  const auto type = u.host_type();
  if (type != boost::urls::host_type::name && type != boost::urls::host_type::ipv4 &&
      type != boost::urls::host_type::ipv6) {
    error = "URL has no usable host";
    return std::nullopt;
  }
  out.host = u.host_address();
  if (out.host.empty()) {
    error = "URL has an empty host";
    return std::nullopt;
  }
  out.port = out.tls ? 443 : 80;
  out.host_header = std::string(u.encoded_host());
  if (u.has_port() && !u.port().empty()) {
    const auto digits = u.port();
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (ec != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
      error = "URL has a bad port";
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(port);
    out.host_header += ':';
    out.host_header += std::string(digits);
  }
  out.target = std::string(u.encoded_path());
  if (out.target.empty()) out.target = "/";
  if (u.has_query()) {
    out.target += '?';
    out.target += std::string(u.encoded_query());
  }
  return out;
}

std::shared_ptr<ssl::context> make_tls_context(const std::string& ca_file, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  beast::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (!ec) ctx->set_verify_mode(ssl::verify_peer, ec);
  if (!ec) ctx->set_default_verify_paths(ec);
  if (ec) {
    error = "TLS setup: " + ec.message();
    return nullptr;
  }
  if (!ca_file.empty()) {
    ctx->load_verify_file(ca_file, ec);
    if (ec) {
      error = "cannot load CA file '" + ca_file + "': " + ec.message();
      return nullptr;
    }
  }
  return ctx;
}

void http_post(asio::any_io_executor ex, std::shared_ptr<ssl::context> tls, const Url& url,
               HttpHeaders headers, std::string body, Timeouts timeouts, HttpCallback cb) {
  http_post(std::move(ex), std::move(tls), url, std::move(headers), std::move(body), timeouts,
            asio::cancellation_slot(), std::move(cb));
}

void http_post(asio::any_io_executor ex, std::shared_ptr<ssl::context> tls, const Url& url,
               HttpHeaders headers, std::string body, Timeouts timeouts,
               asio::cancellation_slot slot, HttpCallback cb) {
  auto call = std::make_shared<Call>(ex, std::move(tls), url, timeouts);
  if (slot.is_connected()) slot.emplace<CancelHandler>(CancelHandler{call});
  // co_spawn posts the start, so the callback never runs inside http_post.
  asio::co_spawn(
      ex, run(call, std::move(headers), std::move(body)),
      [slot, cb = std::move(cb)](std::exception_ptr ep, Result result) mutable {
        if (slot.is_connected()) slot.clear();
        if (ep) {
          // Only a bug or memory exhaustion gets here; report it as an error.
          std::error_code ec = std::make_error_code(std::errc::io_error);
          try {
            std::rethrow_exception(ep);
          } catch (const std::bad_alloc&) {
            ec = std::make_error_code(std::errc::not_enough_memory);
          } catch (const std::exception& e) {
            spdlog::error("http_post: unexpected exception: {}", e.what());
          } catch (...) {
            spdlog::error("http_post: unexpected exception");
          }
          cb(ec, 0, "internal error");
          return;
        }
        cb(result.ec, result.status, std::move(result.body));
      });
}

}  // namespace rollcall::hooks
