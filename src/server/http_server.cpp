#include "server/http_server.hpp"

#include "engineio/packet.hpp"
#include "engineio/session.hpp"
#include "engineio/loop.hpp"
#include "engineio/transport.hpp"
#include "server/http_request.hpp"
#include "server/routes.hpp"
#include "server/ws_upgrade.hpp"
#include "common/unique_fd.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <optional>

namespace rollcall {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using request::Query;
using request::Refusal;
using request::Request;
using request::is_websocket_upgrade;
using request::parse_target;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
// After a refusal, what is left of the request is read and dropped for at
// most this long (see refuse()).
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr int kAcceptBatch = 64;  // connections accepted per turn of loop 0
constexpr int kShedBatch = 1024;  // connections closed per turn when out of descriptors

using Parser = http::request_parser<http::string_body>;
using Response = http::response<http::string_body>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// A parser for one request. No body limit yet: which one applies
// (max_payload or max_http_body) is known once the header names the path,
// and Beast's default (1 MB) would otherwise refuse a larger Content-Length
// while still parsing the header, leaving nothing to answer with.
std::unique_ptr<Parser> new_parser() {
  auto parser = std::make_unique<Parser>();
  parser->header_limit(static_cast<std::uint32_t>(request::kHeaderLimit));
  parser->body_limit(boost::none);
  return parser;
}

// The client's IP address as Asio prints it (IPv4-mapped IPv6 stays as is).
std::string peer_address(const sockaddr_storage& addr, socklen_t len) {
  tcp::endpoint ep;
  if (len > ep.capacity()) return {};
  std::memcpy(ep.data(), &addr, len);
  ep.resize(len);
  return ep.address().to_string();
}

}  // namespace

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  State(std::vector<std::unique_ptr<Loop>>& l, std::vector<std::unique_ptr<engineio::Engine>>& e,
        Routes& r, std::size_t body_limit)
      : loops(l), engines(e), routes(r), route_body_limit(body_limit), acceptor(l.front()->ioc), backoff(l.front()->ioc) {}

  std::vector<std::unique_ptr<Loop>>& loops;
  std::vector<std::unique_ptr<engineio::Engine>>& engines;
  Routes& routes;
  // The largest request body of an application route.
  std::size_t route_body_limit;
  tcp::acceptor acceptor;
  tcp protocol = tcp::v4();  // of the listening socket, hence of every accepted one
  asio::steady_timer backoff;  // accept failed for want of descriptors or memory
  bool accept_starved = false;  // ... and has not succeeded since
  std::size_t shed = 0;         // connections closed unanswered meanwhile
  // Two descriptors held in reserve for when the process runs out: freed,
  // they let it log and accept-and-close the connections waiting (libuv's
  // trick, so clients fail fast and retry instead of hanging in the
  // backlog), then they are taken again.
  std::array<UniqueFd, 2> spare;
  std::atomic<std::uint16_t> port{0};
  std::size_t next_loop = 0;

  // Accepting runs on loop 0: wait for the listening socket, then accept a
  // batch of connections and hand them to the loops round-robin.
  void wait_accept();
  void accept_some();
  void out_of_descriptors(int err);
  void reserve_descriptors();
  // A new connection on its loop: the fast path for a plain WebSocket
  // handshake, else the general HTTP path.
  void accepted(Loop& loop, UniqueFd fd, std::string peer);
  void first_read(Loop& loop, UniqueFd fd, std::string peer);
  // The general HTTP path (Beast, one coroutine per connection). `buffer`
  // holds bytes read already; `pending` a parser whose header is complete.
  void serve(Loop& loop, UniqueFd fd, std::string peer, beast::flat_buffer buffer,
             std::unique_ptr<Parser> pending);
  asio::awaitable<void> connection(Loop& loop, tcp::socket socket, beast::flat_buffer buffer,
                                   std::unique_ptr<Parser> pending, std::string peer);
};

