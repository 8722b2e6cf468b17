// A small asynchronous HTTP/1.1 POST client (Beast) for webhooks: one request
// per connection, http:// and https:// with certificate and host name
// verification, a connect timeout and a total deadline. Errors are reported
// as error codes through the callback; nothing on the I/O path throws.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace rollcall::hooks {

struct Url {
  bool tls = false;          // https
  std::string host;          // for DNS, SNI and certificate checks (IPv6 without brackets)
  std::uint16_t port = 0;    // explicit or the scheme's default
  std::string host_header;   // Host: value ("[::1]:8443", "example.com")
  std::string target;        // path and query, at least "/"
};

// Accepts absolute http:// and https:// URLs (a fragment is ignored).
// Returns nullopt and sets `error` otherwise, without echoing the URL (it
// may carry a token); user info in the URL is refused.
std::optional<Url> parse_url(std::string_view text, std::string& error);

struct Timeouts {
  std::chrono::milliseconds connect{5000};  // resolve + TCP connect
  std::chrono::milliseconds total{10000};   // the whole exchange, from the call
};

// Client TLS context: peer verification on, the system's default CA paths
// plus `ca_file` when not empty. Returns nullptr and sets `error` on failure.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& ca_file,
                                                            std::string& error);

// Largest response body kept; a longer body is cut there (the status is
// still reported) and the connection is closed.
inline constexpr std::size_t kMaxResponseBody = 64 * 1024;

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
using HttpCallback = std::function<void(std::error_code, int status, std::string body)>;

// POSTs `body` to `url` with `headers` (Host, Content-Length and
// Connection: close are added). `tls` is needed for https URLs (nullptr ->
// error). The callback runs exactly once, on `ex`, never inside this call:
// - success: an empty error code, the HTTP status (2xx or not) and the body
//   (at most kMaxResponseBody bytes);
// - failure: the error (resolve, connect, TLS, beast::error::timeout when a
//   deadline passed, HTTP parse errors), status 0, and as `body` the step
//   that failed ("connect", "tls handshake", "read", ...) for log messages.
void http_post(boost::asio::any_io_executor ex, std::shared_ptr<boost::asio::ssl::context> tls,
               const Url& url, HttpHeaders headers, std::string body, Timeouts timeouts,
               HttpCallback cb);

// Same, cancellable: emitting the slot's signal (on `ex`'s thread) aborts the
// request, and the callback gets asio::error::operation_aborted. The signal
// must outlive the request (the callback clears the slot before it runs).
void http_post(boost::asio::any_io_executor ex, std::shared_ptr<boost::asio::ssl::context> tls,
               const Url& url, HttpHeaders headers, std::string body, Timeouts timeouts,
               boost::asio::cancellation_slot slot, HttpCallback cb);

}  // namespace rollcall::hooks
