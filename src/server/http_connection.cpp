// One HTTP connection on Beast: the first read, then one coroutine per
// connection with the request limits, keep-alive, the idle timeout, the long
// poll, and the Engine.IO transport rules' decisions carried out.
#include "server/http_connection.hpp"

#include "engineio/loop.hpp"
#include "engineio/packet.hpp"
#include "engineio/session.hpp"
#include "engineio/transport.hpp"
#include "server/http_request.hpp"
#include "server/ws_upgrade.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <array>
#include <cerrno>
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
using request::parse_target;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
// After a refusal, what is left of the request is read and dropped for at
// most this long (see refuse()).
constexpr auto kLingerTime = std::chrono::seconds(1);

using Parser = http::request_parser<http::string_body>;
using Response = http::response<http::string_body>;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

void serve(HttpContext& ctx, Loop& loop, UniqueFd fd, std::string peer, beast::flat_buffer buffer,
           std::unique_ptr<Parser> pending);

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

// Hands the connection's socket over to a WebSocket (ws_upgrade's take_fd).
UniqueFd hand_over(beast::tcp_stream& stream) {
  stream.expires_never();
  return take_fd(stream.release_socket());
}

std::string_view leftover(beast::flat_buffer& buffer) {
  auto d = buffer.data();
  return std::string_view(static_cast<const char*>(d.data()), d.size());
}

// A long-poll GET waiting for its session's answer.
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
  for (const auto& h : reply.preflight) res.set(h.name, h.value);
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
    loop.count_out(n);
    co_return !ec && res.keep_alive();
  };
  // One reference to capture, so that the MakeHandshake does not allocate.
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
  // The long poll: wait for the session to answer the GET.
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
asio::awaitable<boost::system::error_code> read_header(Loop& loop, beast::tcp_stream& stream,
                                                       beast::flat_buffer& buffer, Parser& parser) {
  std::size_t consumed = 0;
  while (!parser.is_header_done()) {
    // Not eager: a read stops consuming at the end of the header.
    auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, tuple_awaitable);
    loop.count_in(n);
    if (ec) co_return ec;
    consumed += n;
    if (consumed > request::kHeaderLimit) co_return http::error::header_limit;
  }
  co_return boost::system::error_code{};
}

// The requests of one connection, one after the other (keep-alive), until
// it closes, is refused, times out, moves to another loop or becomes a
// WebSocket.
asio::awaitable<void> connection(HttpContext& ctx, Loop& loop, tcp::socket socket,
                                 beast::flat_buffer buffer, std::unique_ptr<Parser> pending,
                                 std::string peer) {
  beast::tcp_stream stream(std::move(socket));
  for (;;) {
    std::unique_ptr<Parser> parser = std::move(pending);
    if (!parser) {
      parser = new_parser();
      stream.expires_after(kIdleTimeout);
      auto ec = co_await read_header(loop, stream, buffer, *parser);
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
    const engineio::Engine* engine = query ? engineio::find_engine(ctx.engines, query->path) : nullptr;

    // Requests for an existing session run on the loop that owns it: move
    // the connection there (socket, buffered bytes and parsed header).
    if (engine && !query->sid.empty()) {
      auto tag = engineio::id_tag(query->sid);
      if (tag && *tag < ctx.loops.size() && *tag != loop.index) {
        Loop& owner = *ctx.loops[*tag];
        stream.expires_never();
        boost::system::error_code ec;
        UniqueFd fd(stream.release_socket().release(ec));
        if (ec) co_return;
        asio::post(owner.ioc, [self = ctx.shared_from_this(), &owner, fd = std::move(fd),
                               peer = std::move(peer), buf = std::move(buffer),
                               p = std::move(parser)]() mutable {
          serve(*self, owner, std::move(fd), std::move(peer), std::move(buf), std::move(p));
        });
        co_return;
      }
    }

    // The body limit: Engine.IO's maxPayload, or the application routes'
    // own. A Content-Length above it is refused before reading the body; a
    // chunked body, once it grows past it.
    std::size_t limit = engine ? engine->options.max_payload : ctx.route_body_limit;
    bool too_big = parser->content_length() && *parser->content_length() > limit;
    if (!too_big && !parser->is_done()) {
      parser->body_limit(limit);
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read(stream, buffer, *parser, tuple_awaitable);
      loop.count_in(n);
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
      Response res = not_found_response(req.version());
      if (auto call = find_route(ctx.routes, req, query)) {
        // The handler may answer later, from any thread: wait for it here,
        // the loop serves others meanwhile.
        auto ex = co_await asio::this_coro::executor;
        HttpResponse out = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(HttpResponse)>(
            [&call, ex](auto handler) {
              auto h = std::make_shared<decltype(handler)>(std::move(handler));
              call_route(*call, [ex](std::function<void()> f) { asio::post(ex, std::move(f)); },
                         [h](HttpResponse r) { (*h)(std::move(r)); });
            },
            asio::use_awaitable);
        res = to_response(std::move(out), req.version());
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_write(stream, res, tuple_awaitable);
      loop.count_out(n);
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

// The general path (Beast, one coroutine per connection). `buffer` holds
// bytes read already; `pending` a parser whose header is complete.
void serve(HttpContext& ctx, Loop& loop, UniqueFd fd, std::string peer, beast::flat_buffer buffer,
           std::unique_ptr<Parser> pending) {
  boost::system::error_code ec;
  tcp::socket socket(loop.ioc);
  socket.assign(ctx.protocol, fd.get(), ec);
  if (ec) {
    spdlog::warn("http: cannot serve a connection from {}: {}", peer, ec.message());
    return;
  }
  fd.release();  // the socket owns it now
  asio::co_spawn(loop.ioc,
                 connection(ctx, loop, std::move(socket), std::move(buffer), std::move(pending), std::move(peer)),
                 asio::detached);
}

}  // namespace

// The first read of a new connection: for the fast path, and else handed
// to the general path (bytes and parsed header).
void serve_http(HttpContext& ctx, Loop& loop, UniqueFd fd, std::string peer) {
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
      if (parser->is_done() && open_websocket_fast(ctx.engines, loop, parser->get(), fd, peer, bytes)) return;
    }
  }
  beast::flat_buffer buffer;
  if (!bytes.empty()) {
    buffer.commit(asio::buffer_copy(buffer.prepare(bytes.size()), asio::buffer(bytes.data(), bytes.size())));
  }
  serve(ctx, loop, std::move(fd), std::move(peer), std::move(buffer), std::move(parser));
}

}  // namespace rollcall