namespace {

// Hands the connection's socket over to a WebSocket (ws_upgrade's take_fd).
UniqueFd hand_over(beast::tcp_stream& stream) {
  stream.expires_never();
  return take_fd(stream.release_socket());
}

std::string_view leftover(beast::flat_buffer& buffer) {
  auto d = buffer.data();
  return std::string_view(static_cast<const char*>(d.data()), d.size());
}

struct PollWait {
  explicit PollWait(asio::any_io_executor ex) : timer(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  std::optional<std::pair<int, std::string>> result;
};

// An Engine.IO response, framed for `req`.
Response response(engineio::Reply reply, const Request& req) {
  Response res{static_cast<http::status>(reply.status), req.version()};
  res.set(http::field::content_type, reply.content_type);
  for (const auto& h : reply.headers) res.set(h.name, h.value);
  res.body() = std::move(reply.body);
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

// Carries out what Engine.IO's transport rules decide for a request to
// `engine`. Returns true to keep the connection open, false to close it.
// Sets `moved` when the socket was handed to a WebSocket connection.
asio::awaitable<bool> serve_engine(Loop& loop, const engineio::Engine& engine, beast::tcp_stream& stream,
                                   beast::flat_buffer& buffer, const Request& req, const Query& query,
                                   const std::string& peer, bool& moved) {
  auto send = [&](engineio::Reply reply) -> asio::awaitable<bool> {
    Response res = response(std::move(reply), req);
    stream.expires_after(kIdleTimeout);
    auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
    (void)n;
    co_return !ec && res.keep_alive();
  };
  struct {
    const Request& req;
    const Query& query;
    const std::string& peer;
  } source{req, query, peer};
  auto d = engineio::decide(loop, engine, request::transport_request(req, query),
                            [&source] { return make_handshake(source.req, source.query, source.peer); });
  using Kind = engineio::Decision::Kind;
  switch (d.kind) {
    case Kind::reply:
      co_return co_await send(std::move(d.reply));
    case Kind::refuse: {
      auto res = response(std::move(d.reply), req);
      co_await http::async_write(stream, res, tuple_awaitable);
      co_return false;
    }
    case Kind::open_websocket:
      moved = true;
      open_websocket(loop, engine, req, query, peer, hand_over(stream), d.key, leftover(buffer));
      co_return false;
    case Kind::upgrade:
      moved = true;
      upgrade_session(loop, engine, d.session, hand_over(stream), d.key, leftover(buffer));
      co_return false;
    case Kind::long_poll:
      break;
  }
  auto session = std::move(d.session);
  auto wait = std::make_shared<PollWait>(stream.get_executor());
  session->poll_get([wait](int status, std::string body) {
    wait->result.emplace(status, std::move(body));
    wait->timer.cancel();
  });
  while (!wait->result) {
    // Wait for the session to answer, and notice a client that goes away.
    auto& sock = stream.socket();
    auto which = co_await (wait->timer.async_wait(tuple_awaitable) ||
                           sock.async_wait(tcp::socket::wait_read, tuple_awaitable));
    if (wait->result) break;
    if (which.index() == 1) {
      auto [ec] = std::get<1>(which);
      char c;
      ssize_t r = ec ? 0 : ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (ec || r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        session->poll_aborted();
        co_return false;
      }
      // Pipelined bytes: keep waiting on the timer alone.
      co_await wait->timer.async_wait(tuple_awaitable);
    }
  }
  auto [status, body] = std::move(*wait->result);
  engineio::finish_poll(d.reply, status, std::move(body));
  co_return co_await send(std::move(d.reply));
}

Response refusal_response(const Refusal& r, unsigned version) {
  Response res{r.status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = R"({"error":")" + r.reason + R"("})";  // our own ASCII text, nothing to escape
  return res;
}

// Answers a refused request, then closes the connection. The rest of the
// request may still be on its way: it is read and dropped for a moment
// (a lingering close, as nginx does), because closing a socket with unread
// bytes resets the connection, and the reset can reach the client before it
// has read the answer.
asio::awaitable<void> refuse(beast::tcp_stream& stream, Response res) {
  res.keep_alive(false);
  res.prepare_payload();
  stream.expires_after(kIdleTimeout);
  auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
  (void)n;
  if (ec) co_return;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.expires_after(kLingerTime);
  std::array<char, 4096> sink;
  for (;;) {
    auto [rec, got] = co_await stream.async_read_some(asio::buffer(sink), tuple_awaitable);
    (void)got;
    if (rec) break;  // the client's end of file, a reset, or kLingerTime
  }
}

// Reads a request header with its size limit counted over every read.
// Beast's header_limit only bounds the bytes a single put() has not
// consumed yet, and fields are consumed line by line: a header arriving in
// several reads would pass it at any size (and its fields would pile up in
// memory until the idle timeout).
asio::awaitable<boost::system::error_code> read_header(beast::tcp_stream& stream,
                                                       beast::flat_buffer& buffer, Parser& parser) {
  std::size_t consumed = 0;
  while (!parser.is_header_done()) {
    // Not eager: a read stops consuming at the end of the header.
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, tuple_awaitable);
    if (ec) co_return ec;
    consumed += n;
    if (consumed > request::kHeaderLimit) co_return http::error::header_limit;
  }
  co_return boost::system::error_code{};
}

}  // namespace

asio::awaitable<void> HttpServer::State::connection(Loop& loop, tcp::socket socket,
                                                    beast::flat_buffer buffer,
                                                    std::unique_ptr<Parser> pending,
                                                    std::string peer) {
  beast::tcp_stream stream(std::move(socket));
  for (;;) {
    std::unique_ptr<Parser> parser = std::move(pending);
    if (!parser) {
      parser = new_parser();
      stream.expires_after(kIdleTimeout);
      auto ec = co_await read_header(stream, buffer, *parser);
      if (ec) {
        // A header too large or malformed is answered; a client that closed
        // or timed out is not.
        if (auto r = request::refusal(ec)) {
          spdlog::debug("http {}: {} {}", peer, static_cast<unsigned>(r->status), r->reason);
          co_await refuse(stream, refusal_response(*r, 11));
        }
        co_return;
      }
    }
    auto& head = parser->get();
    // What to log of the request (the target is bounded by the header limit).
    auto what = [&] {
      std::string_view method = head.method_string(), target = head.target();
      return fmt::format("{} {:.200}", method, target);
    };
    if (auto r = request::check_framing(head, parser->chunked())) {
      spdlog::debug("http {}: {} {}: {}", peer, static_cast<unsigned>(r->status), what(), r->reason);
      co_await refuse(stream, refusal_response(*r, head.version()));
      co_return;
    }
    auto query = parse_target(head.target());
    const engineio::Engine* engine = query ? engineio::find_engine(engines, query->path) : nullptr;

    // Requests for an existing session run on the loop that owns it: move
    // the connection there (socket, buffered bytes and parsed header).
    if (engine && !query->sid.empty()) {
      auto tag = engineio::id_tag(query->sid);
      if (tag && *tag < loops.size() && *tag != loop.index) {
        Loop& owner = *loops[*tag];
        stream.expires_never();
        boost::system::error_code ec;
        UniqueFd fd(stream.release_socket().release(ec));
        if (ec) co_return;
        asio::post(owner.ioc, [self = shared_from_this(), &owner, fd = std::move(fd),
                               peer = std::move(peer), buf = std::move(buffer),
                               p = std::move(parser)]() mutable {
          self->serve(owner, std::move(fd), std::move(peer), std::move(buf), std::move(p));
        });
        co_return;
      }
    }

    // The body limit: Engine.IO's maxPayload, or the application routes'
    // own. A Content-Length above it is refused before reading the body; a
    // chunked body, once it grows past it.
    std::size_t limit = engine ? engine->options.max_payload : route_body_limit;
    bool too_big = parser->content_length() && *parser->content_length() > limit;
    if (!too_big && !parser->is_done()) {
      parser->body_limit(limit);
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, *parser, tuple_awaitable);
      (void)n;
      if (ec == http::error::body_limit) {
        too_big = true;
      } else if (ec) {
        if (auto r = request::refusal(ec)) {  // a bad chunk; not a client gone
          spdlog::debug("http {}: {} {}: {}", peer, static_cast<unsigned>(r->status), what(), r->reason);
          co_await refuse(stream, refusal_response(*r, head.version()));
        }
        co_return;
      }
    }
    if (too_big) {
      Response res;
      std::string closed;
      if (engine) {
        // Node's answer; the session's data is lost, so close it too.
        bool closed_session = false;
        auto reply = engineio::payload_too_large(loop, query->sid, closed_session);
        res = Response{static_cast<http::status>(reply.status), head.version()};
        res.set(http::field::content_type, reply.content_type);
        res.body() = std::move(reply.body);
        if (closed_session) closed = " (session " + query->sid + " closed)";
      } else {
        res = refusal_response(
            Refusal{http::status::payload_too_large,
                    "payload too large (limit " + std::to_string(limit) + " bytes)"},
            head.version());
      }
      spdlog::debug("http {}: 413 {}: body above the limit of {} bytes{}", peer, what(), limit, closed);
      co_await refuse(stream, std::move(res));
      co_return;
    }
    Request req = parser->release();
    if (!engine) {
      Response res = serve_route(routes, req, query);
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
      (void)n;
      if (ec || !req.keep_alive()) co_return;
      continue;
    }
    bool moved = false;
    bool keep = co_await serve_engine(loop, *engine, stream, buffer, req, *query, peer, moved);
    if (moved || !keep) {
      if (!moved) {
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      }
      co_return;
    }
  }
}

void HttpServer::State::wait_accept() {
  acceptor.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->acceptor.is_open()) self->accept_some();
  });
}

void HttpServer::State::accept_some() {
  auto self = shared_from_this();
  for (int i = 0; i < kAcceptBatch; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return wait_accept();
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        out_of_descriptors(err);
        return;
      }
      if (err == EBADF || err == EINVAL || err == ENOTSOCK || err == EFAULT) {
        if (acceptor.is_open()) spdlog::error("accept failed: {}; not accepting any more", std::strerror(err));
        return;
      }
      continue;  // that connection failed before it was accepted (ECONNABORTED, ...)
    }
    if (accept_starved) {
      spdlog::warn("accepting connections again ({} closed unanswered meanwhile)", shed);
      accept_starved = false;
      shed = 0;
    }
    UniqueFd conn(fd);
    std::string peer = peer_address(addr, len);
    Loop& target = *loops[next_loop];
    next_loop = (next_loop + 1) % loops.size();
    if (&target == loops.front().get()) {
      accepted(target, std::move(conn), std::move(peer));
    } else {
      asio::post(target.ioc, [self, &target, conn = std::move(conn), peer = std::move(peer)]() mutable {
        self->accepted(target, std::move(conn), std::move(peer));
      });
    }
  }
  // More may be waiting; the listening socket is edge-triggered in Asio's
  // reactor, so carry on after the work queued meanwhile instead of waiting.
  asio::post(acceptor.get_executor(), [self] {
    if (self->acceptor.is_open()) self->accept_some();
  });
}

void HttpServer::State::out_of_descriptors(int err) {
  for (auto& fd : spare) fd.reset();
  if (!accept_starved) {  // once per episode, not every 100 ms
    spdlog::warn("accept failed: {}; closing new connections at once, retrying every 100 ms",
                 std::strerror(err));
    accept_starved = true;
  }
  if (err == EMFILE || err == ENFILE) {
    for (int i = 0; i < kShedBatch; ++i) {
      int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) break;  // EAGAIN: the backlog is empty (or still no descriptor)
      ::close(fd);
      ++shed;
    }
  }
  reserve_descriptors();
  backoff.expires_after(std::chrono::milliseconds(100));
  backoff.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec && self->acceptor.is_open()) self->accept_some();
  });
}

void HttpServer::State::reserve_descriptors() {
  for (auto& fd : spare) {
    if (!fd) fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  }
}

void HttpServer::State::accepted(Loop& loop, UniqueFd fd, std::string peer) {
  if (loop.stopping) return;  // accepted just before the shutdown: closed unanswered
  // A bug must cost this connection only, not the acceptor (which runs
  // this inline for loop 0).
  try {
    first_read(loop, std::move(fd), std::move(peer));
  } catch (const std::exception& e) {
    spdlog::error("http: new connection dropped: {}", e.what());
  }
}

void HttpServer::State::first_read(Loop& loop, UniqueFd fd, std::string peer) {
  // TCP_DEFER_ACCEPT: the request is usually there already.
  auto& rb = loop.read_buffer;
  ssize_t n = ::recv(fd.get(), rb.data(), rb.size(), 0);
  if (n == 0) return;  // closed before sending a request
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;  // reset
    n = 0;
  }
  std::string_view bytes(rb.data(), static_cast<std::size_t>(n));
  std::unique_ptr<Parser> parser;
  if (!bytes.empty()) {
    parser = new_parser();
    boost::system::error_code ec;
    std::size_t used = parser->put(asio::buffer(bytes.data(), bytes.size()), ec);
    if (ec || !parser->is_header_done()) {
      // Incomplete or malformed: the general path reads on (or fails the
      // same way and answers), starting again from the first byte.
      parser.reset();
    } else {
      bytes.remove_prefix(used);
      if (parser->is_done() && open_websocket_fast(engines, loop, parser->get(), fd, peer, bytes)) return;
    }
  }
  beast::flat_buffer buffer;
  if (!bytes.empty()) {
    buffer.commit(asio::buffer_copy(buffer.prepare(bytes.size()), asio::buffer(bytes.data(), bytes.size())));
  }
  serve(loop, std::move(fd), std::move(peer), std::move(buffer), std::move(parser));
}

void HttpServer::State::serve(Loop& loop, UniqueFd fd, std::string peer, beast::flat_buffer buffer,
                              std::unique_ptr<Parser> pending) {
  boost::system::error_code ec;
  tcp::socket socket(loop.ioc);
  socket.assign(protocol, fd.get(), ec);
  if (ec) {
    spdlog::warn("http: cannot serve a connection from {}: {}", peer, ec.message());
    return;
  }
  fd.release();  // the socket owns it now
  asio::co_spawn(loop.ioc,
                 connection(loop, std::move(socket), std::move(buffer), std::move(pending), std::move(peer)),
                 asio::detached);
}

HttpServer::HttpServer(std::vector<std::unique_ptr<Loop>>& loops,
                       std::vector<std::unique_ptr<engineio::Engine>>& engines, Routes& routes,
                       std::size_t route_body_limit)
    : state_(std::make_shared<State>(loops, engines, routes, route_body_limit)) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::system_error(ec, "bad listen address '" + host + "'");
  tcp::endpoint ep(address, port);
  auto& acc = state_->acceptor;
  acc.open(ep.protocol());
  acc.set_option(asio::socket_base::reuse_address(true));
  acc.bind(ep, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(port));
  // Wake the acceptor only once the client's first bytes (its HTTP request)
  // are there: accepting and reading the request then share one wake-up.
  // Every Engine.IO client speaks first; a connection that sends nothing is
  // still accepted after a few seconds (and then times out as before).
  acc.set_option(asio::detail::socket_option::integer<IPPROTO_TCP, TCP_DEFER_ACCEPT>(3), ec);
  if (ec) spdlog::debug("TCP_DEFER_ACCEPT: {}", ec.message());
  // Accepted sockets inherit it: no setsockopt per connection.
  acc.set_option(tcp::no_delay(true), ec);
  if (ec) spdlog::debug("TCP_NODELAY on the listening socket: {}", ec.message());
  acc.non_blocking(true);  // accept4 in a loop until EAGAIN
  acc.listen(asio::socket_base::max_listen_connections);
  state_->port = acc.local_endpoint().port();
  state_->protocol = ep.protocol();
  state_->reserve_descriptors();
  state_->wait_accept();
}

std::uint16_t HttpServer::port() const noexcept { return state_->port; }

void HttpServer::stop_accepting() {
  asio::post(state_->acceptor.get_executor(), [s = state_] {
    boost::system::error_code ec;
    s->acceptor.close(ec);
    s->backoff.cancel();
  });
}

}  // namespace rollcall
